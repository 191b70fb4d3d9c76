import { expect } from 'bun:test'
import Ajv, { type ValidateFunction } from 'ajv'
import addFormats from 'ajv-formats'

// biome-ignore lint/suspicious/noExplicitAny: the document and response bodies are JSON read by shape
type Json = Record<string, any>

export interface Operation {
  /** `POST /orders/{id}/payments`: the method and the document's path template. */
  key: string
  method: string
  path: string
  op: Json
}

/** Every operation of the document, as the document lists them (new routes included). */
export function operationsOf(doc: Json): Operation[] {
  return Object.entries(doc.paths as Record<string, Json>).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method, path, op })),
  )
}

/**
 * A response schema as the contract test reads it: objects that list their properties are
 * closed (`additionalProperties: false` where the document says nothing), so a field the
 * service sends but the document does not name fails, as a missing one does.
 */
export function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed)
  if (!schema || typeof schema !== 'object') return schema
  const out: Json = {}
  for (const [key, value] of Object.entries(schema as Json)) {
    // `properties` maps names to schemas; `example` values are data, not schemas.
    if (key === 'properties') {
      out[key] = Object.fromEntries(Object.entries(value as Json).map(([name, s]) => [name, closed(s)]))
    } else if (key === 'example' || key === 'enum' || key === 'default') out[key] = value
    else out[key] = closed(value)
  }
  if (out.properties && !('additionalProperties' in out)) out.additionalProperties = false
  return out
}

/** Media type essence and parameters, lower case and without spaces: `text/plain;version=0.0.4`. */
const normalise = (type: string) => type.toLowerCase().replace(/\s+/g, '')
const essence = (type: string) => normalise(type).split(';')[0]!

/**
 * Checks real responses against the served document and records which documented
 * (operation, status) pairs were seen, so that a test can require all of them.
 */
export function createContract(doc: Json) {
  const ajv = new Ajv({ strict: false, allErrors: true })
  addFormats(ajv)
  const validators = new Map<string, ValidateFunction>()
  const operations = operationsOf(doc)
  const seen = new Set<string>()

  function operation(key: string): Operation {
    const found = operations.find((o) => o.key === key)
    if (!found) throw new Error(`${key} is not in the document`)
    return found
  }

  /**
   * Asserts that `res` answers `key` with `status`, that the document lists that status with
   * the response's media type, and that the body validates against the documented schema.
   * Returns the parsed body.
   */
  // biome-ignore lint/suspicious/noExplicitAny: the body is JSON whose shape the schema check just vouched for
  async function expectResponse(key: string, res: Response, status: number): Promise<any> {
    const { op } = operation(key)
    const text = await res.text()
    expect({ operation: key, status: res.status, body: res.status === status ? '' : text }).toEqual({
      operation: key,
      status,
      body: '',
    })
    const documented = op.responses?.[String(res.status)]
    expect({ operation: key, status, documented: documented !== undefined }).toEqual({
      operation: key,
      status,
      documented: true,
    })
    const contentType = res.headers.get('content-type') ?? ''
    const media = Object.keys(documented.content ?? {}).find(
      (type) =>
        normalise(type) === normalise(contentType) ||
        (!type.includes(';') && essence(type) === essence(contentType)),
    )
    expect({ operation: key, status, contentType, documentedAs: media ?? 'not documented' }).toEqual({
      operation: key,
      status,
      contentType,
      documentedAs: expect.any(String),
    })
    const schema = documented.content[media!].schema
    const body = essence(contentType) === 'application/json' ? JSON.parse(text) : text
    const id = `${key} ${status} ${media}`
    let validate = validators.get(id)
    if (!validate) {
      validate = ajv.compile(closed(schema) as Json)
      validators.set(id, validate)
    }
    const valid = validate(body)
    expect({ operation: key, status, errors: valid ? [] : validate.errors }).toEqual({
      operation: key,
      status,
      errors: [],
    })
    seen.add(`${key} ${status}`)
    return body
  }

  /** Every documented (operation, status) pair that no test has produced yet. */
  function unseen(): string[] {
    return operations.flatMap(({ key, op }) =>
      Object.keys(op.responses ?? {})
        .map((status) => `${key} ${status}`)
        .filter((pair) => !seen.has(pair)),
    )
  }

  return { operations, operation, expectResponse, unseen }
}
