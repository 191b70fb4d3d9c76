import { describe, expect, test } from 'bun:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DEFAULT_RUNBOOK_BASE_URL } from '../../src/config.ts'
import {
  alertRules,
  RULE_TESTS_DIR,
  RULES_DIR,
  readYaml,
  repoPath,
  ruleGroups,
  ruleTestFiles,
  run,
  withBinary,
} from './ops-files.ts'

const INSTALL = 'apt-get install -y prometheus prometheus-alertmanager'
const promtoolTest = withBinary('promtool', INSTALL)
const amtoolTest = withBinary('amtool', INSTALL)

describe('Prometheus configuration (promtool)', () => {
  promtoolTest('promtool check config accepts prometheus.yml and the rule files it loads', () => {
    const { exitCode, output } = run(['promtool', 'check', 'config', 'ops/prometheus/prometheus.yml'])
    expect(output).toContain('SUCCESS: ops/prometheus/prometheus.yml is valid prometheus config file syntax')
    // promtool rejects unknown keys, so this also checks the exemplar storage section's spelling.
    expect(readYaml(repoPath('ops', 'prometheus', 'prometheus.yml'))).toMatchObject({
      storage: { exemplars: { max_exemplars: 200_000 } },
    })
    expect(output).toContain('Checking ops/prometheus/rules/alerts.yml')
    expect(output).toContain('SUCCESS: 10 rules found')
    expect(output).toContain('Checking ops/prometheus/rules/slo.yml')
    expect(exitCode).toBe(0)
  })

  promtoolTest('promtool check rules accepts every rule file', () => {
    const files = readdirSync(RULES_DIR)
      .sort()
      .map((f) => `ops/prometheus/rules/${f}`)
    const { exitCode, output } = run(['promtool', 'check', 'rules', ...files])
    expect(output).not.toContain('FAILED')
    expect(exitCode).toBe(0)
  })

  promtoolTest(
    'promtool test rules passes every test file',
    () => {
      const files = readdirSync(RULE_TESTS_DIR)
        .sort()
        .map((f) => `ops/prometheus/tests/${f}`)
      expect(files).toEqual([
        'ops/prometheus/tests/alerts.test.yml',
        'ops/prometheus/tests/payments.test.yml',
        'ops/prometheus/tests/promql.test.yml',
        'ops/prometheus/tests/slo.test.yml',
      ])
      const { exitCode, output } = run(['promtool', 'test', 'rules', ...files])
      if (exitCode !== 0) console.error(output)
      expect(output.match(/SUCCESS/g)?.length).toBe(files.length)
      expect(exitCode).toBe(0)
      // slo.test.yml evaluates 68 SLO rules for hours of test time.
    },
    60_000,
  )

  promtoolTest('promtool test rules fails on a wrong expectation (the harness can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rules-test-'))
    try {
      const file = join(dir, 'wrong.test.yml')
      writeFileSync(
        file,
        [
          'rule_files:',
          `  - ${join(RULES_DIR, 'alerts.yml')}`,
          'tests:',
          '  - interval: 1m',
          '    input_series:',
          `      - series: 'db_up{instance="a"}'`,
          `        values: '0x5'`,
          '    alert_rule_test:',
          '      - eval_time: 5m',
          '        alertname: DatabaseDown',
          '        exp_alerts: []',
          '    promql_expr_test:',
          '      - expr: db_up',
          '        eval_time: 0m',
          '        exp_samples:',
          `          - labels: 'db_up{instance="a"}'`,
          '            value: 1',
          '',
        ].join('\n'),
      )
      const { exitCode, output } = run(['promtool', 'test', 'rules', file])
      expect(exitCode).toBe(1)
      expect(output).toContain('alertname: DatabaseDown, time: 5m')
      expect(output).toContain('exp: {__name__="db_up", instance="a"} 1E+00')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('Alertmanager configuration (amtool)', () => {
  amtoolTest('amtool check-config accepts alertmanager.yml', () => {
    const { exitCode, output } = run(['amtool', 'check-config', 'ops/alertmanager/alertmanager.yml'])
    expect(output).toContain('SUCCESS')
    expect(output).toContain(' - 1 receivers')
    expect(exitCode).toBe(0)
  })
})

describe('alert rules', () => {
  test('ops/prometheus/rules holds rule files only, and prometheus.yml loads all of them', () => {
    expect(readdirSync(RULES_DIR).sort()).toEqual(['alerts.yml', 'payments.yml', 'slo.yml'])
    const config = readYaml(repoPath('ops', 'prometheus', 'prometheus.yml')) as { rule_files: string[] }
    expect(config.rule_files).toEqual(['rules/*.yml'])
  })

  test('groups ConversationalCommerce (with the original three rules exactly as designed) and Payments', () => {
    const groups = ruleGroups().filter((g) => !g.name.startsWith('sloth-slo-'))
    expect(groups.map((g) => g.name)).toEqual(['ConversationalCommerce', 'Payments'])
    const byName = new Map(alertRules().map((r) => [r.alert, r]))
    const original = (name: string) => {
      const rule = byName.get(name)!
      return { expr: rule.expr, for: rule.for, severity: rule.labels?.severity }
    }
    expect(original('HighErrorRate')).toEqual({
      expr: 'sum(rate(http_requests_total{status=~"5.."}[5m])) / sum(rate(http_requests_total[5m])) > 0.05',
      for: '2m',
      severity: 'critical',
    })
    expect(original('SlowResponseTime')).toEqual({
      expr: 'histogram_quantile(0.95, sum(rate(http_request_duration_seconds_bucket[5m])) by (le)) > 2',
      for: '5m',
      severity: 'warning',
    })
    expect(original('PaymentFailureRate')).toEqual({
      expr: 'sum(rate(payments_processed_total{status="failed"}[15m])) / sum(rate(payments_processed_total[15m])) > 0.1',
      for: '5m',
      severity: 'critical',
    })
  })

  test('the operator rules exist, and the per-tenant one groups by and carries tenant_id', () => {
    expect(alertRules().map((r) => r.alert)).toEqual([
      'HighErrorRate',
      'SlowResponseTime',
      'PaymentFailureRate',
      'ServiceDown',
      'DatabaseDown',
      'DatabaseQueryLatencyHigh',
      'MetricsCardinalityOverflow',
      'TenantPaymentFailureRate',
      'AlertRuleEvaluationFailures',
      'AlertRuleGroupMissedEvaluations',
      'PaymentStuckPending',
      'PaymentNeedsRefund',
      // Generated from ops/slo/slos.yml (one page and one ticket rule each).
      ...['ApiAvailability', 'ApiLatency', 'PaymentSuccess', 'AlertDelivery'].flatMap((n) => [
        `${n}BudgetBurn`,
        `${n}BudgetBurn`,
      ]),
    ])
    const tenant = alertRules().find((r) => r.alert === 'TenantPaymentFailureRate')!
    expect(tenant.expr).toContain('sum by (tenant_id) (increase(payments_processed_total[15m])) >= 10')
    expect(tenant.annotations?.summary).toContain('{{ $labels.tenant_id }}')
    expect(alertRules().find((r) => r.alert === 'ServiceDown')!.expr).toBe('up{job="convo-commerce"} == 0')
    expect(alertRules().find((r) => r.alert === 'DatabaseDown')!.expr).toBe('db_up == 0')
  })

  test('every rule has a severity, summary, description and an absolute runbook_url whose section exists', () => {
    /** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
    const anchorsOf = (file: string) =>
      new Set(
        [...readFileSync(file, 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
          m[1]!
            .toLowerCase()
            .replace(/[^a-z0-9 -]/g, '')
            .replace(/ /g, '-'),
        ),
      )
    for (const rule of alertRules()) {
      expect({
        rule: rule.alert,
        severity: ['critical', 'warning'].includes(rule.labels?.severity ?? ''),
      }).toEqual({
        rule: rule.alert,
        severity: true,
      })
      expect(Object.keys(rule.annotations ?? {}).sort()).toEqual(['description', 'runbook_url', 'summary'])
      // Absolute under the published docs path, so Alertmanager, Grafana and WhatsApp can link it.
      const url = rule.annotations!.runbook_url!
      expect(url).toStartWith(DEFAULT_RUNBOOK_BASE_URL)
      expect(new URL(url).protocol).toBe('https:')
      const [path, anchor] = url.slice(DEFAULT_RUNBOOK_BASE_URL.length).split('#')
      // SLO burn-rate alerts (generated, labelled sloth_severity) have their own runbook file.
      expect(path).toBe(rule.labels?.sloth_severity ? 'slo.md' : 'alerts.md')
      const file = repoPath('ops', 'runbooks', path!)
      expect({ rule: rule.alert, file: path, exists: existsSync(file) }).toEqual({
        rule: rule.alert,
        file: path,
        exists: true,
      })
      expect(anchor).toBe(rule.alert.toLowerCase())
      expect({ rule: rule.alert, anchor, exists: anchorsOf(file).has(anchor!) }).toEqual({
        rule: rule.alert,
        anchor,
        exists: true,
      })
    }
  })

  test('every rule has unit tests where it fires and where it must stay quiet', () => {
    const cases = ruleTestFiles().flatMap(({ content }) =>
      content.tests.flatMap((t) => t.alert_rule_test ?? []),
    )
    for (const rule of alertRules()) {
      const mine = cases.filter((c) => c.alertname === rule.alert)
      expect({ rule: rule.alert, fires: mine.some((c) => c.exp_alerts.length > 0) }).toEqual({
        rule: rule.alert,
        fires: true,
      })
      expect({ rule: rule.alert, quiet: mine.some((c) => c.exp_alerts.length === 0) }).toEqual({
        rule: rule.alert,
        quiet: true,
      })
    }
  })
})
