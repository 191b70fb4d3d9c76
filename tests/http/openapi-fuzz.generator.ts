/**
 * Bad input generated from the app's own OpenAPI document: for every operation with path
 * parameters, query parameters, headers or a JSON body, a valid request built from the schema
 * and then mutated one place at a time (a field missing, of another JSON type, out of bounds,
 * of odd text; an unknown field; a malformed id; a broken body or content type). Each case
 * says whether the schema still accepts it, decided by Ajv against the document itself, so
 * the test knows which answers must be refusals.
 */
import Ajv, { type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'
import { UUID_PATTERN } from '../../src/shared/models.ts'

// biome-ignore lint/suspicious/noExplicitAny: the document is JSON read by shape
type Json = Record<string, any>

/** Where a mutated value sits: the body, a path, query or header parameter. */
export type Place = 'body' | 'path' | 'query' | 'header'

export interface FuzzCase {
  /** `PATCH /products/{id}`: method and the document's path template. */
  operation: string
  /** What was changed, for a failure's message: `body items.0.quantity ← 1.5`. */
  mutation: string
  method: string
  /** The request path with its query string. */
  url: string
  headers: Record<string, string>
  /** The raw body (undefined: no body); bytes for text that is not UTF-8. */
  body?: string | Uint8Array<ArrayBuffer>
  /**
   * Whether the document's schemas accept every part of the request. A rejected case must be
   * a 4xx; an accepted one may be a 2xx or a refusal for a rule the schema cannot say.
   */
  valid: boolean
  /** The field a VALIDATION refusal must name (dotted, as the envelope names it). */
  field?: string
  /** Further fields its details must name too (one entry per field). */
  also?: string[]
}

/** Values the test fills in: live ids, and credentials per security scheme. */
export interface FuzzContext {
  productId: string
  orderId: string
  /** Authorization per security scheme name (`tenantKey`, `adminToken`, …). */
  credentials: Record<string, { header?: [string, string]; query?: [string, string] }>
  /**
   * Operations (`POST /webhooks/payments/{provider}`) left out, each with why: a credential
   * that signs the body's bytes cannot be a fixed header, and its route's refusals are tested
   * where the route is.
   */
  leftOut?: Record<string, string>
}

/** mulberry32: a small seeded generator, so that a seed names one run exactly. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Fisher–Yates with a seeded generator. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
}

/**
 * Ajv reading the document's schemas as OpenAPI 3.0 means them: `nullable`, `format: uuid` as
 * RFC 9562's string form alone (ajv-formats also takes `urn:uuid:`), lengths in code points.
 * @returns `(schema, value) => whether the schema accepts the value`, compiling each schema once
 */
export function validator() {
  const ajv = new Ajv({ strict: false, allErrors: false })
  addFormats(ajv)
  ajv.addFormat('uuid', UUID_PATTERN)
  const cache = new Map<unknown, ValidateFunction>()
  return (schema: Json, value: unknown) => {
    let check = cache.get(schema)
    if (!check) {
      check = ajv.compile(schema)
      cache.set(schema, check)
    }
    return check(value)
  }
}

/** Known-good values for fields whose schema has no example and no shape a generator guesses. */
const GOOD: Record<string, unknown> = {
  timezone: 'Africa/Nairobi',
  provider: 'sandbox',
  source: 'tok_declined',
  name: 'Fuzz',
  alerts: [],
  version: '4',
  groupKey: 'g',
  truncatedAlerts: 0,
}

/**
 * Array elements the document types only loosely (`alerts: [{type: object}]`), as the service
 * takes them: an alert naming no tenant, so that it reaches no recipient.
 */
const GOOD_ITEMS: Record<string, unknown> = {
  alerts: { status: 'firing', labels: { alertname: 'FuzzAlert' }, startsAt: '2026-01-01T00:00:00Z' },
}

/** A valid instance of `schema` (every property it names), `name` being the field's own. */
function instance(schema: Json, name: string, ctx: FuzzContext): unknown {
  if (schema.format === 'uuid') return ctx.productId
  if (name in GOOD) return GOOD[name]
  if (schema.example !== undefined) return schema.example
  if (Array.isArray(schema.enum)) return schema.enum[0]
  switch (schema.type) {
    case 'object': {
      const out: Json = {}
      for (const [key, sub] of Object.entries((schema.properties ?? {}) as Json)) {
        out[key] = instance(sub, key, ctx)
      }
      return out
    }
    case 'array':
      return schema.items ? [instance(schema.items, name, ctx)] : []
    case 'integer':
    case 'number':
      return schema.minimum ?? 1
    case 'boolean':
      return true
    default:
      return 'x'.repeat(Math.max(1, schema.minLength ?? 1))
  }
}

/** Odd values of every JSON type, each with a label for the failure message. */
const TYPE_SWAPS: Array<[string, unknown]> = [
  ['string', 'text'],
  ['numeric string', '5'],
  ['number', 7],
  ['boolean', true],
  ['null', null],
  ['array', []],
  ['object', {}],
]

const NUMBERS: Array<[string, unknown]> = [
  ['0', 0],
  ['-1', -1],
  ['1.5', 1.5],
  ['1e308', 1e308],
  ['-0', -0],
  ['2^53+1', 2 ** 53 + 1],
  ['"NaN"', 'NaN'],
  ['"Infinity"', 'Infinity'],
  ['"1e3"', '1e3'],
  ['"0x10"', '0x10'],
]

const HUGE = 'a'.repeat(1 << 20)
const STRINGS: Array<[string, string]> = [
  ['empty', ''],
  ['spaces', '   '],
  ['1 MB', HUGE],
  ['U+0000', 'a\u0000b'],
  ['lone surrogate', 'a\ud800b'],
  ['RTL override', '\u202eevil'],
  ['emoji', '🛒💥'],
  ['trailing newline', 'x\n'],
]

const BAD_UUIDS: Array<[string, string]> = [
  ['short', '1234'],
  ['one digit short', '00000000-0000-0000-0000-00000000000'],
  ['one digit long', '00000000-0000-0000-0000-0000000000000'],
  ['non-hex', 'g0000000-0000-0000-0000-000000000000'],
  ['urn prefix', 'urn:uuid:00000000-0000-0000-0000-000000000000'],
  ['braces', '{00000000-0000-0000-0000-000000000000}'],
  ['no hyphens', '00000000000000000000000000000000'],
  ['36 hyphens', '-'.repeat(36)],
  ['U+0000', '\u0000'],
  ['spaces', '   '],
  ['emoji', '🛒'],
]

/** The dotted field name of a JSON path, as the error envelope names fields. */
const dotted = (path: Array<string | number>) => path.join('.')

/** A deep copy with the value at `path` set (undefined: removed). */
function setAt(root: unknown, path: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(root) as Json
  let node = copy
  for (const key of path.slice(0, -1)) node = node[key]
  const last = path.at(-1)!
  if (value === undefined) delete node[last]
  else node[last] = value
  return copy
}

interface Leaf {
  path: Array<string | number>
  schema: Json
  required: boolean
}

/** Every field of a body instance with its schema, depth-first. */
function leaves(schema: Json, value: unknown, path: Array<string | number> = []): Leaf[] {
  const out: Leaf[] = []
  if (schema.type === 'object' && value && typeof value === 'object') {
    for (const [key, sub] of Object.entries((schema.properties ?? {}) as Json)) {
      if (!(key in (value as Json))) continue
      const at = [...path, key]
      out.push({ path: at, schema: sub, required: (schema.required ?? []).includes(key) })
      out.push(...leaves(sub, (value as Json)[key], at))
    }
  } else if (schema.type === 'array' && Array.isArray(value) && value.length > 0 && schema.items) {
    out.push({ path: [...path, 0], schema: schema.items, required: false })
    out.push(...leaves(schema.items, value[0], [...path, 0]))
  }
  return out
}

/** The other-case spellings of a string enum value. */
const otherCases = (value: string) =>
  [value.toUpperCase(), value.toLowerCase(), value[0]!.toUpperCase() + value.slice(1)].filter(
    (v, i, all) => v !== value && all.indexOf(v) === i,
  )

/** Values for a mutated field beside the type swaps, by its schema. */
function valuesFor(schema: Json, name: string): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [...TYPE_SWAPS]
  if (schema.type === 'integer' || schema.type === 'number') {
    out.push(...NUMBERS)
    if (typeof schema.minimum === 'number')
      out.push(['minimum', schema.minimum], ['minimum-1', schema.minimum - 1])
    if (typeof schema.maximum === 'number')
      out.push(['maximum', schema.maximum], ['maximum+1', schema.maximum + 1])
    if (/minor/i.test(name))
      out.push(['money as float', 12.5], ['money as string', '12500'], ['money "12.50"', '12.50'])
  }
  if (schema.type === 'string') {
    out.push(...STRINGS)
    if (typeof schema.maxLength === 'number') {
      out.push(['maxLength', 'b'.repeat(schema.maxLength)], ['maxLength+1', 'b'.repeat(schema.maxLength + 1)])
      out.push(['maxLength emoji', '🛒'.repeat(schema.maxLength)])
    }
    if (schema.format === 'uuid') out.push(...BAD_UUIDS)
    if (Array.isArray(schema.enum)) {
      for (const v of schema.enum.slice(0, 2) as string[])
        for (const c of otherCases(v)) out.push([`enum ${c}`, c])
    }
    if (schema.pattern?.includes('+[1-9]')) {
      out.push(
        ['phone without +', '254711000200'],
        ['phone with spaces', '+254 711 000 200'],
        ['phone 16 digits', '+2547110002001234'],
      )
    }
  }
  if (schema.type === 'array') {
    if (typeof schema.maxItems === 'number')
      out.push([
        'maxItems+1',
        Array.from({ length: schema.maxItems + 1 }, (_, i) => `+25471100${String(i).padStart(4, '0')}`),
      ])
    out.push(['duplicated items', ['+254711000200', '+254711000200']])
  }
  return out
}

/** Body faults below the JSON value: broken text, duplicate keys, nesting, content types. */
function bodyFaults(
  valid: Json,
): Array<{ label: string; body: string; contentType?: string; parsed?: unknown }> {
  const text = JSON.stringify(valid)
  const firstKey = Object.keys(valid)[0]
  const faults: Array<{ label: string; body: string; contentType?: string; parsed?: unknown }> = [
    { label: 'truncated JSON', body: text.slice(0, Math.max(1, Math.floor(text.length / 2))) },
    { label: 'trailing comma', body: `${text.slice(0, -1)},}` },
    { label: 'single quotes', body: text.replaceAll('"', "'") },
    { label: 'empty body', body: '' },
    { label: 'JSON null', body: 'null', parsed: null },
    { label: 'JSON array', body: `[${text}]`, parsed: [valid] },
    { label: 'JSON string', body: JSON.stringify(text), parsed: text },
    { label: 'two values', body: `${text}${text}` },
    { label: 'BOM', body: `\ufeff${text}`, parsed: valid },
    { label: 'deep nesting', body: `${text.slice(0, -1)},"deep":${'['.repeat(5000)}${']'.repeat(5000)}}` },
    { label: 'text/plain', body: text, contentType: 'text/plain' },
    { label: 'form', body: 'name=a&priceMinor=1', contentType: 'application/x-www-form-urlencoded' },
    // The service reads a body sent without a content type as JSON (request-context.ts).
    { label: 'no content type', body: text, contentType: '', parsed: valid },
    { label: 'multipart', body: text, contentType: 'multipart/form-data; boundary=x' },
    {
      label: 'json with charset=utf-8',
      body: text,
      contentType: 'application/json; charset=utf-8',
      parsed: valid,
    },
  ]
  if (firstKey !== undefined) {
    // JSON.parse keeps the last of duplicate keys: the check is on what the server reads.
    const dupe = `{"${firstKey}":${JSON.stringify(valid[firstKey])},${text.slice(1)}`
    faults.push({ label: 'duplicate key, same value', body: dupe, parsed: JSON.parse(dupe) })
    const dupeBad = `${text.slice(0, -1)},"${firstKey}":{"x":1}}`
    faults.push({ label: 'duplicate key, last one wrong', body: dupeBad, parsed: JSON.parse(dupeBad) })
  }
  return faults
}

/**
 * Every case for every operation of `doc` that takes input; `ctx` supplies live ids and
 * credentials, so that neither a missing resource nor auth is what refuses a case.
 */
export function generateCases(
  doc: Json,
  ctx: FuzzContext,
  /** Random cases beyond the enumerated ones: 2 or 3 body fields changed at once. */
  extra: { random: () => number; count: number } = { random: Math.random, count: 0 },
): FuzzCase[] {
  const check = validator()
  const combined: FuzzCase[] = []
  const bodyOperations = Object.values(doc.paths as Record<string, Json>)
    .flatMap((ops) => Object.values(ops))
    .filter((op) => op.requestBody?.content?.['application/json']).length
  const cases: FuzzCase[] = []
  for (const [template, ops] of Object.entries(doc.paths as Record<string, Json>)) {
    for (const [method, op] of Object.entries(ops)) {
      const parameters = (op.parameters ?? []) as Json[]
      const bodySchema = op.requestBody?.content?.['application/json']?.schema as Json | undefined
      if (parameters.length === 0 && !bodySchema) continue
      const operation = `${method.toUpperCase()} ${template}`
      if (ctx.leftOut?.[operation] !== undefined) continue
      const pathId = template.startsWith('/orders/') ? ctx.orderId : ctx.productId
      const goodBody = bodySchema ? (instance(bodySchema, '', ctx) as Json) : undefined
      if (goodBody && !check(bodySchema!, goodBody))
        throw new Error(`${operation}: generated body is not valid`)

      // Every query parameter with an example is sent with it, so that a mutation of one is
      // judged beside valid others (the WhatsApp handshake answers nothing without hub.mode).
      const baseQuery = parameters
        .filter((p) => p.in === 'query' && p.example !== undefined)
        .map((p) => [p.name as string, String(p.example)] as [string, string])
      const auth = { headers: {} as Record<string, string>, query: [] as Array<[string, string]> }
      for (const scheme of Object.keys(Object.assign({}, ...(op.security ?? [{}])))) {
        const credential = ctx.credentials[scheme]
        if (credential?.header) auth.headers[credential.header[0]] = credential.header[1]
        if (credential?.query) auth.query.push(credential.query)
      }

      const build = (
        mutation: string,
        valid: boolean,
        field: string | undefined,
        parts: {
          also?: string[]
          pathValue?: string
          /** Path segment as sent, percent-escapes and all. */
          rawPath?: string
          /** Query text appended as sent. */
          rawQuery?: string
          query?: Array<[string, string]>
          headers?: Record<string, string>
          body?: string | Uint8Array<ArrayBuffer>
          contentType?: string
        },
      ) => {
        const path = template.replace('{id}', parts.rawPath ?? encodeURIComponent(parts.pathValue ?? pathId))
        const query = [
          new URLSearchParams([
            ...auth.query,
            ...baseQuery.filter(
              ([name]) =>
                !parts.query?.some(([mutated]) => mutated === name) &&
                !parts.rawQuery?.startsWith(`${encodeURIComponent(name)}=`),
            ),
            ...(parts.query ?? []),
          ]).toString(),
          parts.rawQuery ?? '',
        ]
          .filter((q) => q !== '')
          .join('&')
        const headers: Record<string, string> = { ...auth.headers, ...parts.headers }
        let body = parts.body
        if (bodySchema && body === undefined) body = JSON.stringify(goodBody)
        if (body !== undefined) {
          const type = parts.contentType ?? 'application/json'
          if (type !== '') headers['content-type'] = type
        }
        cases.push({
          operation,
          mutation,
          method: method.toUpperCase(),
          url: query ? `${path}?${query}` : path,
          headers,
          ...(body === undefined ? {} : { body }),
          valid,
          ...(field === undefined ? {} : { field }),
          ...(parts.also === undefined ? {} : { also: parts.also }),
        })
      }

      build('unchanged', true, undefined, {})

      for (const parameter of parameters) {
        const name = parameter.name as string
        const schema = parameter.schema as Json
        const values: Array<[string, unknown]> =
          parameter.in === 'path'
            ? [
                ...BAD_UUIDS,
                ['upper-case', pathId.toUpperCase()],
                ['mixed-case', pathId.replace(/[a-f]/, (c) => c.toUpperCase())],
              ]
            : parameter.in === 'header' && name === 'idempotency-key'
              ? [
                  ['empty', ''],
                  ['spaces', '   '],
                  ['255 characters', 'k'.repeat(255)],
                  ['256 characters', 'k'.repeat(256)],
                  ['latin-1', 'clé'],
                  ['list', 'a, b'],
                  ['quoted', '"abc"'],
                  ['quoted empty', '""'],
                  ['tab inside', 'a\tb'],
                  ['uuid', '8e03978e-40d5-43e8-bc93-6894a57f9324'],
                ]
              : valuesFor(schema, name).filter(
                  ([, v]) => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean',
                )
        for (const [label, raw] of values) {
          const text = String(raw)
          if (
            parameter.in === 'header' &&
            // What fetch's Headers refuses to carry is no request a server can receive.
            (/[\n\r]/.test(text) ||
              text.includes('\u0000') ||
              text.length > 10_000 ||
              [...text].some((ch) => ch.codePointAt(0)! > 0xff))
          )
            continue
          if (parameter.in === 'header' && text.trim() !== text) continue
          // A query or header parameter arrives as text; the schema's type is of the decoded value.
          const decoded =
            (schema.type === 'integer' || schema.type === 'number') &&
            text.trim() !== '' &&
            /^-?\d+(\.\d+)?$/.test(text)
              ? Number(text)
              : text
          const valid = check(schema, decoded)
          const mutation = `${parameter.in} ${name} ← ${label}`
          if (parameter.in === 'path') build(mutation, valid, name, { pathValue: text })
          else if (parameter.in === 'query') build(mutation, valid, name, { query: [[name, text]] })
          else build(mutation, valid, name, { headers: { [name]: text } })
        }
        if (parameter.in === 'path') {
          // Percent-escapes that decode to nothing valid, or to a separator.
          for (const raw of [
            '%',
            '%FF',
            '%E2%82',
            '%00',
            '%2F',
            '..',
            '%2e%2e',
            `${pathId}%20`,
            `${pathId}.json`,
          ]) {
            build(`path ${name} raw ${raw}`, false, name, { rawPath: raw })
          }
        }
        if (parameter.in === 'query') {
          for (const raw of ['%', '%FF', '%00', '%E2%82', '']) {
            // Judged as the WHATWG URL standard decodes it (a stray `%` kept, bytes that are not
            // UTF-8 as U+FFFD): a server that reads it so is not wrong to take it.
            const decoded = new URLSearchParams(`v=${raw}`).get('v')!
            const valid = check(schema, decoded)
            build(`query ${name} raw "${raw}"`, valid, name, {
              rawQuery: `${encodeURIComponent(name)}=${raw}`,
            })
          }
          build(`query ${name} repeated`, false, name, {
            query: [
              [name, String(instance(schema, name, ctx))],
              [name, String(instance(schema, name, ctx))],
            ],
          })
        }
      }

      if (bodySchema && goodBody) {
        const validBody = (value: unknown) => check(bodySchema, value)
        for (const leaf of leaves(bodySchema, goodBody)) {
          const field = dotted(leaf.path)
          const without = setAt(goodBody, leaf.path, undefined)
          if (typeof leaf.path.at(-1) === 'string') {
            build(`body ${field} missing`, validBody(without), field, { body: JSON.stringify(without) })
          }
          for (const [label, value] of valuesFor(leaf.schema, String(leaf.path.at(-1)))) {
            const mutated = setAt(goodBody, leaf.path, value)
            // -0 is 0 in JSON text; send the text a client would write.
            const body =
              label === '-0' ? JSON.stringify(mutated).replace(/:0([,}])/, ':-0$1') : JSON.stringify(mutated)
            build(`body ${field} ← ${label}`, validBody(mutated), field, { body })
          }
        }
        const objects = [
          [] as Array<string | number>,
          ...leaves(bodySchema, goodBody).map((l) => l.path),
        ].filter((path) => {
          const value = path.reduce((v: Json | undefined, k) => v?.[k], goodBody as Json)
          return value !== null && typeof value === 'object' && !Array.isArray(value)
        })
        for (const path of objects) {
          const at = [...path, 'unknownField']
          const mutated = setAt(goodBody, at, 1)
          build(`body ${dotted(at)} added`, validBody(mutated), dotted(at), { body: JSON.stringify(mutated) })
        }
        // A good first element, then a wrong one: the answer names the second by its index.
        for (const leaf of leaves(bodySchema, goodBody)) {
          if (leaf.schema.type !== 'array' || !leaf.schema.items) continue
          const first = GOOD_ITEMS[dotted(leaf.path)] ?? instance(leaf.schema.items, '', ctx)
          for (const [label, second] of [
            ['null', null],
            ['number', 7],
            ['object', {}],
          ] as Array<[string, unknown]>) {
            const mutated = setAt(goodBody, leaf.path, [first, second])
            build(`body ${dotted(leaf.path)}.1 ← ${label}`, validBody(mutated), `${dotted(leaf.path)}.1`, {
              body: JSON.stringify(mutated),
            })
          }
        }
        // Numbers as JSON text writes them, which JSON.parse reads into other values (1e400 is Infinity).
        const SENTINEL = '\u0001raw\u0001'
        for (const leaf of leaves(bodySchema, goodBody)) {
          if (leaf.schema.type !== 'integer' && leaf.schema.type !== 'number') continue
          for (const raw of [
            '1e400',
            '-1e400',
            '1.0',
            '1E2',
            '0.1e1',
            '100000000000.0000000001',
            '-0.0',
            '01',
            '+1',
            '.5',
            '0x10',
            'NaN',
            'Infinity',
          ]) {
            const text = JSON.stringify(setAt(goodBody, leaf.path, SENTINEL)).replace(
              JSON.stringify(SENTINEL),
              raw,
            )
            let parsed: unknown
            let valid = false
            try {
              parsed = JSON.parse(text)
              valid = validBody(parsed)
            } catch {
              valid = false
            }
            build(
              `body ${dotted(leaf.path)} ← text ${raw}`,
              valid,
              parsed === undefined ? undefined : dotted(leaf.path),
              { body: text },
            )
          }
        }
        for (const key of [
          '__proto__',
          'constructor',
          'prototype',
          '',
          ' ',
          'NAME',
          '+254711000200',
          'a'.repeat(10_000),
        ]) {
          const text = `${JSON.stringify(goodBody).slice(0, -1)}${Object.keys(goodBody).length > 0 ? ',' : ''}${JSON.stringify(key)}:1}`
          const parsed = JSON.parse(text)
          const valid = validBody(parsed)
          // A key that is a phone number is named scrubbed; the check is that it is not quoted.
          const field = key === '+254711000200' || key.length > 100 ? undefined : key
          build(`body key ${JSON.stringify(key.slice(0, 20))} added`, valid, field, { body: text })
        }
        // Two fields wrong at once: every one is named in details, the message counts the rest.
        const all = leaves(bodySchema, goodBody).filter((l) => typeof l.path.at(-1) === 'string')
        for (let i = 0; i < all.length; i++) {
          for (let j = i + 1; j < all.length; j++) {
            const [a, b] = [all[i]!, all[j]!]
            if (dotted(b.path).startsWith(`${dotted(a.path)}.`)) continue
            const mutated = setAt(setAt(goodBody, a.path, [[]]), b.path, { x: [] })
            // Only a change the schema refuses on its own is a field the answer must name.
            const wrong = [
              [a, setAt(goodBody, a.path, [[]])],
              [b, setAt(goodBody, b.path, { x: [] })],
            ]
              .filter(([, alone]) => !validBody(alone))
              .map(([leaf]) => dotted((leaf as Leaf).path))
            build(`body ${dotted(a.path)} and ${dotted(b.path)} wrong`, validBody(mutated), wrong[0], {
              body: JSON.stringify(mutated),
              also: wrong.slice(1),
            })
          }
        }
        // Widening (FUZZ_CASES past the enumerated count): random pairs and triples of changes.
        const single = leaves(bodySchema, goodBody).flatMap((leaf) =>
          valuesFor(leaf.schema, String(leaf.path.at(-1))).map(([label, value]) => ({ leaf, label, value })),
        )
        const perOperation = Math.ceil(extra.count / bodyOperations)
        for (let n = 0; n < perOperation && single.length > 0; n++) {
          const picks: typeof single = []
          for (let k = 2 + Math.floor(extra.random() * 2); k > 0; k--) {
            const pick = single[Math.floor(extra.random() * single.length)]!
            const overlaps = picks.some((p) => {
              const [a, b] = [dotted(p.leaf.path), dotted(pick.leaf.path)]
              return a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)
            })
            if (!overlaps) picks.push(pick)
          }
          const mutated = picks.reduce((body: unknown, p) => setAt(body, p.leaf.path, p.value), goodBody)
          const wrong = picks
            .filter((p) => !validBody(setAt(goodBody, p.leaf.path, p.value)))
            .map((p) => dotted(p.leaf.path))
          const before = cases.length
          build(
            `body ${picks.map((p) => `${dotted(p.leaf.path)} ← ${p.label}`).join(', ')}`,
            validBody(mutated),
            wrong[0],
            { body: JSON.stringify(mutated), also: wrong.slice(1) },
          )
          combined.push(...cases.splice(before))
        }
        const utf8 = new TextEncoder().encode(JSON.stringify(goodBody))
        const bad = new Uint8Array([...utf8.slice(0, 2), 0xc3, 0x28, ...utf8.slice(2)])
        build('body bytes not UTF-8', false, undefined, { body: bad })
        build('body {} (nothing)', validBody({}), undefined, { body: '{}' })
        for (const fault of bodyFaults(goodBody)) {
          const json =
            fault.contentType === undefined ||
            fault.contentType === '' ||
            fault.contentType.startsWith('application/json')
          const valid = json && 'parsed' in fault && validBody(fault.parsed)
          build(`body ${fault.label}`, valid, undefined, {
            body: fault.body,
            ...(fault.contentType === undefined ? {} : { contentType: fault.contentType }),
          })
        }
      }
    }
  }
  return [...cases, ...combined.slice(0, extra.count)]
}
