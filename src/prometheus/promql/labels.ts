/**
 * Label sets as the engine handles them: plain objects whose keys were inserted in
 * ascending order, so iteration order equals Prometheus' sorted `labels.Labels` order.
 * A label with an empty value does not exist (Prometheus drops it everywhere).
 */

import { goQuote } from './strings.ts'

export type Labels = Readonly<Record<string, string>>

export const METRIC_NAME = '__name__'

const EMPTY: Labels = Object.freeze({})

/** Builds a label set from any record: drops empty values, sorts names. */
export function labelsFrom(record: Readonly<Record<string, string | undefined>>): Labels {
  const names = Object.keys(record)
    .filter((name) => {
      const value = record[name]
      return value !== undefined && value !== ''
    })
    .sort(compareStrings)
  if (names.length === 0) return EMPTY
  const out: Record<string, string> = {}
  for (const name of names) out[name] = record[name] as string
  return out
}

/** Code-unit order, the order Go's string comparison gives for ASCII names and values. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Identity of a label set. The separator sorts below every printable character, so
 * sorting by key orders label sets like Prometheus' `labels.Compare`.
 */
export function labelsKey(labels: Labels): string {
  let key = ''
  for (const name in labels) key += `${name}\u0000${labels[name]}\u0000`
  return key
}

/** Prometheus' `labels.Compare`: name by name, then value, then length. */
export function compareLabels(a: Labels, b: Labels): number {
  const an = Object.keys(a)
  const bn = Object.keys(b)
  const n = Math.min(an.length, bn.length)
  for (let i = 0; i < n; i++) {
    const x = an[i] as string
    const y = bn[i] as string
    if (x !== y) return compareStrings(x, y)
    const c = compareStrings(a[x] as string, b[y] as string)
    if (c !== 0) return c
  }
  return an.length - bn.length
}

// Label sets are immutable, so derived sets and signatures can be cached per object; the
// store hands out the same object for a series on every evaluation.
const withoutNameCache = new WeakMap<Labels, Labels>()
const signatureCache = new WeakMap<Labels, Map<string, string>>()

export function withoutName(labels: Labels): Labels {
  if (!(METRIC_NAME in labels)) return labels
  const cached = withoutNameCache.get(labels)
  if (cached) return cached
  const out: Record<string, string> = {}
  for (const name in labels) if (name !== METRIC_NAME) out[name] = labels[name] as string
  withoutNameCache.set(labels, out)
  return out
}

/** Memoises `compute(labels)` under `spec` (which must identify the signature kind). */
export function cachedSignature(labels: Labels, spec: string, compute: (labels: Labels) => string): string {
  let perLabels = signatureCache.get(labels)
  if (!perLabels) {
    perLabels = new Map()
    signatureCache.set(labels, perLabels)
  }
  let sig = perLabels.get(spec)
  if (sig === undefined) {
    sig = compute(labels)
    perLabels.set(spec, sig)
  }
  return sig
}

/** Keeps only the given names (Prometheus' `Builder.Keep`). */
export function keepLabels(labels: Labels, names: ReadonlySet<string>): Labels {
  const out: Record<string, string> = {}
  for (const name in labels) if (names.has(name)) out[name] = labels[name] as string
  return out
}

/** Removes the given names (Prometheus' `Builder.Del`). */
export function dropLabels(labels: Labels, names: ReadonlySet<string>): Labels {
  const out: Record<string, string> = {}
  for (const name in labels) if (!names.has(name)) out[name] = labels[name] as string
  return out
}

/** Returns a copy with `name` set (or removed when `value` is empty), keeping names sorted. */
export function setLabel(labels: Labels, name: string, value: string): Labels {
  const record: Record<string, string> = { ...labels }
  if (value === '') delete record[name]
  else record[name] = value
  return labelsFrom(record)
}

/**
 * Matching signature over only `names` (Go's `BytesWithLabels`); a missing label
 * contributes nothing, exactly like an empty one.
 */
export function signatureOn(labels: Labels, sortedNames: readonly string[]): string {
  let sig = ''
  for (const name of sortedNames) {
    const value = labels[name]
    if (value !== undefined) sig += `${name}\u00ff${value}\u00ff`
  }
  return sig
}

/** Matching signature over every label except `excluded` (Go's `BytesWithoutLabels`). */
export function signatureWithout(labels: Labels, excluded: ReadonlySet<string>): string {
  let sig = ''
  for (const name in labels) {
    if (!excluded.has(name)) sig += `${name}\u00ff${labels[name]}\u00ff`
  }
  return sig
}

/** Prometheus' `Labels.String()`: `{a="1", b="2"}`. */
export function formatLabels(labels: Labels): string {
  const parts: string[] = []
  for (const name in labels) parts.push(`${name}=${goQuote(labels[name] as string)}`)
  return `{${parts.join(', ')}}`
}

/** The series notation Prometheus' API and UI use: `name{a="1"}`. */
export function formatSeries(labels: Labels): string {
  const name = labels[METRIC_NAME] ?? ''
  const parts: string[] = []
  for (const label in labels) {
    if (label !== METRIC_NAME) parts.push(`${label}=${goQuote(labels[label] as string)}`)
  }
  return parts.length === 0 && name !== '' ? name : `${name}{${parts.join(', ')}}`
}
