import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { sloRuleGroups, sloRulesFileText } from '../../../scripts/slo/generate.ts'
import { objectiveWarnings, parseSlothSpec } from '../../../src/alerting/slo/spec.ts'
import { repoPath, run, withBinary } from '../../ops/ops-files.ts'
import { runOurs } from '../../prometheus/promtool/rule-test-files.ts'

// A bun subprocess and promtool over days of series: past bun's 5 s default on loaded cores.
setDefaultTimeout(60_000)

// `objective: 0.999` is the commonest slip in specs others write: a ratio where Sloth wants a
// percentage. Sloth accepts it (0 < objective ≤ 100) as 0.999 %, a 99.001 % budget, and its
// page alert can then never fire. The generator writes what Sloth writes, and says so.

const specText = (objective: number, pageAlert = '') => `version: prometheus/v1
service: shop
slos:
  - name: availability
    objective: ${objective}
    sli:
      events:
        error_query: sum(rate(http_requests_total{code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total[{{.window}}]))
    alerting:
      name: ShopBurn
      annotations:
        summary: burning
        description: too fast
${pageAlert}`

const DEAD_PAGE =
  'the page alert can never fire: 14.4 × and 6 × the budget are at least 1, an error ratio no window can exceed'

describe('objectiveWarnings', () => {
  test.each([
    [99.9, []],
    [99.95, []],
    [99, []],
    // The page's 14.4× condition is dead (1.44), its 6× one is not (0.6): no warning.
    [90, []],
    [83.34, []],
    [83.33, [`slo "availability": with an error budget of 16.67 % ${DEAD_PAGE}`]],
    [
      0.999,
      [
        `slo "availability": objective 0.999 is 0.999 %, not 99.9 %: objectives are percentages (write 99.9 for 99.9 %); with an error budget of 99.001 % ${DEAD_PAGE}`,
      ],
    ],
    [
      0.5,
      [
        `slo "availability": objective 0.5 is 0.5 %, not 50 %: objectives are percentages (write 99.9 for 99.9 %); with an error budget of 99.5 % ${DEAD_PAGE}`,
      ],
    ],
  ])('objective %p', (objective, warnings) => {
    expect(objectiveWarnings(parseSlothSpec(specText(objective)))).toEqual(warnings)
  })

  test('a disabled page alert is not warned about', () => {
    expect(objectiveWarnings(parseSlothSpec(specText(50)))).toEqual([
      `slo "availability": with an error budget of 50 % ${DEAD_PAGE}`,
    ])
    expect(
      objectiveWarnings(parseSlothSpec(specText(50, '      page_alert:\n        disable: true\n'))),
    ).toEqual([])
  })

  test('`bun run ops:slo` prints the warning and still writes the rules, as Sloth would', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-warn-'))
    try {
      writeFileSync(join(dir, 'slos.yml'), specText(0.999))
      const result = Bun.spawnSync(
        ['bun', repoPath('scripts', 'slo', 'build.ts'), join(dir, 'slos.yml'), join(dir, 'slo.yml')],
        { stdout: 'pipe', stderr: 'pipe' },
      )
      expect(result.stderr.toString()).toBe(
        `ops:slo: warning: slo "availability": objective 0.999 is 0.999 %, not 99.9 %: objectives are percentages (write 99.9 for 99.9 %); with an error budget of 99.001 % ${DEAD_PAGE}\n`,
      )
      expect(result.exitCode).toBe(0)
      expect(readFileSync(join(dir, 'slo.yml'), 'utf8')).toBe(
        sloRulesFileText(parseSlothSpec(specText(0.999))),
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// What the warning claims, held to Prometheus: every request failing for 10 minutes opens the
// ticket (1× over 3d and 6h: 1 > 0.99001) and never pages (14.4 × 0.99001 and 6 × 0.99001 > 1).
describe('objective 0.999: all requests failing tickets and never pages', () => {
  function suite(dir: string): string {
    const spec = parseSlothSpec(specText(0.999))
    writeFileSync(join(dir, 'slo.yml'), sloRulesFileText(spec))
    const file = join(dir, 'slo.test.yml')
    const labels = { sloth_id: 'shop-availability', sloth_service: 'shop', sloth_slo: 'availability' }
    writeFileSync(
      file,
      stringify({
        rule_files: ['slo.yml'],
        evaluation_interval: '1m',
        group_eval_order: sloRuleGroups(spec).map((g) => g.name),
        tests: [
          {
            interval: '1m',
            input_series: [
              { series: 'http_requests_total{code="200"}', values: '0x10' },
              { series: 'http_requests_total{code="500"}', values: '0+100x10' },
            ],
            alert_rule_test: [1, 5, 10].map((minute) => ({
              eval_time: `${minute}m`,
              alertname: 'ShopBurn',
              exp_alerts: [
                {
                  exp_labels: { ...labels, sloth_severity: 'ticket' },
                  exp_annotations: { summary: 'burning', description: 'too fast' },
                },
              ],
            })),
          },
        ],
      }),
    )
    return file
  }
  const inFreshDir = (check: (file: string) => void) => () => {
    const dir = mkdtempSync(join(tmpdir(), 'slo-0999-'))
    try {
      check(suite(dir))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
  withBinary('promtool', 'apt-get install -y prometheus')(
    'promtool',
    inFreshDir((file) => {
      const { exitCode, output } = run(['promtool', 'test', 'rules', file])
      expect(output).toContain('SUCCESS')
      expect(exitCode).toBe(0)
    }),
  )
  test(
    'rules:test',
    inFreshDir((file) => {
      const { code, stderr } = runOurs([file])
      expect(stderr).toBe('')
      expect(code).toBe(0)
    }),
  )
})
