/**
 * Go strings are bytes, JavaScript strings UTF-16 code units: a Go string that is not UTF-8
 * (a `!!binary` label or annotation that decodes to `\xff`) has no JavaScript string of its
 * own. Here such a string keeps its bytes the way Python's "surrogateescape" does: each byte
 * that is not part of a valid UTF-8 sequence (as Go's utf8.DecodeRune reads it) becomes the lone
 * surrogate U+DC80–U+DCFF of that byte, which no text read from a file can contain (a lone
 * surrogate is not UTF-8 either). Valid text is unchanged, equal bytes give equal strings, and
 * goStringToBytes gives the bytes back, for output that must be byte for byte Go's.
 */

/** A Go string from its bytes: UTF-8 decoded, each invalid byte as U+DC00 + byte. */
export function goStringFromBytes(bytes: Uint8Array): string {
  let out = ''
  let i = 0
  while (i < bytes.length) {
    const b = bytes[i] as number
    const n = utf8SequenceLength(bytes, i)
    if (n === 0) {
      out += String.fromCharCode(0xdc00 + b)
      i++
    } else {
      out += Buffer.from(bytes.subarray(i, i + n)).toString('utf8')
      i += n
    }
  }
  return out
}

/** The length of the valid UTF-8 sequence at `i` (Go's utf8.DecodeRune), or 0 for an invalid byte. */
function utf8SequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i] as number
  if (b < 0x80) return 1
  const cont = (k: number, lo = 0x80, hi = 0xbf) => {
    const c = bytes[i + k]
    return c !== undefined && c >= lo && c <= hi
  }
  if (b >= 0xc2 && b <= 0xdf) return cont(1) ? 2 : 0
  if (b >= 0xe0 && b <= 0xef) {
    const ok1 = b === 0xe0 ? cont(1, 0xa0) : b === 0xed ? cont(1, 0x80, 0x9f) : cont(1)
    return ok1 && cont(2) ? 3 : 0
  }
  if (b >= 0xf0 && b <= 0xf4) {
    const ok1 = b === 0xf0 ? cont(1, 0x90) : b === 0xf4 ? cont(1, 0x80, 0x8f) : cont(1)
    return ok1 && cont(2) && cont(3) ? 4 : 0
  }
  return 0
}

const LONE_SURROGATE = /\p{Cs}/u
const ESCAPED_BYTE = /[\uDC80-\uDCFF]/gu

/** Go's utf8.ValidString (model.LabelValue.IsValid): no byte outside a valid UTF-8 sequence. */
export function isValidGoUtf8(s: string): boolean {
  return !LONE_SURROGATE.test(s)
}

/** The bytes of a Go string: escaped bytes as themselves, the rest UTF-8. */
export function goStringToBytes(s: string): Uint8Array {
  if (isValidGoUtf8(s)) return Buffer.from(s, 'utf8')
  const parts: Uint8Array[] = []
  for (const ch of s) {
    const code = ch.charCodeAt(0)
    if (ch.length === 1 && code >= 0xdc80 && code <= 0xdcff) parts.push(Uint8Array.of(code - 0xdc00))
    else parts.push(Buffer.from(ch, 'utf8'))
  }
  return Buffer.concat(parts)
}

/**
 * Escaped bytes in a quoted string as `\xff`, as Go's strconv.Quote writes a byte that is not
 * UTF-8 (for text quoted by a quoting function that passes them through).
 */
export function goQuotedBytes(quoted: string): string {
  return quoted.replace(ESCAPED_BYTE, (c) => `\\x${(c.charCodeAt(0) - 0xdc00).toString(16)}`)
}

/** The text Go's encoding/json writes for a Go string: each byte that is not UTF-8 as U+FFFD. */
export function toValidUtf8(s: string): string {
  return isValidGoUtf8(s) ? s : s.replace(/\p{Cs}/gu, '\uFFFD')
}
