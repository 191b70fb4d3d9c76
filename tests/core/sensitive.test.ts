import { describe, expect, test } from 'bun:test'
import { REDACT_PATHS } from '../../src/core/logger.ts'
import { isSensitiveKey, SENSITIVE_LOG_KEYS } from '../../src/core/sensitive.ts'

describe('one list of sensitive keys', () => {
  test('every key the logger redacts is one the scrubber and config also hide', () => {
    expect(SENSITIVE_LOG_KEYS.filter((key) => !isSensitiveKey(key))).toEqual([])
  })

  test('the logger redacts each key at the top level and one level down', () => {
    for (const key of SENSITIVE_LOG_KEYS) {
      expect(REDACT_PATHS).toContain(key)
      expect(REDACT_PATHS).toContain(`*.${key}`)
    }
  })

  test('credentials, phone numbers and DSNs count; ordinary fields do not', () => {
    for (const name of [
      'Authorization',
      'x-api-key',
      'WHATSAPP_APP_SECRET',
      'ownerPhone',
      'SENTRY_DSN',
      'msisdn',
    ])
      expect(isSensitiveKey(name)).toBe(true)
    for (const name of ['tenantId', 'status', 'PORT', 'currency', 'priceMinor'])
      expect(isSensitiveKey(name)).toBe(false)
  })
})
