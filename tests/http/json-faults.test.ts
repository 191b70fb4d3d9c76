/**
 * A body JSON.parse refuses is a 400 INVALID_JSON that says where and what the fault is
 * (src/http/json-body.ts `jsonFault`), as a person fixing a hand-written request needs, never
 * quoting the body (it may hold a phone number or a key), and writes nothing.
 */
import { describe, expect, test } from 'bun:test'
import { jsonFault } from '../../src/http/json-body.ts'
import { buildTestApp } from '../helpers/app.ts'
import { createTenant, tenantFootprint } from '../helpers/commerce.ts'

describe('jsonFault', () => {
  test.each([
    ['{"name":', 'line 1, column 9: a value was expected, but the body ends'],
    ['{\n  "name": "tea",\n  "priceMinor": 250,\n}', "line 4, column 1: a trailing comma before '}'"],
    ['[1, 2, ]', "line 1, column 8: a trailing comma before ']'"],
    ["{'name': 'tea'}", 'line 1, column 2: JSON strings take double quotes, not single'],
    ['', 'line 1, column 1: a value was expected, but the body ends'],
    ['{"name": "tea', 'line 1, column 10: a string is not closed'],
    ['// a note\n{}', 'line 1, column 1: JSON has no comments'],
    ['{"name" "tea"}', "line 1, column 9: ':' was expected"],
    ['{"a": 1 "b": 2}', "line 1, column 9: ',' was expected"],
    ['{"a": "\t"}', 'line 1, column 7: a control character in a string (escape it)'],
    ['{"a": "\\x"}', 'line 1, column 7: invalid escape'],
    ['{"a": 1}}', 'line 1, column 9: the body goes on after its value'],
  ])('%j: %s', (text, fault) => {
    expect(() => JSON.parse(text)).toThrow()
    expect(jsonFault(text)).toBe(fault)
  })

  test('finds a fault wherever JSON.parse finds one, in 3 000 mutated bodies', () => {
    const valid = '{"name":"tea","priceMinor":250,"tags":["a",1,true,null,-1.5e3],"x":{"y":"\\u00e9"}}'
    const alphabet = [
      '"',
      "'",
      ',',
      ':',
      '{',
      '}',
      '[',
      ']',
      ' ',
      '\n',
      '\\',
      'a',
      '1',
      '-',
      '.',
      'e',
      '/',
      '\t',
    ]
    let seed = 7
    const random = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      return seed % n
    }
    let refused = 0
    for (let i = 0; i < 3000; i++) {
      const chars = [...valid]
      for (let edits = 1 + random(3); edits > 0; edits--) {
        const at = random(chars.length + 1)
        const op = random(3)
        if (op === 0) chars.splice(at, 1)
        else if (op === 1) chars.splice(at, 0, alphabet[random(alphabet.length)] as string)
        else chars[at] = alphabet[random(alphabet.length)] as string
      }
      const text = chars.join('')
      let parses = true
      try {
        JSON.parse(text)
      } catch {
        parses = false
      }
      if (parses) continue
      refused++
      expect([text, jsonFault(text)]).toEqual([text, expect.stringMatching(/^line \d+, column \d+: /)])
    }
    expect(refused).toBeGreaterThan(2000)
  })
})

test('a trailing comma in a product is a 400 naming line and column, without the body, and writes nothing', async () => {
  const built = await buildTestApp()
  const tenant = await createTenant(built.call)
  const before = await tenantFootprint(built.deps.database.db, tenant.id)
  const res = await built.call('/products', {
    method: 'POST',
    token: tenant.apiKey,
    headers: { 'content-type': 'application/json' },
    body: '{\n  "name": "+49 151 23456789",\n  "priceMinor": 250,\n  "currency": "KES",\n}',
  })
  expect(res.status).toBe(400)
  expect(await res.json()).toEqual({
    error: {
      code: 'INVALID_JSON',
      message: "Request body is not valid JSON: line 5, column 1: a trailing comma before '}'",
      requestId: expect.any(String),
    },
  })
  expect(await tenantFootprint(built.deps.database.db, tenant.id)).toEqual(before)
})
