import { describe, expect, test } from 'bun:test'
import { generateApiKey } from '../../src/auth/keys.ts'
import { scrubDeep, scrubEvent, scrubSpan, scrubText } from '../../src/observability/scrub.ts'

describe('scrubText', () => {
  test.each([
    ['customer +4915112345678 unreachable', 'customer [phone] unreachable'],
    ['call +49 151 1234567.', 'call [phone].'],
    ['call +1 (415) 555-0123 now', 'call [phone] now'],
    ['(555) 123-4567', '[phone]'],
    ['555-123-4567', '[phone]'],
    ['0151 12345678', '[phone]'],
    ['to=254712345678&x=1', 'to=[phone]&x=1'],
    ['/customers/%2B4915112345678/orders', '/customers/[phone]/orders'],
    ['pay-+4915112345678', 'pay-[phone]'],
  ])('replaces the phone number in %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test.each([
    'order 550e8400-e29b-41d4-a716-446655440000',
    'trace 12345678901234567890123456789012',
    'at 2026-11-26 20:41:02 and 2026-11-26T20:41:02.553Z',
    'from 192.168.100.200 running v14.6.202.34',
    'total 1999 KES, 3 items',
    'node:async_hooks:144:29',
  ])('leaves %p alone', (input) => {
    expect(scrubText(input)).toBe(input)
  })

  test('leaves a UUID alone whose first groups are all digits (a tenant id was sent as "[phone]-443f-…")', () => {
    expect(scrubText('tenant 73534038-1250-443f-a436-15080a3853af')).toBe(
      'tenant 73534038-1250-443f-a436-15080a3853af',
    )
  })

  test('leaves every dash-joined id alone, whichever of its groups are digits only', () => {
    // Each of the 32 ways the five groups of a UUID can be digits only or contain a letter,
    // and the same ids with a sixth group, as some ids (ULID-like, dated) have.
    const groups = [8, 4, 4, 4, 12]
    let n = 0
    const digits = (length: number) => Array.from({ length }, () => String(n++ % 10)).join('')
    const lettered = (length: number) => `${digits(length - 1)}f`
    for (let mask = 0; mask < 32; mask++) {
      const id = groups.map((length, i) => (mask & (1 << i) ? digits(length) : lettered(length))).join('-')
      for (const text of [id, `tenant_id ${id}`, `${id}-ab12`, `"${id}"`]) expect(scrubText(text)).toBe(text)
    }
  })

  test("a URL's password, up to the authority's last @, as a driver or Node's ERR_INVALID_URL quotes it", () => {
    expect(scrubText('connect to postgres://shop:p@ss-w0rd@db.internal:99999/shop failed')).toBe(
      'connect to postgres://shop:[Filtered]@db.internal:99999/shop failed',
    )
    expect(scrubText('https://bot:hunter2@hooks.example.com/x, nor http://h/a@b nor https://u@h')).toBe(
      'https://bot:[Filtered]@hooks.example.com/x, nor http://h/a@b nor https://u@h',
    )
  })

  test('a phone number followed by a dash and a space, or at the end of a sentence, is still replaced', () => {
    expect(scrubText('+4915112345678 - unreachable')).toBe('[phone] - unreachable')
    expect(scrubText('ring 555-123-4567-')).toBe('ring [phone]-')
  })

  test.each([
    ['Authorization: Bearer adm1n-t0ken-5ecret', 'Authorization: Bearer [Filtered]'],
    ['basic dXNlcjpwYXNzd29yZA==', 'basic [Filtered]'],
    ['key sk_live_51HqK2xAbCdEf used', 'key [Filtered] used'],
    ['pk_test_abcdef123456', '[Filtered]'],
    ['whsec_0123456789abcdef', '[Filtered]'],
    ['AKIAIOSFODNN7EXAMPLE', '[Filtered]'],
    ['ghp_0123456789abcdefghijABCDEFGHIJ', '[Filtered]'],
    ['?api_key=zz-top-secret&page=2', '?api_key=[Filtered]&page=2'],
    ['{"password": "hunter22", "user": "ann"}', '{"password": "[Filtered]", "user": "ann"}'],
    ['client_secret=abc123 token=xyz', 'client_secret=[Filtered] token=[Filtered]'],
  ])('filters the credential in %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test("filters this service's own API keys wherever a client put them (path, User-Agent, message)", () => {
    // A key may end in `-` or `_` (base64url), which a `\b` would not bound.
    const keys = [...Array.from({ length: 20 }, generateApiKey), `ck_${'A'.repeat(41)}-_`]
    for (const key of keys) {
      expect(scrubText(`/probe/boom/${key}`)).toBe('/probe/boom/[Filtered]')
      expect(scrubText(`curl/8.5 ${key}`)).toBe('curl/8.5 [Filtered]')
      expect(scrubText(`"${key}"`)).toBe('"[Filtered]"')
    }
    // Another word ending in ck_ is no key.
    expect(scrubText('stack_trace lock_token')).toBe('stack_trace lock_token')
  })
})

describe('scrubEvent (beforeSend)', () => {
  test('drops bodies, cookies, query strings and local variables; keeps the user id only', () => {
    const event = {
      message: 'payment for +4915112345678 failed',
      request: {
        url: 'https://shop.example/orders/%2B4915112345678?phone=4915112345678&api_key=k',
        method: 'POST',
        data: { phone: '+4915112345678', note: 'leave at door' },
        cookies: { sid: 'abc' },
        query_string: 'phone=4915112345678',
        env: { REMOTE_ADDR: '10.0.0.1' },
        headers: {
          authorization: 'Bearer adm1n-t0ken-5ecret',
          cookie: 'sid=abc',
          'x-api-key': 'sk_live_51HqK2xAbCdEf',
          'user-agent': 'curl/8',
          'x-request-id': 'r-1',
        },
      },
      user: { id: 'tenant-1', ip_address: '10.0.0.1', email: 'owner@shop.example' },
      exception: {
        values: [
          {
            type: 'Error',
            value: 'cannot reach +4915112345678',
            stacktrace: { frames: [{ function: 'pay', vars: { phone: '+4915112345678' }, lineno: 3 }] },
          },
        ],
      },
      extra: { phone: '+4915112345678', attempt: 2, apiKey: 'k-123' },
      contexts: { payment_data: { orderId: 'ord-1', amountMinor: 990 } },
      breadcrumbs: [{ category: 'fetch', data: { url: 'https://api.whatsapp.test/send?to=+4915112345678' } }],
      tags: { request_id: 'r-1', tenant_id: 'tenant-1' },
    }
    expect(scrubEvent(event)).toEqual({
      message: 'payment for [phone] failed',
      request: {
        url: 'https://shop.example/orders/[phone]',
        method: 'POST',
        headers: {
          authorization: '[Filtered]',
          cookie: '[Filtered]',
          'x-api-key': '[Filtered]',
          'user-agent': 'curl/8',
          'x-request-id': 'r-1',
        },
      },
      user: { id: 'tenant-1' },
      exception: {
        values: [
          {
            type: 'Error',
            value: 'cannot reach [phone]',
            stacktrace: { frames: [{ function: 'pay', lineno: 3 }] },
          },
        ],
      },
      extra: { phone: '[Filtered]', attempt: 2, apiKey: '[Filtered]' },
      contexts: { payment_data: { orderId: 'ord-1', amountMinor: 990 } },
      breadcrumbs: [{ category: 'fetch', data: { url: 'https://api.whatsapp.test/send?to=[phone]' } }],
      tags: { request_id: 'r-1', tenant_id: 'tenant-1' },
    } as never)
  })

  test("a failed statement's parameters (names and phones a request sent) are not sent", () => {
    const event = {
      exception: {
        values: [
          {
            type: 'DrizzleQueryError',
            value:
              'Failed query: insert into "orders" ("phone", "name") values ($1, $2)\nparams: +254733444555,Amina\nWanjiru',
          },
          { type: 'Error', value: 'params: Amina' },
        ],
      },
    }
    expect(scrubEvent(event).exception.values).toEqual([
      {
        type: 'DrizzleQueryError',
        value: 'Failed query: insert into "orders" ("phone", "name") values ($1, $2)\nparams: [redacted]',
      },
      { type: 'Error', value: 'params: Amina' },
    ])
  })

  test('a user without an id is sent as no user', () => {
    expect(scrubEvent({ user: { ip_address: '10.0.0.1' } })).toEqual({ user: {} } as never)
  })
})

test('scrubSpan (beforeSendSpan) cleans the name and every attribute', () => {
  const span = {
    name: 'GET /customers/+4915112345678',
    span_id: 'abc',
    attributes: {
      'url.full': 'http://shop/customers/+4915112345678',
      'http.request.header.authorization': ['Bearer adm1n-t0ken-5ecret'],
      'http.request.header.x-customer-phone': ['+4915112345678'],
      'db.query.text': 'select * from orders where id = ?',
      'http.response.status_code': 200,
    },
  }
  expect(scrubSpan(span)).toEqual({
    name: 'GET /customers/[phone]',
    span_id: 'abc',
    attributes: {
      'url.full': 'http://shop/customers/[phone]',
      'http.request.header.authorization': '[Filtered]',
      'http.request.header.x-customer-phone': '[Filtered]',
      'db.query.text': 'select * from orders where id = ?',
      'http.response.status_code': 200,
    },
  } as never)
})

test('scrubDeep leaves getter-only properties it does not change alone (an SDK object would throw on write)', () => {
  const metadata = {}
  Object.defineProperty(metadata, 'scope', { get: () => 'internal', enumerable: true })
  const event = { extra: { note: 'call +254700000001', metadata } }
  expect(() => scrubDeep(event)).not.toThrow()
  expect(event.extra.note).toBe('call [phone]')
  expect((event.extra.metadata as { scope: string }).scope).toBe('internal')
})
