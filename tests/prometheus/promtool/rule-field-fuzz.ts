/**
 * `bun tests/prometheus/promtool/rule-field-fuzz.ts [--seed N] [--cases N] [--show N]`: the
 * seeded differential fuzzer for the values of rule files' fields. Each case is a well-formed
 * YAML rule file with one group of one or two rules whose fields hold values people write,
 * right and wrong: rule names that are no metric name, `for`, `keep_firing_for` and the
 * group's `interval` in every spelling of a duration (and as a null, a list or a map), a
 * `limit` of any type, label and annotation names and values of every YAML type, templates,
 * expressions that are strings, numbers, blocks or broken, and group fields Prometheus 2.42
 * does not know. Each goes through Debian's `promtool test rules` 2.42 (the truth) and our
 * `runRuleTests` with one alert_rule_test, and the exit status and the whole report must be
 * the same. yaml-fuzz.ts breaks the YAML itself; this one keeps it valid and breaks what
 * rulefmt.go `RuleNode.Validate` and `RuleGroups.Validate` check.
 * Prints `seed S: N cases, N agree, N differ` and the first differences.
 */
import { numberArg as arg, Rng } from '../promql/differential/generator.ts'
import { bothReports } from './rule-test-files.ts'

const DURATIONS = [
  '5m',
  '5min',
  '1h30m',
  '0',
  '0s',
  '-1m',
  '1.5m',
  '1d',
  '1w',
  '1y',
  '5M',
  '300',
  '"5m"',
  "'10m'",
  '1h 30m',
  '90s',
  '1ms',
  '1µs',
  '1us',
  '5m5m',
  '2w1d',
  '1y1w1d1h1m1s1ms',
  '',
  '~',
  'null',
  '[5m]',
  '{a: b}',
  '1e3s',
  '9999999999y',
  '292y',
  '293y',
  '0x10s',
  '5 m',
  '01m',
  '00',
  '5mm',
]
const RULE_NAMES = [
  'Up',
  'up down',
  'a-b',
  'a:b',
  '1x',
  '_x',
  'é',
  '""',
  '"x y"',
  '"a\\nb"',
  'null',
  '~',
  'true',
  '1',
  '0.5',
  '[a]',
  '__name__',
  'ALERTS',
  'a.b',
  '"{{ $value }}"',
  'a{b}',
  '"{{"',
]
const LABEL_NAMES = [
  'severity',
  'bad-name',
  '1x',
  '__name__',
  '_x',
  'a:b',
  'é',
  '""',
  'alertname',
  '__meta',
  'a.b',
  'true',
  '1',
  'null',
  '~',
  'x y',
]
const LABEL_VALUES = [
  'page',
  '"{{ $value }}"',
  '"{{ $labels.x }}"',
  '1',
  'true',
  '1.5',
  'null',
  '~',
  '""',
  '"\\xff"',
  '[a]',
  '{a: b}',
  '"{{ end }}"',
  '0x10',
  '1e3',
  '2024-01-01',
  'yes',
  'No',
  '.inf',
  '-.Inf',
  '.nan',
  '0o17',
  '017',
  '+1',
  '1_000',
]
const EXPRS = [
  'vector(1)',
  'vector(1)',
  '1',
  '"up"',
  'up{',
  "'sum(up)'",
  'null',
  '~',
  '""',
  '[up]',
  '1e3',
  'true',
  '|\n          sum(up)',
  '>-\n          up\n          > 0',
  'up @ 5',
  'foo offset 1m',
  '"{{ $value }}"',
  'rate(up[5m])',
  'up[5m]',
  '"a"',
]
/**
 * Not `query_offset` nor group `labels`: we accept them as Prometheus 2.53 and 3.0 do, where
 * 2.42 refuses them (README, "Agreement with Prometheus").
 */
const GROUP_FIELDS = ['bogus: 1', 'name: h', 'rules: []', 'interval: 1m', 'limit: 2']
const LIMITS = ['0', '-1', '1', '1.5', '"2"', 'null', '9223372036854775808']

/** One rule, an alert 7 times in 10, each optional field present or not. */
function rule(rng: Rng): string {
  const alert = rng.chance(0.7)
  const name = rng.chance(0.5) ? rng.pick(RULE_NAMES) : alert ? 'A' : 'r:x'
  const lines = [`      - ${alert ? 'alert' : 'record'}: ${name}`, `        expr: ${rng.pick(EXPRS)}`]
  if (rng.chance(0.6)) lines.push(`        for: ${rng.pick(DURATIONS)}`)
  if (rng.chance(0.3)) lines.push(`        keep_firing_for: ${rng.pick(DURATIONS)}`)
  // One name per map: Go reports a map's bad names in its random iteration order.
  if (rng.chance(0.6))
    lines.push(`        labels:\n          ${rng.pick(LABEL_NAMES)}: ${rng.pick(LABEL_VALUES)}`)
  if (rng.chance(0.5))
    lines.push(`        annotations:\n          ${rng.pick(LABEL_NAMES)}: ${rng.pick(LABEL_VALUES)}`)
  return `${lines.join('\n')}\n`
}

/** A rule file of one group, reproducible from the generator's state. */
export function ruleFile(rng: Rng): string {
  let out = 'groups:\n  - name: g\n'
  if (rng.chance(0.3)) out += `    interval: ${rng.pick(DURATIONS)}\n`
  if (rng.chance(0.2)) out += `    limit: ${rng.pick(LIMITS)}\n`
  if (rng.chance(0.2)) out += `    ${rng.pick(GROUP_FIELDS)}\n`
  out += `    rules:\n${rule(rng)}`
  return rng.chance(0.3) ? out + rule(rng) : out
}

const TESTS =
  'rule_files: [rules.yml]\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series: []\n    alert_rule_test:\n      - eval_time: 2m\n        alertname: A\n'

if (import.meta.main) {
  const seed = arg('--seed', 1)
  const count = arg('--cases', 200)
  const rng = new Rng(seed)
  let differ = 0
  for (let i = 0; i < count; i++) {
    const rules = ruleFile(rng)
    const { real, mine } = await bothReports(rules, TESTS)
    if (real.code === mine.code && real.stdout === mine.stdout && real.stderr === mine.stderr) continue
    if (++differ <= arg('--show', 5)) {
      console.log(
        `\n${rules}  promtool (${real.code}): ${(real.stdout + real.stderr).trim()}\n  ours (${mine.code}):     ${(mine.stdout + mine.stderr).trim()}`,
      )
    }
  }
  console.log(`seed ${seed}: ${count} cases, ${count - differ} agree, ${differ} differ`)
}
