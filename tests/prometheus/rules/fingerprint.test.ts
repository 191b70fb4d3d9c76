import { describe, expect, test } from 'bun:test'
import { fingerprint } from '../../../src/prometheus/rules/alerting-rule.ts'

/**
 * prometheus/common model `labelSetToFingerprint` written the slow, obvious way: BigInt FNV-1a
 * 64 over TextEncoder's bytes, names sorted by their UTF-8 bytes as Go's sort.Strings does.
 */
function reference(labels: Record<string, string>): string {
  const encoder = new TextEncoder()
  let hash = 0xcbf29ce484222325n
  const add = (bytes: Uint8Array) => {
    for (const b of bytes) hash = ((hash ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn
  }
  const names = Object.keys(labels).sort((a, b) => Buffer.compare(encoder.encode(a), encoder.encode(b)))
  for (const name of names) {
    add(encoder.encode(name))
    add(new Uint8Array([0xff]))
    add(encoder.encode(labels[name]!))
    add(new Uint8Array([0xff]))
  }
  return hash.toString(16).padStart(16, '0')
}

describe('fingerprint (Alertmanager’s label-set fingerprint)', () => {
  test('known values: the real Alertmanager 0.25 API, and the empty set (FNV-1a’s offset basis)', () => {
    expect(fingerprint({ alertname: 'NoFingerprint', severity: 'critical', instance: 'db-0' })).toBe(
      'd66e5d30f6ab865f',
    )
    expect(fingerprint({})).toBe('cbf29ce484222325')
  })

  test('names are in Go’s byte order: U+FFFD before U+10000, where UTF-16 sorts them the other way', () => {
    const labels = { '\u{10000}': 'b', '\ufffd': 'a' }
    expect(Object.keys(labels).sort()).toEqual(['\u{10000}', '\ufffd'])
    expect(fingerprint(labels)).toBe(reference(labels))
    expect(fingerprint(labels)).not.toBe(reference({ '\u{10000}': 'a', '\ufffd': 'b' }))
  })

  test('20 000 random label sets (astral, BMP-high, lone surrogates, NUL) agree with the reference', () => {
    let seed = 1
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648
      return seed / 2147483648
    }
    const chars = [
      'a',
      'z',
      '_',
      '0',
      'é',
      '\ue000',
      '\ufffd',
      '\u{1f600}',
      '\u{10000}',
      '\u00ff',
      '\u0000',
      ' ',
    ]
    chars.push('\ud800', '\udc00', '\u07ff', '\u0800')
    const text = () =>
      Array.from({ length: Math.floor(random() * 6) }, () => chars[Math.floor(random() * chars.length)]).join(
        '',
      )
    const disagreeing: Array<Record<string, string>> = []
    for (let i = 0; i < 20_000; i++) {
      const labels: Record<string, string> = {}
      for (let j = Math.floor(random() * 5); j > 0; j--) labels[text() || `n${j}`] = text()
      if (fingerprint(labels) !== reference(labels)) disagreeing.push(labels)
    }
    expect(disagreeing).toEqual([])
  })
})
