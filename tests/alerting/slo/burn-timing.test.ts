import { describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { sloRuleGroups, sloRulesFileText } from '../../../scripts/slo/generate.ts'
import { parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import { run, withBinary } from '../../ops/ops-files.ts'
import { runOurs } from '../../prometheus/promtool/rule-test-files.ts'

/**
 * When the generated page and ticket alerts fire and resolve, held to the SRE workbook's
 * arithmetic ("Alerting on SLOs", multiwindow, multi-burn-rate) rather than to numbers read off
 * a run: phases of traffic (a clean baseline, a burst in which a share of the requests fail,
 * a recovery), minute by minute. Every window's error ratio is then exactly
 * Δerrors / Δrequests over the samples it holds (both counters start at 0 and are sampled on
 * the window's edges, so Prometheus' extrapolatedRate neither extrapolates nor differs between
 * them), the alert conditions are Sloth's (factor × budget in the long and the short window),
 * and the minutes each alert starts and stops firing follow. The same promtool test file goes
 * through the real promtool and `rules:test`; both must pass it.
 */

const MINUTES: Record<string, number> = {
  '5m': 5,
  '30m': 30,
  '1h': 60,
  '2h': 120,
  '6h': 360,
  '1d': 1440,
  '3d': 4320,
}

/**
 * The workbook's table for a 30-day period (Sloth's defaults), written out here rather than
 * read from BURN_ALERTS, so that a wrong factor or window there fails this test.
 */
const WORKBOOK = {
  page: [
    { long: '1h', short: '5m', factor: 14.4 },
    { long: '6h', short: '30m', factor: 6 },
  ],
  ticket: [
    { long: '1d', short: '2h', factor: 3 },
    { long: '3d', short: '6h', factor: 1 },
  ],
}

/** `minutes` minutes of `rate` requests a minute, of which a share `failing` fail. */
interface Phase {
  minutes: number
  rate: number
  failing: number
}

interface Case {
  objective: number
  phases: Phase[]
  /** Spec labels with odd values, and an alert label that is a template (ODD_LABELS). */
  oddLabels?: boolean
}

const counted = new WeakMap<Case, { ok: number[]; failed: number[] }>()

/** The two counters at every minute from 0: requests answered 200 and 500. */
function counters(c: Case) {
  const seen = counted.get(c)
  if (seen) return seen
  const ok = [0]
  const failed = [0]
  for (const { minutes, rate, failing } of c.phases)
    for (let i = 0; i < minutes; i++) {
      const errors = Math.round(rate * failing)
      ok.push(ok.at(-1)! + rate - errors)
      failed.push(failed.at(-1)! + errors)
    }
  counted.set(c, { ok, failed })
  return { ok, failed }
}

/**
 * The error ratio of a window at minute `t`: the samples from max(0, t − window) to t, both
 * edges included (Prometheus 2.x range selectors), with no extrapolation (see above).
 */
function ratio(c: Case, window: string, t: number): number {
  const { ok, failed } = counters(c)
  const from = Math.max(0, t - MINUTES[window]!)
  const errors = failed[t]! - failed[from]!
  return errors / (errors + ok[t]! - ok[from]!)
}

/** Whether Sloth's alert of `severity` fires at minute `t` (no `for`, as Sloth's). */
function fires(c: Case, severity: 'page' | 'ticket', t: number): boolean {
  // As the rules write it: 12 significant digits (errorBudget), 0.001 rather than 0.00099999…
  const budget = Number((1 - c.objective / 100).toPrecision(12))
  return WORKBOOK[severity].some(({ long, short, factor }) => {
    const threshold = factor * budget
    for (const w of [long, short]) {
      // A ratio this close to its threshold would test float rounding, not the rules.
      const r = ratio(c, w, t)
      if (r > 0 && Math.abs(r - threshold) < 1e-9) throw new Error(`${w} at ${t}m sits on the threshold`)
    }
    return ratio(c, long, t) > threshold && ratio(c, short, t) > threshold
  })
}

const lastMinute = (c: Case) => c.phases.reduce((sum, p) => sum + p.minutes, 0)

/** Every minute an alert starts or stops firing, with the minute before it, and the last minute. */
function transitions(c: Case): number[] {
  const end = lastMinute(c)
  const minutes = new Set<number>()
  for (const severity of ['page', 'ticket'] as const)
    for (let t = 1; t <= end; t++)
      if (fires(c, severity, t) !== fires(c, severity, t - 1)) minutes.add(t - 1).add(t)
  minutes.add(end)
  return [...minutes].sort((a, b) => a - b)
}

/**
 * Labels others write: quotes, a backslash, a newline, non-ASCII, and template syntax, which
 * Prometheus leaves as it is in a recording's labels and expands in an alert's own labels.
 */
const ODD_SPEC_LABELS = `labels:
  quote: 'he said "hi" \\ back'
  newline: "line1\\nline2"
  template: "{{ $labels.sloth_slo }}"
  unicode: "ünïcödé 🚀"
`
/** What the alerts carry from ODD_SPEC_LABELS and the alert label `team`. */
const ODD_ALERT_LABELS = {
  quote: 'he said "hi" \\ back',
  newline: 'line1\nline2',
  template: '{{ $labels.sloth_slo }}',
  unicode: 'ünïcödé 🚀',
  team: 'availability-team',
}

const spec = ({ objective, oddLabels }: Case) =>
  parseSlothSpec(`version: prometheus/v1
service: shop
${oddLabels ? ODD_SPEC_LABELS : ''}slos:
  - name: availability
    objective: ${objective}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}])) or 0 * sum(rate(http_requests_total[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}])) > 0
    alerting:
      name: ShopBurn
${oddLabels ? '      labels:\n        team: "{{ $labels.sloth_slo }}-team"\n' : ''}      annotations:
        summary: burning
        description: too fast
`)

function suite(c: Case, dir: string): string {
  const s = spec(c)
  writeFileSync(join(dir, 'slo.yml'), sloRulesFileText(s))
  const { ok, failed } = counters(c)
  const file = join(dir, 'slo.test.yml')
  const ids = { sloth_id: 'shop-availability', sloth_service: 'shop', sloth_slo: 'availability' }
  writeFileSync(
    file,
    stringify({
      rule_files: ['slo.yml'],
      evaluation_interval: '1m',
      group_eval_order: sloRuleGroups(s).map((g) => g.name),
      tests: [
        {
          interval: '1m',
          input_series: [
            { series: 'http_requests_total{code="200"}', values: ok.join(' ') },
            { series: 'http_requests_total{code="500"}', values: failed.join(' ') },
          ],
          alert_rule_test: transitions(c).map((t) => ({
            eval_time: `${t}m`,
            alertname: 'ShopBurn',
            exp_alerts: (['page', 'ticket'] as const)
              .filter((severity) => fires(c, severity, t))
              .map((severity) => ({
                exp_labels: { ...ids, sloth_severity: severity, ...(c.oddLabels ? ODD_ALERT_LABELS : {}) },
                exp_annotations: { summary: 'burning', description: 'too fast' },
              })),
          })),
        },
      ],
    }),
  )
  return file
}

const clean = (minutes: number, rate = 10_000): Phase => ({ minutes, rate, failing: 0 })
const burst = (minutes: number, failing: number, rate = 10_000): Phase => ({ minutes, rate, failing })

// Objectives others write: 99.9, 99.95, 99 and 90 (whose page can only fire on the 6h and 30m
// condition: 14.4 × 10 % is above any ratio). Six clean hours first, so that the 6h window is
// full when the burst starts.
const CASES: Array<Case & { title: string }> = [
  {
    title: '99.9 %, 3.07 % errors for 59 min',
    objective: 99.9,
    phases: [clean(360), burst(59, 0.0307), clean(401)],
  },
  {
    title: '99.95 %, 1.13 % errors for 91 min',
    objective: 99.95,
    phases: [clean(360), burst(91, 0.0113), clean(389)],
  },
  {
    title: '99 %, 21.13 % errors for 30 min, odd label values',
    objective: 99,
    oddLabels: true,
    phases: [clean(360), burst(30, 0.2113), clean(390)],
  },
  {
    title: '90 %, 81.13 % errors for 2 h',
    objective: 90,
    phases: [clean(360), burst(120, 0.8113), clean(380)],
  },
  // The ticket's 3× condition over 1d and 2h, alone: a busy first half hour (30 million clean
  // requests) keeps the 3d window's ratio under the budget, while the 1d window, a day later,
  // holds only the quiet traffic and the burst (5 % of 1000 a minute: 0.05k / 1440 > 0.003
  // from the 87th minute).
  {
    title: '99.9 %, 5 % errors a day after a busy start: the ticket on 1d and 2h alone',
    objective: 99.9,
    phases: [clean(30, 1_000_000), clean(1440, 1000), burst(120, 0.05, 1000), clean(60, 1000)],
  },
]

describe('burn-rate alerts fire and resolve at the minutes the workbook arithmetic gives', () => {
  test('the arithmetic itself: 99.9 % with 3.07 % errors from 6h on for 59 min', () => {
    const c = CASES[0]!
    // Ticket: 1× over 3d (0.0307k / (360 + k) > 0.001 → k > 12.1) and 6h (0.0307k / 360 > 0.001 → k > 11.7).
    // Page: 14.4× over 1h (0.0307k / 60 > 0.0144 → k > 28.1) and 5m (from k = 3).
    expect([12, 13, 28, 29].map((k) => [fires(c, 'ticket', 360 + k), fires(c, 'page', 360 + k)])).toEqual([
      [false, false],
      [true, false],
      [true, false],
      [true, true],
    ])
    // The page resolves once the 5m window holds 2 of the burst's minutes (2/5 × 3.07 % < 1.44 %),
    // 3 min after it; the ticket once the 6h window holds 11 (11/360 × 3.07 % < 0.1 %).
    expect(transitions(c)).toEqual([372, 373, 388, 389, 421, 422, 767, 768, 820])
  })

  test('the arithmetic itself: the ticket of the busy start fires on 1d and 2h only, from the 87th minute', () => {
    const c = CASES[4]!
    expect([1470 + 86, 1470 + 87].map((t) => fires(c, 'ticket', t))).toEqual([false, true])
    expect(ratio(c, '3d', 1470 + 120)).toBeLessThan(0.001)
  })

  for (const c of CASES) {
    const inFreshDir = (check: (file: string) => void) => () => {
      const dir = mkdtempSync(join(tmpdir(), 'slo-timing-'))
      try {
        check(suite(c, dir))
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    }
    withBinary('promtool', 'apt-get install -y prometheus')(
      `promtool: ${c.title}`,
      inFreshDir((file) => {
        const { exitCode, output } = run(['promtool', 'test', 'rules', file])
        expect(output).toContain('SUCCESS')
        expect(exitCode).toBe(0)
      }),
      60_000,
    )
    test(
      `rules:test: ${c.title}`,
      inFreshDir((file) => {
        const { code, stdout, stderr } = runOurs([file])
        expect(stderr).toBe('')
        expect(stdout).toContain('SUCCESS')
        expect(code).toBe(0)
      }),
      120_000,
    )
  }
})
