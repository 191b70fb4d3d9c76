import { describe, expect, test } from 'bun:test'
import { parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import { availSpec, refusal } from './spec-text.ts'

// The recordings of an SLO carry sloth_id, sloth_service and sloth_slo, and its burn-rate
// recordings and alerts select them by those. Sloth merges the spec's labels over them, so
// `labels: {sloth_id: x}` relabelled every recording away from the selectors: promtool
// passed the file, and at 100 % errors the SLO had no burn rate and never alerted (checked
// with `promtool test rules`).

/** A one-SLO spec; `top` goes after `service`, `slo` after the SLO's objective. */

const WHY =
  "is set by the generator (sloth_id, sloth_service, sloth_slo identify the SLO's recordings, and its rules select them by these); remove it"

describe('id labels in a spec', () => {
  test('an SLO or spec label named sloth_id, sloth_service or sloth_slo is refused, naming it', () => {
    expect([
      refusal(availSpec({ slo: '    labels:\n      sloth_id: mine' })),
      refusal(availSpec({ slo: '    labels:\n      team: a\n      sloth_service: other' })),
      refusal(availSpec({ top: 'labels:\n  sloth_slo: x' })),
    ]).toEqual([
      `slo "avail": labels: the label "sloth_id" ${WHY}`,
      `slo "avail": labels: the label "sloth_service" ${WHY}`,
      `labels: the label "sloth_slo" ${WHY}`,
    ])
  })

  test('other sloth_ labels stay allowed: an alert may set its own sloth_severity, as in Sloth', () => {
    const parsed = parseSlothSpec(availSpec({ alerting: '      labels:\n        sloth_severity: critical' }))
    expect(parsed.slos[0]!.alerting.labels).toEqual({ sloth_severity: 'critical' })
  })
})
