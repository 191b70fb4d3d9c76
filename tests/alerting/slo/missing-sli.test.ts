import { describe, expect, test } from 'bun:test'
import { availSpec, refusal } from './spec-text.ts'

// A missing SLI or SLI query is named as missing. Before, a spec without `sli` (or with `sli:`
// holding neither kind, e.g. `row:` for `raw:`) was told "sli.events.error_query must be a
// query containing {{.window}}", and a missing query read as one lacking the placeholder.

/** A one-SLO spec whose `sli:` block is `sli` (lines indented under it, or '' for none). */

const NEITHER =
  'slo "avail": sli needs events (error_query and total_query) or raw (error_ratio_query); it has neither'

describe('a missing SLI', () => {
  test('no sli, an empty one or a misspelt kind: both kinds are named, as Sloth requires one', () => {
    expect([
      refusal(availSpec({ sli: '' })),
      refusal(availSpec({ sli: '    sli:' })),
      refusal(availSpec({ sli: '    sli: {}' })),
      refusal(availSpec({ sli: '    sli:\n      row:\n        error_ratio_query: rate(e[{{.window}}])' })),
    ]).toEqual([NEITHER, NEITHER, NEITHER, NEITHER])
  })

  test('a missing or empty query is named as missing; one without the placeholder as such', () => {
    expect([
      refusal(availSpec({ sli: '    sli:\n      events:\n        total_query: sum(rate(t[{{.window}}]))' })),
      refusal(
        availSpec({
          sli: '    sli:\n      events:\n        error_query: sum(rate(e[{{.window}}]))\n        total_query: ""',
        }),
      ),
      refusal(availSpec({ sli: '    sli:\n      events: {}' })),
      refusal(availSpec({ sli: '    sli:\n      raw:\n        error_ratio_query:' })),
      refusal(
        availSpec({
          sli: '    sli:\n      events:\n        error_query: sum(rate(e[5m]))\n        total_query: sum(rate(t[{{.window}}]))',
        }),
      ),
    ]).toEqual([
      'slo "avail": sli.events.error_query is missing (a query containing {{.window}})',
      'slo "avail": sli.events.total_query is missing (a query containing {{.window}})',
      'slo "avail": sli.events.error_query is missing (a query containing {{.window}})',
      'slo "avail": sli.raw.error_ratio_query is missing (a query containing {{.window}})',
      'slo "avail": sli.events.error_query must be a query containing {{.window}}',
    ])
  })
})
