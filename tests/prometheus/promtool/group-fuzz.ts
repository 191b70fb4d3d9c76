/**
 * The seeded differential fuzzer for rule groups: one to three groups of recording rules
 * chained on each other (within a group and across groups, in the order a
 * `group_eval_order` gives), with rule labels that rename or collide, scalar and string results,
 * and alerting rules on recorded series; a group `limit` now and then. The tests query the
 * recorded series at random times, including what only their staleness shows
 * (`count_over_time`, `absent`, `last_over_time`, `offset`), so that each group's stale
 * markers for series that vanished (Prometheus' `rules/group.go` `Eval`, `seriesInPreviousEval`)
 * and every evaluation error promtool reports (`rule: …, time: …, err: …`) are compared too.
 * Each suite goes through Debian's `promtool test rules` 2.42 (the truth) and our
 * `runRuleTests`; the exit status and the whole report must be the same.
 *
 *   bun tests/prometheus/promtool/group-fuzz.ts [--seed N] [--cases N] [--show N]
 */
import { Rng } from '../promql/differential/generator.ts'
import { type AlertSuite, inputSeries, suitesCli } from './alert-fuzz.ts'

const VALUES = ['0', '1', '2', '3', '_', '_', 'stale', '-1', '0.5', '1x2', '_x2']
/**
 * `P` is a series recorded earlier (or, first, the input `m`), `T` a small threshold. No
 * `topk`/`bottomk`: among equal values Prometheus keeps the series it created first, ours the
 * first in label order (README, "Agreement with Prometheus").
 */
const RECORD_EXPRS = [
  'sum(P)',
  'sum by (i) (P)',
  'P * 2',
  'P > T',
  'P + 1',
  'count(P)',
  'absent(P)',
  'rate(P[2m])',
  'max_over_time(P[3m])',
  'P offset 1m',
  'changes(P[5m])',
  'vector(1)',
  'time()',
  'scalar(sum(P))',
  'label_replace(P, "j", "$1", "i", "(.*)")',
  'P unless P > T',
  'sum without (i) (P)',
  'P or vector(0)',
  'last_over_time(P[2m])',
  '-P',
  'P == bool T',
]
/** Rule results that fail the rule once they hold two series, or always: picked one time in ten. */
const FAILING_EXPRS = ['"text"', 'label_replace(P, "i", "x", "", "")', 'P', 'P', 'P']
const RECORD_LABELS = ['', '', '', 'labels: {k: v}', 'labels: {team: a}']
/** Rule labels that merge the series of `i`: the rule fails when it returns two of them. */
const MERGING_LABELS = ['labels: {i: fixed}', "labels: {i: ''}", 'labels: {team: a, i: "2"}']
const ALERT_EXPRS = ['P > T', 'absent(P)', 'count(P) > 1', 'P', 'changes(P[3m]) > 0']
const FORS = ['', '', 'for: 1m', 'for: 2m', 'for: 30s']
/** `R` is a recorded series: what the tests ask of it at each tested time. */
const QUERIES = [
  'R',
  'count_over_time(R[3m])',
  'absent(R)',
  'last_over_time(R[2m])',
  'R offset 1m',
  '{__name__=~"r.*"}',
  'count by (__name__) ({__name__=~"r.*"} offset 30s)',
  'timestamp(R)',
]

function shuffled<T>(rng: Rng, items: readonly T[]): T[] {
  const out = [...items]
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1)
    ;[out[i], out[j]] = [out[j] as T, out[i] as T]
  }
  return out
}

/** `count` suites, reproducible from `seed`. */
export function groupSuites(seed: number, count: number): AlertSuite[] {
  const rng = new Rng(seed)
  const out: AlertSuite[] = []
  for (let c = 0; c < count; c++) {
    const evaluationInterval = rng.pick(['1m', '1m', '30s', '2m'])
    const series = inputSeries(rng, 1 + rng.int(3), 10, VALUES)
    const recorded: string[] = []
    const alerts: string[] = []
    const groups: string[] = []
    const groupNames: string[] = []
    for (let g = 1 + rng.int(3); g > 0; g--) {
      const name = `g${groupNames.length}`
      groupNames.push(name)
      const rules: string[] = []
      for (let r = 1 + rng.int(3); r > 0; r--) {
        const source = () => (recorded.length > 0 && rng.chance(0.7) ? rng.pick(recorded) : 'm')
        const threshold = rng.pick(['0', '1', '2'])
        if (recorded.length > 0 && rng.chance(0.2)) {
          const expr = rng.pick(ALERT_EXPRS).replaceAll('P', source()).replaceAll('T', threshold)
          const fields = [rng.pick(FORS), rng.chance(0.3) ? "labels: {v: '{{ $value }}'}" : '']
          // Now and then an alert name used before: two rules writing one ALERTS_FOR_STATE series.
          const alert = alerts.length > 0 && rng.chance(0.3) ? rng.pick(alerts) : `A${c}_${alerts.length}`
          if (!alerts.includes(alert)) alerts.push(alert)
          rules.push(
            [
              `      - alert: ${alert}`,
              `        expr: '${expr}'`,
              ...fields.filter(Boolean).map((f) => `        ${f}`),
            ].join('\n'),
          )
          continue
        }
        // Now and then a name used before, or the input's: two writers of one series name.
        const record =
          recorded.length > 0 && rng.chance(0.1)
            ? rng.pick(recorded)
            : rng.chance(0.03)
              ? 'm'
              : `r${recorded.length}`
        const failing = rng.chance(0.1)
        const expr = rng
          .pick(failing ? FAILING_EXPRS : RECORD_EXPRS)
          .replaceAll('P', source())
          .replaceAll('T', threshold)
        const labels = rng.pick(failing && rng.chance(0.6) ? MERGING_LABELS : RECORD_LABELS)
        rules.push(
          [
            `      - record: ${record}`,
            `        expr: '${expr}'`,
            ...(labels ? [`        ${labels}`] : []),
          ].join('\n'),
        )
        if (!recorded.includes(record)) recorded.push(record)
      }
      const limit = rng.chance(0.1) ? `    limit: ${1 + rng.int(2)}\n` : ''
      const interval = rng.chance(0.3) ? `    interval: ${rng.pick(['30s', '1m', '2m'])}\n` : ''
      groups.push(`  - name: ${name}\n${interval}${limit}    rules:\n${rules.join('\n')}`)
    }
    // Without a complete group_eval_order promtool 2.42 evaluates groups in Go's map order
    // (`orderedGroups` sorts a map's values by an order every unlisted group ties in), which
    // changes from run to run: the order is always given when there is more than one group.
    const order =
      groupNames.length > 1
        ? `group_eval_order: [${(rng.chance(0.5) ? groupNames : shuffled(rng, groupNames)).join(', ')}]\n`
        : ''
    const times = new Set<string>()
    for (let k = 2 + rng.int(3); k > 0; k--) times.add(`${rng.int(12)}m${rng.chance(0.3) ? '30s' : ''}`)
    const queries = [...times].flatMap((t) =>
      Array.from({ length: 1 + rng.int(2) }, () => {
        const query = rng.pick(QUERIES).replaceAll('R', recorded.length > 0 ? rng.pick(recorded) : 'm')
        return `      - {expr: '${query}', eval_time: ${t}, exp_samples: []}`
      }),
    )
    queries.push(`      - {expr: 'ALERTS', eval_time: ${rng.pick([...times])}, exp_samples: []}`)
    out.push({
      rules: `groups:\n${groups.join('\n')}\n`,
      tests: `rule_files: [rules.yml]\nevaluation_interval: ${evaluationInterval}\n${order}tests:\n  - interval: 1m\n    input_series:\n${series.join('\n')}\n    promql_expr_test:\n${queries.join('\n')}\n`,
    })
  }
  return out
}

if (import.meta.main) await suitesCli(groupSuites, 'failed in promtool')
