/**
 * Go 1.19's `sort.Slice` (sort/slice.go, sort/zsortfunc.go: pdqsort_func and its helpers),
 * ported step for step. It is not stable, and promtool sorts with a `<= 0` comparison, so the
 * order it leaves equal elements in shows in its failure reports: only an exact port of every
 * comparison and swap prints them as promtool does.
 */

type Less = (i: number, j: number) => boolean
type Swap = (i: number, j: number) => void

const UNKNOWN_HINT = 0
const INCREASING_HINT = 1
const DECREASING_HINT = 2

/** Go's `bits.Len(uint(x))`: the number of bits needed to represent x. */
function bitsLen(x: number): number {
  return x === 0 ? 0 : Math.floor(Math.log2(x)) + 1
}

/**
 * sort.Slice(x, less) of Go 1.19: pdqsort_func over the whole slice, limit bits.Len(length).
 * `less` receives the elements, as Go's closure reads them by index from the slice being sorted.
 */
export function goSortSlice<T>(items: T[], less: (a: T, b: T) => boolean): void {
  const data = {
    less: ((i, j) => less(items[i] as T, items[j] as T)) as Less,
    swap: ((i, j) => {
      const t = items[i] as T
      items[i] = items[j] as T
      items[j] = t
    }) as Swap,
  }
  pdqsort(data, 0, items.length, bitsLen(items.length))
}

interface LessSwap {
  less: Less
  swap: Swap
}

function insertionSort(d: LessSwap, a: number, b: number): void {
  for (let i = a + 1; i < b; i++) {
    for (let j = i; j > a && d.less(j, j - 1); j--) d.swap(j, j - 1)
  }
}

function siftDown(d: LessSwap, lo: number, hi: number, first: number): void {
  let root = lo
  for (;;) {
    let child = 2 * root + 1
    if (child >= hi) break
    if (child + 1 < hi && d.less(first + child, first + child + 1)) child++
    if (!d.less(first + root, first + child)) return
    d.swap(first + root, first + child)
    root = child
  }
}

function heapSort(d: LessSwap, a: number, b: number): void {
  const first = a
  const hi = b - a
  for (let i = Math.trunc((hi - 1) / 2); i >= 0; i--) siftDown(d, i, hi, first)
  for (let i = hi - 1; i >= 0; i--) {
    d.swap(first, first + i)
    siftDown(d, 0, i, first)
  }
}

function pdqsort(d: LessSwap, a: number, b: number, limit: number): void {
  const maxInsertion = 12
  let wasBalanced = true
  let wasPartitioned = true
  for (;;) {
    const length = b - a
    if (length <= maxInsertion) {
      insertionSort(d, a, b)
      return
    }
    if (limit === 0) {
      heapSort(d, a, b)
      return
    }
    if (!wasBalanced) {
      breakPatterns(d, a, b)
      limit--
    }
    let [pivot, hint] = choosePivot(d, a, b)
    if (hint === DECREASING_HINT) {
      reverseRange(d, a, b)
      pivot = b - 1 - (pivot - a)
      hint = INCREASING_HINT
    }
    if (wasBalanced && wasPartitioned && hint === INCREASING_HINT) {
      if (partialInsertionSort(d, a, b)) return
    }
    if (a > 0 && !d.less(a - 1, pivot)) {
      a = partitionEqual(d, a, b, pivot)
      continue
    }
    const [mid, alreadyPartitioned] = partition(d, a, b, pivot)
    wasPartitioned = alreadyPartitioned
    const leftLen = mid - a
    const rightLen = b - mid
    const balanceThreshold = Math.trunc(length / 8)
    if (leftLen < rightLen) {
      wasBalanced = leftLen >= balanceThreshold
      pdqsort(d, a, mid, limit)
      a = mid + 1
    } else {
      wasBalanced = rightLen >= balanceThreshold
      pdqsort(d, mid + 1, b, limit)
      b = mid
    }
  }
}

function partition(d: LessSwap, a: number, b: number, pivot: number): [number, boolean] {
  d.swap(a, pivot)
  let i = a + 1
  let j = b - 1
  while (i <= j && d.less(i, a)) i++
  while (i <= j && !d.less(j, a)) j--
  if (i > j) {
    d.swap(j, a)
    return [j, true]
  }
  d.swap(i, j)
  i++
  j--
  for (;;) {
    while (i <= j && d.less(i, a)) i++
    while (i <= j && !d.less(j, a)) j--
    if (i > j) break
    d.swap(i, j)
    i++
    j--
  }
  d.swap(j, a)
  return [j, false]
}

function partitionEqual(d: LessSwap, a: number, b: number, pivot: number): number {
  d.swap(a, pivot)
  let i = a + 1
  let j = b - 1
  for (;;) {
    while (i <= j && !d.less(a, i)) i++
    while (i <= j && d.less(a, j)) j--
    if (i > j) break
    d.swap(i, j)
    i++
    j--
  }
  return i
}

function partialInsertionSort(d: LessSwap, a: number, b: number): boolean {
  const maxSteps = 5
  const shortestShifting = 50
  let i = a + 1
  for (let step = 0; step < maxSteps; step++) {
    while (i < b && !d.less(i, i - 1)) i++
    if (i === b) return true
    if (b - a < shortestShifting) return false
    d.swap(i, i - 1)
    // Go 1.19 shifts left down to index 1, not a: kept as written.
    if (i - a >= 2) {
      for (let j = i - 1; j >= 1; j--) {
        if (!d.less(j, j - 1)) break
        d.swap(j, j - 1)
      }
    }
    if (b - i >= 2) {
      for (let j = i + 1; j < b; j++) {
        if (!d.less(j, j - 1)) break
        d.swap(j, j - 1)
      }
    }
  }
  return false
}

const MASK64 = (1n << 64n) - 1n

function breakPatterns(d: LessSwap, a: number, b: number): void {
  const length = b - a
  if (length >= 8) {
    let random = BigInt(length)
    const modulus = 2 ** bitsLen(length)
    const start = a + Math.trunc(length / 4) * 2 - 1
    for (let idx = start; idx <= start + 2; idx++) {
      // xorshift.Next of sort/sort.go, on a uint64: shifts 13, 17, 5.
      random ^= (random << 13n) & MASK64
      random ^= random >> 17n
      random ^= (random << 5n) & MASK64
      let other = Number(random & BigInt(modulus - 1))
      if (other >= length) other -= length
      d.swap(idx, a + other)
    }
  }
}

function choosePivot(d: LessSwap, a: number, b: number): [number, number] {
  const shortestNinther = 50
  const maxSwaps = 4 * 3
  const l = b - a
  const swaps = { n: 0 }
  let i = a + Math.trunc(l / 4) * 1
  let j = a + Math.trunc(l / 4) * 2
  let k = a + Math.trunc(l / 4) * 3
  if (l >= 8) {
    if (l >= shortestNinther) {
      i = median(d, i - 1, i, i + 1, swaps)
      j = median(d, j - 1, j, j + 1, swaps)
      k = median(d, k - 1, k, k + 1, swaps)
    }
    j = median(d, i, j, k, swaps)
  }
  if (swaps.n === 0) return [j, INCREASING_HINT]
  if (swaps.n === maxSwaps) return [j, DECREASING_HINT]
  return [j, UNKNOWN_HINT]
}

function order2(d: LessSwap, a: number, b: number, swaps: { n: number }): [number, number] {
  if (d.less(b, a)) {
    swaps.n++
    return [b, a]
  }
  return [a, b]
}

function median(d: LessSwap, a: number, b: number, c: number, swaps: { n: number }): number {
  ;[a, b] = order2(d, a, b, swaps)
  ;[b, c] = order2(d, b, c, swaps)
  ;[a, b] = order2(d, a, b, swaps)
  return b
}

function reverseRange(d: LessSwap, a: number, b: number): void {
  let i = a
  let j = b - 1
  while (i < j) {
    d.swap(i, j)
    i++
    j--
  }
}
