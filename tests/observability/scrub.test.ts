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

describe('scrubText: phone numbers in every form they reach a sink', () => {
  test.each([
    // Right after a word character: a wa_id in a name, a key, a path.
    ['wa_254711000200', 'wa_[phone]'],
    ['customer254711000200', 'customer[phone]'],
    ['id=wa254711000200&x=1', 'id=wa[phone]&x=1'],
    ['wa-254711000200', 'wa-[phone]'],
    ['order.5511987654321', 'order.[phone]'],
    // URL-encoded, once or twice: +, spaces, dashes, no-break spaces.
    ['/c/%2B254%20711%20000%20200/orders', '/c/[phone]/orders'],
    ['to=+254%20711%20000%20200', 'to=[phone]'],
    ['q=254%20711%20000%20200', 'q=[phone]'],
    ['to%3D%2B254711000200', 'to%3D[phone]'],
    ['to=%252B254711000200', 'to=[phone]'],
    ['name%20254711000200', 'name%20[phone]'],
    ['to=%2B254%2D711%2D000%2D200', 'to=[phone]'],
    ['+254%C2%A0711%C2%A0000%C2%A0200', '[phone]'],
    // JSON-escaped +.
    ['{"to":"\\u002B254711000200"}', '{"to":"[phone]"}'],
    // Dashes, dots, brackets, no-break and thin spaces.
    ['+1 (415) 555-0100', '[phone]'],
    ['(+254) 711 000 200', '[phone]'],
    ['0711.000.200', '[phone]'],
    ['254.711.000.200', '[phone]'],
    ['254-711-000-200', '[phone]'],
    ['+254\u00a0711\u00a0000\u00a0200', '[phone]'],
    ['+254\u2009711000200', '[phone]'],
    // A run joined to other numbers by blanks: the phone number in it is still found.
    ['order 12345 254711000200', 'order 12345 [phone]'],
    ['2026-12-05 254711000200', '2026-12-05 [phone]'],
    ['254711000200 254722000300', '[phone] [phone]'],
    // After an id, which is kept.
    ['550e8400-e29b-41d4-a716-446655440000 254711000200', '550e8400-e29b-41d4-a716-446655440000 [phone]'],
    ['4bf92f3577b34da6a3ce929d0e0e4736%20254711000200', '4bf92f3577b34da6a3ce929d0e0e4736%20[phone]'],
    // 11 digits from 1: a NANP number with its country code, a Chinese mobile.
    ['at 13812345678', 'at [phone]'],
    ['14155550100', '[phone]'],
  ])('replaces %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test.each([
    // Epoch seconds and milliseconds (E.164's leading 1 is the NANP: exactly 11 digits).
    'ts=1733440000000 at 1733440000',
    '{"time":1764977546123}',
    // Trace and span ids, fingerprints, hashes (16+ hex digits), also with digit-only tails.
    'trace 4bf92f3577b34da6a3ce929d012345678 span 00f067aa0ba902b7',
    'traceparent 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
    'fingerprint 0123456789abcdef, 1234567890123456, 0x7ffd1234567890ab',
    // UUIDs whose last group is all digits, alone or after a prefix.
    'order 550e8400-e29b-41d4-a716-446655440000',
    'ord-550e8400-e29b-41d4-a716-446655440000',
    // Decimals, durations with units, IP addresses, ports, versions, dates.
    'took 0.123456789s, 3.14159265358, 234567890ns, 12345678ms',
    'from 10.0.0.1:5432 and 192.168.100.200 running v14.6.202.34',
    'at 2026-12-05 23:32:26 and 05.12.2026 23:32 and 2026-12-05T23:32:26.123Z',
    'total 1999 KES, 1,234,567,890 and 12345678',
  ])('keeps %p', (input) => {
    expect(scrubText(input)).toBe(input)
  })
})

describe('scrubText: phone numbers as people write them', () => {
  test.each([
    // Arabic-Indic, Extended Arabic-Indic (Persian, Urdu), fullwidth and other scripts' digits.
    ['+٢٥٤ ٧١١ ٠٠٠ ٢٠٠', '[phone]'],
    ['call ٠٧١١٠٠٠٢٠٠ now', 'call [phone] now'],
    ['رقم ۰۳۰۰۱۲۳۴۵۶۷ لطفا', 'رقم [phone] لطفا'],
    ['０７１１０００２００', '[phone]'],
    ['電話は０９０－１２３４－５６７８です', '電話は[phone]です'],
    ['＋２５４\u3000７１１\u3000０００\u3000２００', '[phone]'],
    ['（＋８１）９０１２３４５６７８', '[phone]'],
    ['\u{1d7ce}\u{1d7d5}\u{1d7cf}\u{1d7cf}\u{1d7ce}\u{1d7ce}\u{1d7ce}\u{1d7d0}\u{1d7ce}\u{1d7ce}', '[phone]'],
    ['+254 ٧١١ 000 200', '[phone]'],
    // ASCII digits in a text with other characters.
    ['café +254711000200', 'café [phone]'],
    // A form body, where a space is a `+`.
    ['phone=254+711+000+200', 'phone=[phone]'],
    ['to=%2B254+711+000+200&x=1', 'to=[phone]&x=1'],
    ['q=order+12345+254711000200', 'q=order+12345+[phone]'],
    // Glued to a letter: an extension, a word it is inside, a leading +.
    ['254711000200x', '[phone]x'],
    ['254711000200x12', '[phone]x12'],
    ['254711000200ext.5', '[phone]ext.5'],
    ['tel254711000200abc', 'tel[phone]abc'],
    ['wa_254711000200id', 'wa_[phone]id'],
    ['wa-254711000200abc', 'wa-[phone]abc'],
    ['+254711000200abc', '[phone]abc'],
    // A quantity's number is no phone number; one before it still is.
    ['order 254711000200 254722000300ms', 'order [phone] 254722000300ms'],
  ])('replaces %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test.each([
    // A number and its unit.
    '254711000200ms',
    'took 234567890ns, 345678901us, 456789012µs and 567890123μs; -234567890ns',
    // Dates, addresses and amounts in Arabic-Indic digits, as isPhone judges ASCII ones.
    'on ٢٠٢٦-١٢-٠٥ from ١٩٢.١٦٨.١٠٠.٢٠٠, total ١٩٩٩ KES',
    'at ١٧٣٣٤٤٠٠٠٠ ms ١٧٣٣٤٤٠٠٠٠٠٠٠',
    // Hex ids with digit runs glued to letters, timestamps with an offset, in a text with é.
    'café 0a1b2c3d45678901234567e 4bf92f3577b34da6a3ce929d012345678deadbeef',
    'at 2026-12-05T23:32:26+03:00 and 23:32:26+0300',
    // ISO 8601 basic format: a form's `+` between the time and its offset is no separator here.
    'at 20261205T233226+0300, 20261205T233226-0300 and 20261205T2332+03',
  ])('keeps %p', (input) => {
    expect(scrubText(input)).toBe(input)
  })
})

describe('scrubText: secrets in every form they reach a sink', () => {
  test.each([
    // Named by a longer variable or parameter name.
    ['WHATSAPP_ACCESS_TOKEN=EAAGtest', 'WHATSAPP_ACCESS_TOKEN=[Filtered]'],
    [
      'GET /webhook?hub.mode=subscribe&hub.verify_token=s3cret-verify&x=1',
      'GET /webhook?hub.mode=subscribe&hub.verify_token=[Filtered]&x=1',
    ],
    ['app_secret: abc123', 'app_secret: [Filtered]'],
    ['alertmanager webhook_token=wh-123', 'alertmanager webhook_token=[Filtered]'],
    ['X-Hub-Signature-256: sha256=abcdef0123', 'X-Hub-Signature-256: [Filtered]'],
    [
      'X-Sentry-Auth: Sentry sentry_key=abc123, sentry_version=7',
      'X-Sentry-Auth: Sentry sentry_key=[Filtered], sentry_version=7',
    ],
    // URL-encoded and JSON-escaped.
    ['q=token%3Dabc123%26page%3D2', 'q=token%3D[Filtered]%26page%3D2'],
    ['authorization=Bearer%20abcdefgh', 'authorization=Bearer%20[Filtered]'],
    ['{\\"token\\":\\"abc\\"}', '{\\"token\\":\\"[Filtered]\\"}'],
    [`/keys/ck%5F${'A'.repeat(43)}`, '/keys/[Filtered]'],
    // A Meta access token without its name; a Sentry DSN's key.
    [`sent with EAAG${'m0PX4ZCpsBAKZA'.repeat(4)}`, 'sent with [Filtered]'],
    [
      'dsn https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/2',
      'dsn https://[Filtered]@o1.ingest.sentry.io/2',
    ],
  ])('filters %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test.each(['max_tokens=100 token_count=5', 'https://u@h/x', 'tokens used: 3'])('keeps %p', (input) => {
    expect(scrubText(input)).toBe(input)
  })
})

test('a long run of numbers is scrubbed in one pass, phone by phone (a body of digits could stall every sink)', () => {
  expect(scrubText(`ids ${'254711000200 0 '.repeat(3000)}end`)).toBe(`ids ${'[phone] '.repeat(3000)}end`)
  expect(scrubText('12-'.repeat(20000))).toBe('12-'.repeat(20000))
  expect(scrubText('١٢-'.repeat(20000))).toBe('١٢-'.repeat(20000))
  // One word of many runs glued to letters: its ids are read once, not once for each run.
  expect(scrubText(`x${'a254711000200b-'.repeat(3000)}`)).toBe(`x${'a[phone]b-'.repeat(3000)}`)
  expect(scrubText('254711000200ms '.repeat(3000))).toBe('254711000200ms '.repeat(3000))
})

describe('scrubText: payment card numbers', () => {
  test.each([
    // 16 digits are more than E.164's 15: these went out whole, or with their last group.
    ['card 4242424242424242 declined', 'card [card] declined'],
    ['card 4242 4242 4242 4242 declined', 'card [card] declined'],
    ['card 4242-4242-4242-4242', 'card [card]'],
    ['{"number":"5555555555554444","exp":"12/34"}', '{"number":"[card]","exp":"12/34"}'],
    ['source=tok_6011111111111117', 'source=tok_[card]'],
    ['unionpay 6200000000000005', 'unionpay [card]'],
    ['19 digits 4222222222222222224', '19 digits [card]'],
  ])('replaces the card number in %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test.each([
    // Luhn fails: an order number, not a card.
    'order 4242424242424241',
    // Epoch nanoseconds start with 1.
    'at 1765000000000000000 ns',
    // An all-digit run inside a hex id.
    'span ab42424242424242424242cd',
    'trace 12345678901234567890123456789012',
  ])('leaves %p alone', (input) => {
    expect(scrubText(input)).toBe(input)
  })

  test("an event's own trace and span ids stay as they are even when all their hex digits are decimal", () => {
    const trace = { trace_id: '42424242424242424242424242424242', span_id: '4242424242424242' }
    const event = scrubEvent({ contexts: { trace: { ...trace } }, extra: { span_id: '4242424242424242 x' } })
    expect(event).toEqual({ contexts: { trace }, extra: { span_id: '[card] x' } })
  })
})

describe('scrubText: phone numbers with the 00 international prefix', () => {
  // `00` instead of `+`: 16 and 17 digits, more than E.164's 15, went out whole.
  test.each([
    ['phone 0049151123456789 unreachable', 'phone [phone] unreachable'],
    ['phone 00491511234567890 unreachable', 'phone [phone] unreachable'],
    ['phone 0049 151 1234567890 unreachable', 'phone [phone] unreachable'],
    ['phone (0049) 151 1234567890 unreachable', 'phone [phone] unreachable'],
    ['GET /c/0049%20151%201234567890/x', 'GET /c/[phone]/x'],
    [
      'phone \u0660\u0660\u0664\u0669\u0661\u0665\u0661\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660 unreachable',
      'phone [phone] unreachable',
    ],
  ])('replaces the phone number in %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test.each([
    // 16 digits without `00` are no E.164 number, and this one fails Luhn: an order number.
    'order 4915112345678901',
    // `00` and 16 digits: more than E.164 allows.
    'id 004915112345678901',
    // No country code starts with 0 or, past 13 digits, with 1 (`001` is NANP: 1 and 10 digits).
    'id 0000000000000000',
    'id 0012345678901234',
  ])('leaves %p alone', (input) => {
    expect(scrubText(input)).toBe(input)
  })
})

describe('scrubText: card numbers in other scripts and separators', () => {
  // 4532 0151 1283 0366: Luhn holds. Each went out whole, or with its last 4 or 12 digits.
  test.each([
    [
      'Arabic-Indic digits',
      'card ',
      '\u0664\u0665\u0663\u0662\u0660\u0661\u0665\u0661\u0661\u0662\u0668\u0663\u0660\u0663\u0666\u0666',
    ],
    [
      'Extended Arabic-Indic digits, grouped',
      'card ',
      '\u06f4\u06f5\u06f3\u06f2 \u06f0\u06f1\u06f5\u06f1 \u06f1\u06f2\u06f8\u06f3 \u06f0\u06f3\u06f6\u06f6',
    ],
    [
      'fullwidth digits',
      'card ',
      '\uff14\uff15\uff13\uff12\uff10\uff11\uff15\uff11\uff11\uff12\uff18\uff13\uff10\uff13\uff16\uff16',
    ],
    [
      'fullwidth digits and an ideographic space',
      'card ',
      '\uff14\uff15\uff13\uff12\u3000\uff10\uff11\uff15\uff11\u3000\uff11\uff12\uff18\uff13\u3000\uff10\uff13\uff16\uff16',
    ],
    ['URL-encoded spaces', 'GET /pay?card=', '4532%200151%201283%200366'],
    ['twice URL-encoded spaces', 'GET /pay?card=', '4532%25200151%25201283%25200366'],
    ["a form's + for a space", 'POST card=', '4532+0151+1283+0366'],
    ['URL-encoded no-break spaces', 'GET /pay?card=', '4532%C2%A00151%C2%A01283%C2%A00366'],
    ['an encoded = before it', 'GET /pay?q=card%3D', '4532015112830366'],
    ['dots', 'card ', '4532.0151.1283.0366'],
    ['no-break spaces', 'card ', '4532\u00a00151\u00a01283\u00a00366'],
    ['narrow no-break spaces', 'card ', '4532\u202f0151\u202f1283\u202f0366'],
    ['Unicode dashes', 'card ', '4532\u20100151\u20111283\u22120366'],
  ])('replaces the card number written with %s', (_, prefix, card) => {
    expect(scrubText(`${prefix}${card} declined`)).toBe(`${prefix}[card] declined`)
  })

  test('a number just before the card (the run fails Luhn) does not hide the card after it', () => {
    expect(scrubText('qty 3 4532015112830366')).toBe('qty 3 [card]')
    expect(scrubText('ref 22 4532 0151 1283 0366')).toBe('ref 22 [card]')
    expect(
      scrubText(
        'ref \u0667 \u0664\u0665\u0663\u0662\u0660\u0661\u0665\u0661\u0661\u0662\u0668\u0663\u0660\u0663\u0666\u0666',
      ),
    ).toBe('ref \u0667 [card]')
  })

  test.each([
    // Luhn fails, in other digits too: an order number.
    'order \u0664\u0665\u0663\u0662\u0660\u0661\u0665\u0661\u0661\u0662\u0668\u0663\u0660\u0663\u0666\u0667',
    // A first digit outside 2–6 (Luhn holds) is no card; 16 digits are no phone number either.
    'id \uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff10',
    // The decimals of a number.
    'ratio 0.4532015112830366',
  ])('leaves %p alone', (input) => {
    expect(scrubText(input)).toBe(input)
  })
})

describe('scrubDeep: keys are data too', () => {
  test("a thrown plain object's keys (Sentry's __serialized__ extra) lose their phone numbers and cards", () => {
    // What captureException(object) puts in `extra.__serialized__`: the object, keys included.
    const event = scrubEvent<object>({
      extra: {
        __serialized__: { '+4915112345678': 'opted out', '4242424242424242': 'declined', plain: 1 },
      },
    })
    expect(event).toEqual({
      extra: { __serialized__: { '[phone]': 'opted out', '[card]': 'declined', plain: 1 } },
    })
  })

  test('a key that scrubs to the same name as another keeps the last value, no key in clear', () => {
    const out = scrubDeep<Record<string, number>>({ '+4915112345678': 1, '+4915112345679': 2 })
    expect(out).toEqual({ '[phone]': 2 })
  })
})

describe('idempotency keys', () => {
  test.each([
    ['Idempotency-Key: idem-abc-123 reused', 'Idempotency-Key: [Filtered] reused'],
    ['/orders?idempotency_key=idem-abc-123&x=1', '/orders?idempotency_key=[Filtered]&x=1'],
    ['{"idempotencyKey":"idem-abc-123"}', '{"idempotencyKey":"[Filtered]"}'],
  ])('filters the key in %p', (input, output) => {
    expect(scrubText(input)).toBe(output)
  })

  test('a value under an idempotency key name is filtered; the key TTL setting is not a key', () => {
    expect(
      scrubDeep({ 'idempotency-key': 'idem-1', idempotencyKey: 'idem-2', IDEMPOTENCY_KEY_TTL: '24h' }),
    ).toEqual({
      'idempotency-key': '[Filtered]',
      idempotencyKey: '[Filtered]',
      IDEMPOTENCY_KEY_TTL: '24h',
    })
  })
})
