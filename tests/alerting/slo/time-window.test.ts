import { describe, expect, test } from 'bun:test'
import { sloRuleGroups } from '../../../scripts/slo/generate.ts'
import { parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import { availSpec, refusal } from './spec-text.ts'

// `time_window` is no field of Sloth's prometheus/v1 spec (pkg/prometheus/api/v1 v1.go; the
// period is the CLI's --default-slo-period, 30d), but specs carry it, after OpenSLO's
// `timeWindow` or Sloth's 28-day catalogue entry. Ignored, `time_window: 28d` gave 30-day
// budgets and alerts without a word.

/** A one-SLO spec; `top` goes after `service`, `slo` after the SLO's objective. */

const REST =
  "is not supported: Sloth's prometheus/v1 spec has no period field (Sloth ignores it and writes 30d rules), and this generator writes 30d rules only; remove it or set it to 30d"

describe('time_window', () => {
  test('any period but the 30 days generated is refused, naming the field, on the SLO or the spec', () => {
    expect([
      refusal(availSpec({ slo: '    time_window: 28d' })),
      refusal(availSpec({ slo: '    time_window: 7d' })),
      refusal(availSpec({ slo: '    time_window: 4w' })),
      refusal(availSpec({ slo: '    time_window: 30' })),
      refusal(availSpec({ top: 'time_window: 28d' })),
    ]).toEqual([
      `slo "avail": time_window "28d" ${REST}`,
      `slo "avail": time_window "7d" ${REST}`,
      `slo "avail": time_window "4w" ${REST}`,
      `slo "avail": time_window "30" ${REST}`,
      `time_window "28d" ${REST}`,
    ])
  })

  test('30d, however spelt, gives the rules of a spec without it (the 30-day period)', () => {
    const plain = parseSlothSpec(availSpec())
    for (const options of [
      { slo: '    time_window: 30d' },
      { slo: '    time_window: 720h' },
      { top: 'time_window: 30d' },
    ])
      expect(parseSlothSpec(availSpec(options))).toEqual(plain)
    const period = sloRuleGroups(plain)
      .flatMap((g) => g.rules)
      .find((r) => 'record' in r && r.record === 'slo:time_period:days')
    expect(period?.expr).toBe('30')
  })
})
