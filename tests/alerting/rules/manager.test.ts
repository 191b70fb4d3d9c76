import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import {
  createRuleManager,
  expandRuleFiles,
  loadRules,
  RECORDED_BY_PROMETHEUS,
  storableText,
} from '../../../src/alerting/rules/manager.ts'
import { createPrometheusSource, parseSampleValue } from '../../../src/alerting/rules/prometheus-source.ts'
import { alertOutbox, alertRuleStates } from '../../../src/db/schema.ts'
import { createHttpClient } from '../../../src/http/outbound.ts'
import type { InstantResult, QuerySource } from '../../../src/prometheus/promql/query-source.ts'
import { fingerprint } from '../../../src/prometheus/rules/alerting-rule.ts'
import { alertingFor, manualClock, ruleManagerTestContext } from '../../helpers/alerts.ts'
import { ADMIN_TOKEN, buildTestApp } from '../../helpers/app.ts'
import { captureLogs } from '../../helpers/logs.ts'

// Fresh databases per file.
setDefaultTimeout(30_000)

const ctx = ruleManagerTestContext()

const RULES = `
groups:
  - name: shop
    interval: 30s
    rules:
      - alert: HighErrorRate
        expr: error_ratio > 0.05
        for: 1m
        labels:
          severity: critical
        annotations:
          summary: High error rate
          description: "{{ $labels.endpoint }} fails {{ $value | humanizePercentage }} of requests"
      - alert: Flaky
        expr: flaky > 0
        keep_firing_for: 2m
        labels:
          severity: warning
      - alert: Upstream
        expr: up == 0
      - record: job:errors:rate5m
        expr: error_ratio
`

function ruleFile(text = RULES) {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-'))
  writeFileSync(join(dir, 'alerts.yml'), text)
  return join(dir, '*.yml')
}

/** A query source whose answers the test sets per expression; `null` means the query errors. */
function fakeSource() {
  const answers = new Map<string, Array<{ labels: Record<string, string>; value: number }> | null>()
  const source: QuerySource = {
    async instantQuery(expr: string): Promise<InstantResult> {
      const answer = answers.get(expr)
      if (answer === null) throw new Error('Prometheus unreachable: connection refused')
      return { resultType: 'vector', samples: answer ?? [] }
    },
  }
  return { source, answers }
}

/** A query source answering every expression with the vector `answer(expr)` gives. */
function vectorSource(
  answer: (expr: string) => Array<{ labels: Record<string, string>; value: number }>,
): QuerySource {
  return {
    async instantQuery(expr: string): Promise<InstantResult> {
      return { resultType: 'vector', samples: answer(expr) }
    },
  }
}

function setup(clock = manualClock('2026-03-02T10:00:00Z')) {
  const { source, answers } = fakeSource()
  const delivery = alertingFor(ctx.database, undefined)
  const logs = captureLogs()
  const groups = loadRules(expandRuleFiles(ruleFile()), {
    defaultIntervalMs: 30_000,
    skipReason: (expr) =>
      expr.includes('up ==') ? 'selects up, which only Prometheus itself generates' : undefined,
  })
  const events: string[] = []
  const ruleManager = createRuleManager({
    db: ctx.database.db,
    groups,
    source,
    dispatcher: delivery.alerting.dispatcher,
    clock,
    log: logs.log,
    metrics: {
      ruleEvaluated: (group, failed) => events.push(`${group}:${failed ? 'failed' : 'ok'}`),
      groupEvaluated: () => {},
      activeAlerts: () => {},
      groupScheduled: () => {},
      groupIteration: () => {},
      groupNotLed: () => {},
    },
  })
  /** One evaluation tick, then one dispatcher tick (the log transport sends what is due). */
  const step = async (ms = 30_000) => {
    clock.advance(ms)
    const outcome = await ruleManager.evaluateAll()
    delivery.clock.set(clock.now().toISOString())
    await delivery.alerting.tick()
    return outcome
  }
  const states = async () =>
    (await ctx.database.db.select().from(alertRuleStates)).map((r) => `${r.ruleName}:${r.state}`).sort()
  const notifications = async () =>
    (await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.createdAt)).map(
      (r) => `${r.alertname}:${r.transition}`,
    )
  return { ruleManager, answers, clock, step, states, notifications, events, groups, logs }
}

describe('loading rules', () => {
  test('globs expand; rules Prometheus alone can judge, and recording rules Prometheus records, are skipped', () => {
    const { groups } = setup()
    expect(groups.map((g) => g.group.name)).toEqual(['shop'])
    expect(groups[0]!.intervalMs).toBe(30_000)
    expect(groups[0]!.rules.map((r) => `${r.rule.name}:${r.health}`)).toEqual([
      'HighErrorRate:unknown',
      'Flaky:unknown',
      'Upstream:skipped',
      'job:errors:rate5m:skipped',
    ])
    expect(groups[0]!.rules[3]!.lastError).toBe(RECORDED_BY_PROMETHEUS)
  })

  test('a group interval of 0s is no interval: the default applies, as in Prometheus', () => {
    const file = ruleFile(
      'groups:\n  - name: zero\n    interval: 0s\n    rules:\n      - alert: X\n        expr: x\n  - name: own\n    interval: 2m\n    rules:\n      - alert: Y\n        expr: y\n',
    )
    expect(
      loadRules(expandRuleFiles(file), { defaultIntervalMs: 30_000 }).map((g) => [
        g.group.name,
        g.intervalMs,
      ]),
    ).toEqual([
      ['zero', 30_000],
      ['own', 120_000],
    ])
  })

  test('a bad rule is an error naming the file, group and rule', () => {
    const file = ruleFile(
      'groups:\n  - name: g\n    rules:\n      - alert: Broken\n        expr: rate(x[5m]\n',
    )
    expect(() =>
      loadRules(expandRuleFiles(file), {
        defaultIntervalMs: 30_000,
        compile: () => {
          throw new Error('parse error: unclosed left parenthesis')
        },
      }),
    ).toThrow(/alerts\.yml: group "g": rule "Broken": parse error: unclosed left parenthesis/)
    const bad = ruleFile(
      'groups:\n  - name: g\n    rules:\n      - alert: X\n        expr: x\n        for: soon\n',
    )
    // As Prometheus' rulefmt: a bad duration stops decoding, so only the file is named.
    expect(() => loadRules(expandRuleFiles(bad), { defaultIntervalMs: 30_000 })).toThrow(
      /alerts\.yml: not a valid duration string: "soon"/,
    )
  })
})

describe('the state machine, persisted', () => {
  test('inactive → pending → firing after `for`, one firing notification, then resolved', async () => {
    const { answers, step, states, notifications } = setup()
    answers.set('error_ratio > 0.05', [
      { labels: { __name__: 'error_ratio', endpoint: '/orders' }, value: 0.075 },
    ])
    await step()
    expect(await states()).toEqual(['HighErrorRate:pending'])
    await step()
    expect(await states()).toEqual(['HighErrorRate:pending'])
    await step() // 60 s after activeAt: for: 1m reached
    expect(await states()).toEqual(['HighErrorRate:firing'])
    await step()
    expect(await notifications()).toEqual(['HighErrorRate:firing'])
    const [row] = await ctx.database.db.select().from(alertRuleStates)
    expect(row!.labels).toEqual({ alertname: 'HighErrorRate', endpoint: '/orders', severity: 'critical' })
    expect(row!.annotations).toEqual({
      summary: 'High error rate',
      description: '/orders fails 7.5% of requests',
    })
    expect(row!.fingerprint).toBe(fingerprint(row!.labels))
    answers.set('error_ratio > 0.05', [])
    await step()
    expect(await states()).toEqual(['HighErrorRate:inactive'])
    expect(await notifications()).toEqual(['HighErrorRate:firing', 'HighErrorRate:resolved'])
    await step(14 * 60_000)
    expect(await states()).toEqual(['HighErrorRate:inactive'])
    await step(61_000) // resolved alerts are kept 15 minutes
    expect(await states()).toEqual([])
    expect(await notifications()).toEqual(['HighErrorRate:firing', 'HighErrorRate:resolved'])
  })

  test('a pending alert that vanishes is dropped without any notification (flapping)', async () => {
    const { answers, step, states, notifications } = setup()
    answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.1 }])
    await step()
    answers.set('error_ratio > 0.05', [])
    await step()
    answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.1 }])
    await step()
    await step()
    expect(await states()).toEqual(['HighErrorRate:pending']) // the `for` timer started over
    expect(await notifications()).toEqual([])
  })

  test('keep_firing_for holds a firing alert through a gap and resets when it comes back', async () => {
    const { answers, step, states, notifications } = setup()
    answers.set('flaky > 0', [{ labels: { job: 'a' }, value: 1 }])
    await step()
    expect(await states()).toEqual(['Flaky:firing'])
    answers.set('flaky > 0', [])
    await step(60_000)
    await step(50_000) // 110 s into the gap
    expect(await states()).toEqual(['Flaky:firing'])
    answers.set('flaky > 0', [{ labels: { job: 'a' }, value: 1 }])
    await step()
    answers.set('flaky > 0', [])
    await step(60_000) // first miss: keep_firing_for counts from here
    await step(119_000)
    expect(await states()).toEqual(['Flaky:firing'])
    await step(2_000)
    expect(await states()).toEqual(['Flaky:inactive'])
    expect(await notifications()).toEqual(['Flaky:firing', 'Flaky:resolved'])
  })

  test('a query error marks the rule err, counts a failure and resolves nothing', async () => {
    const { answers, step, states, notifications, events, groups } = setup()
    answers.set('flaky > 0', [{ labels: { job: 'a' }, value: 1 }])
    await step()
    answers.set('flaky > 0', null)
    await step()
    await step(20 * 60_000)
    expect(await states()).toEqual(['Flaky:firing'])
    expect(await notifications()).toEqual(['Flaky:firing'])
    const flaky = groups[0]!.rules.find((r) => r.rule.name === 'Flaky')!
    expect(flaky.health).toBe('err')
    expect(flaky.lastError).toBe('Prometheus unreachable: connection refused')
    expect(events.filter((e) => e === 'shop:failed')).toHaveLength(2)
    // One evaluation per rule per group evaluation, as prometheus_rule_evaluations_total.
    const evaluated = groups[0]!.rules.filter((r) => r.health !== 'skipped').length
    expect(evaluated).toBeGreaterThan(1)
    expect(events).toHaveLength(3 * evaluated)
  })

  test('two results with the same identity are an evaluation error and change nothing', async () => {
    const { answers, step, states, groups } = setup()
    answers.set('flaky > 0', [
      { labels: { __name__: 'flaky', job: 'a' }, value: 1 },
      { labels: { __name__: 'flaky_total', job: 'a' }, value: 2 },
    ])
    await step()
    expect(await states()).toEqual([])
    expect(groups[0]!.rules.find((r) => r.rule.name === 'Flaky')!.lastError).toBe(
      'vector contains metrics with the same labelset after applying alert labels',
    )
  })

  test('a restart continues the `for` timer and does not re-notify', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const first = setup(clock)
    first.answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.2 }])
    await first.step()
    await first.step()
    // The process restarts: a new ruleManager with no memory, same database, same clock.
    const second = setup(clock)
    second.answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.2 }])
    await second.step()
    expect(await second.states()).toEqual(['HighErrorRate:firing'])
    const third = setup(clock)
    third.answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.2 }])
    await third.step()
    expect(await third.notifications()).toEqual(['HighErrorRate:firing'])
  })

  test('two ruleManagers on one database produce one notification per transition', async () => {
    const clock = manualClock('2026-03-02T10:00:00Z')
    const a = setup(clock)
    const b = setup(clock)
    for (const s of [a, b]) s.answers.set('flaky > 0', [{ labels: { job: 'x' }, value: 1 }])
    const outcomes = (await Promise.all([a.step(), b.step(0)])).flat()
    expect(outcomes).toContain('evaluated')
    for (const s of [a, b]) s.answers.set('flaky > 0', [])
    await Promise.all([a.step(), b.step(0)]) // first miss: keep_firing_for (2m) starts
    await Promise.all([a.step(121_000), b.step(0)])
    expect(await a.notifications()).toEqual(['Flaky:firing', 'Flaky:resolved'])
  })
})

/** A rule manager over `groups` on the file's database, with its own delivery (log transport). */
function managerOver(
  groups: ReturnType<typeof loadRules>,
  source: QuerySource,
  clock: ReturnType<typeof manualClock>,
) {
  const delivery = alertingFor(ctx.database, undefined)
  const ruleManager = createRuleManager({
    db: ctx.database.db,
    groups,
    source,
    dispatcher: delivery.alerting.dispatcher,
    clock,
    log: captureLogs().log,
  })
  return { ruleManager, delivery }
}

test('one group name in two files: two groups, each with its own alert state (Prometheus keys groups by file and name)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-'))
  const rule = (metric: string) =>
    `groups:\n- name: shop\n  rules:\n  - alert: Down\n    expr: ${metric} > 0\n    for: 1m\n`
  writeFileSync(join(dir, 'a.yml'), rule('a_down'))
  writeFileSync(join(dir, 'b.yml'), rule('b_down'))
  writeFileSync(
    join(dir, 'c.yml'),
    'groups:\n- name: alone\n  rules:\n  - alert: Alone\n    expr: c_down > 0\n',
  )
  const source = vectorSource((expr) =>
    expr.startsWith('a_down') ? [{ labels: { svc: 'a' }, value: 1 }] : [],
  )
  const clock = manualClock('2026-03-02T10:00:00Z')
  const files = ['a.yml', 'b.yml', 'c.yml'].map((f) => join(dir, f))
  const groups = loadRules(files, { defaultIntervalMs: 30_000 })
  // A name held by one file only stays the key alone: state stored before keeps its key.
  expect(groups.map((g) => g.key)).toEqual([`${files[0]};shop`, `${files[1]};shop`, 'alone'])
  const { ruleManager } = managerOver(groups, source, clock)
  const seen: string[] = []
  for (let i = 0; i < 4; i++) {
    clock.advance(30_000)
    await ruleManager.evaluateAll()
    const rows = await ctx.database.db.select().from(alertRuleStates)
    seen.push(rows.map((r) => `${r.ruleGroup === groups[0]!.key ? 'a' : r.ruleGroup}:${r.state}`).join(','))
  }
  // b's group evaluating nothing no longer deletes a's pending alert every tick.
  expect(seen).toEqual(['a:pending', 'a:pending', 'a:firing', 'a:firing'])
})

test("over its group's limit an alert rule fails, drops its alerts and resolves the firing ones, as Prometheus", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-'))
  writeFileSync(
    join(dir, 'limit.yml'),
    'groups:\n- name: capped\n  limit: 1\n  rules:\n  - alert: Many\n    expr: errors > 0\n  - record: errors:copy\n    expr: errors\n',
  )
  const answers: Array<Array<{ labels: Record<string, string>; value: number }>> = [
    [{ labels: { shop: 'a' }, value: 1 }],
    [
      { labels: { shop: 'a' }, value: 1 },
      { labels: { shop: 'b' }, value: 1 },
    ],
  ]
  let tick = 0
  const source = vectorSource(() => answers[Math.min(tick, answers.length - 1)]!)
  const clock = manualClock('2026-03-02T10:00:00Z')
  const groups = loadRules([join(dir, 'limit.yml')], { defaultIntervalMs: 30_000 })
  const { ruleManager, delivery } = managerOver(groups, source, clock)
  const outbox = async () =>
    (await ctx.database.db.select().from(alertOutbox).orderBy(alertOutbox.createdAt)).map(
      (r) => `${r.alertname}:${r.transition}`,
    )
  const rule = groups[0]!.rules[0]!
  await ruleManager.evaluateAll()
  // The firing message goes out: a resolution is announced only for an alert announced.
  delivery.clock.set(clock.now().toISOString())
  await delivery.alerting.tick()
  expect([rule.health, await outbox()]).toEqual(['ok', ['Many:firing']])
  tick = 1
  clock.advance(30_000)
  await ruleManager.evaluateAll()
  expect([rule.health, rule.lastError]).toEqual(['err', 'exceeded limit of 1 with 2 alerts'])
  expect(await ctx.database.db.select().from(alertRuleStates)).toEqual([])
  expect(await outbox()).toEqual(['Many:firing', 'Many:resolved'])
})

test("a group's limit counts pending and firing alerts, not the resolved ones still kept (Prometheus' numActivePending)", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-'))
  writeFileSync(
    join(dir, 'limit.yml'),
    'groups:\n- name: capped\n  limit: 1\n  rules:\n  - alert: Many\n    expr: errors > 0\n',
  )
  // Shop a's alert resolves as shop b's starts: one alert present, one resolved and kept.
  const answers = [[{ shop: 'a' }], [{ shop: 'b' }], [{ shop: 'b' }, { shop: 'c' }]]
  let tick = 0
  const source = vectorSource(() => answers[tick]!.map((labels) => ({ labels, value: 1 })))
  const clock = manualClock('2026-03-02T10:00:00Z')
  const groups = loadRules([join(dir, 'limit.yml')], { defaultIntervalMs: 30_000 })
  const { ruleManager } = managerOver(groups, source, clock)
  const rule = groups[0]!.rules[0]!
  const states = async () =>
    (await ctx.database.db.select().from(alertRuleStates)).map((r) => `${r.labels.shop}:${r.state}`).sort()
  await ruleManager.evaluateAll()
  tick = 1
  clock.advance(30_000)
  await ruleManager.evaluateAll()
  expect([rule.health, await states()]).toEqual(['ok', ['a:inactive', 'b:firing']])
  tick = 2
  clock.advance(30_000)
  await ruleManager.evaluateAll()
  expect([rule.health, rule.lastError]).toEqual(['err', 'exceeded limit of 1 with 2 alerts'])
})

test('a U+0000 in a series label (value or name) or a template is stored as U+FFFD: the group keeps alerting, each alert keeps its identity', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-'))
  // YAML's "\0" is U+0000: in a rule label and in an annotation's template.
  writeFileSync(
    join(dir, 'nul.yml'),
    'groups:\n- name: shop\n  rules:\n  - alert: Nul\n    expr: x > 0\n    for: 1m\n    labels: {t: "x\\0"}\n    annotations: {s: "{{ $labels.shop }}\\0!"}\n  - alert: Other\n    expr: y > 0\n',
  )
  const nulLabels: Record<string, string> = { shop: 'a\u0000b', 'n\u0000': '1' }
  const source = vectorSource((expr) => [{ labels: expr === 'x > 0' ? nulLabels : { shop: 'c' }, value: 1 }])
  const clock = manualClock('2026-03-02T10:00:00Z')
  const groups = loadRules([join(dir, 'nul.yml')], { defaultIntervalMs: 30_000 })
  const { ruleManager } = managerOver(groups, source, clock)
  const seen: string[] = []
  for (let i = 0; i < 3; i++) {
    await ruleManager.evaluateAll()
    const rows = await ctx.database.db.select().from(alertRuleStates).orderBy(alertRuleStates.ruleName)
    seen.push(rows.map((r) => `${r.ruleName}:${r.state}:${r.activeAt.toISOString()}`).join(','))
    clock.advance(30_000)
  }
  // Before, the insert failed at every evaluation and took Other down with it.
  expect(seen).toEqual([
    'Nul:pending:2026-03-02T10:00:00.000Z,Other:firing:2026-03-02T10:00:00.000Z',
    'Nul:pending:2026-03-02T10:00:00.000Z,Other:firing:2026-03-02T10:00:00.000Z',
    'Nul:firing:2026-03-02T10:00:00.000Z,Other:firing:2026-03-02T10:00:00.000Z',
  ])
  const [nul] = await ctx.database.db
    .select()
    .from(alertRuleStates)
    .where(eq(alertRuleStates.ruleName, 'Nul'))
  expect([nul?.labels, nul?.annotations, groups[0]!.rules.map((r) => r.health)]).toEqual([
    { alertname: 'Nul', 'n\uFFFD': '1', shop: 'a\uFFFDb', t: 'x\uFFFD' },
    { s: 'a\uFFFDb\uFFFD!' },
    ['ok', 'ok'],
  ])
})

test('a U+0000 in a group or alert name: the group is evaluated and its state stored', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cc-rules-'))
  writeFileSync(
    join(dir, 'nul.yml'),
    'groups:\n- name: "g\\0"\n  rules:\n  - alert: "A\\0"\n    expr: x > 0\n',
  )
  const source = vectorSource(() => [{ labels: {}, value: 1 }])
  const groups = loadRules([join(dir, 'nul.yml')], { defaultIntervalMs: 30_000 })
  const { ruleManager } = managerOver(groups, source, manualClock('2026-03-02T10:00:00Z'))
  expect(await ruleManager.evaluateAll()).toEqual(['evaluated'])
  const rows = await ctx.database.db.select().from(alertRuleStates)
  expect(rows.map((r) => [r.ruleGroup, r.ruleName, r.labels, r.state])).toEqual([
    ['g\uFFFD', 'A\uFFFD', { alertname: 'A\uFFFD' }, 'firing'],
  ])
})

test('storableText changes only what PostgreSQL cannot hold', () => {
  expect(storableText('plain ünïcode 😀')).toBe('plain ünïcode 😀')
  expect(storableText('a\u0000b\u0000')).toBe('a\uFFFDb\uFFFD')
  expect(storableText('lone \uD800 surrogate')).toBe('lone \uFFFD surrogate')
})

describe('fingerprints', () => {
  test('FNV-1a 64 over sorted names and values, as Alertmanager computes them', () => {
    expect(fingerprint({})).toBe('cbf29ce484222325')
    // Order of keys does not matter; values do.
    expect(fingerprint({ b: '2', a: '1' })).toBe(fingerprint({ a: '1', b: '2' }))
    expect(fingerprint({ a: '1' })).not.toBe(fingerprint({ a: '2' }))
    expect(fingerprint({ alertname: 'x' })).toMatch(/^[0-9a-f]{16}$/)
  })
})

describe('the Prometheus HTTP source', () => {
  test('POSTs the query as a form with the bearer token and parses vectors, scalars, NaN and infinities', async () => {
    const seen: Array<{ body: string; auth: string | null }> = []
    const prometheus = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const body = await req.text()
        seen.push({ body, auth: req.headers.get('authorization') })
        const query = new URLSearchParams(body).get('query')
        if (query === 'scalar(1)')
          return Response.json({ status: 'success', data: { resultType: 'scalar', result: [1, '+Inf'] } })
        if (query === 'bad(')
          return Response.json(
            { status: 'error', errorType: 'bad_data', error: 'parse error' },
            { status: 400 },
          )
        return Response.json({
          status: 'success',
          data: {
            resultType: 'vector',
            result: [
              { metric: { a: '1' }, value: [1, 'NaN'] },
              { metric: { a: '2' }, value: [1, '-Inf'] },
              { metric: { a: '3' }, value: [1, '0.25'] },
            ],
          },
        })
      },
    })
    try {
      const source = createPrometheusSource(
        { url: `http://127.0.0.1:${prometheus.port}/`, bearerToken: 'prom-token', timeoutMs: 1000 },
        createHttpClient(fetch),
      )
      const vector = await source.instantQuery('x > 0', new Date(1_700_000_000_500))
      expect(vector).toEqual({
        resultType: 'vector',
        samples: [
          { labels: { a: '1' }, value: Number.NaN },
          { labels: { a: '2' }, value: Number.NEGATIVE_INFINITY },
          { labels: { a: '3' }, value: 0.25 },
        ],
      })
      expect(Object.fromEntries(new URLSearchParams(seen[0]!.body))).toEqual({
        query: 'x > 0',
        time: '1700000000.500',
      })
      expect(seen[0]!.auth).toBe('Bearer prom-token')
      expect(await source.instantQuery('scalar(1)', new Date())).toEqual({
        resultType: 'scalar',
        value: Number.POSITIVE_INFINITY,
      })
      await expect(source.instantQuery('bad(', new Date())).rejects.toThrow('bad_data: parse error')
    } finally {
      prometheus.stop(true)
    }
    const down = createPrometheusSource(
      { url: 'http://127.0.0.1:1', timeoutMs: 500 },
      createHttpClient(fetch),
    )
    await expect(down.instantQuery('x', new Date())).rejects.toThrow(/Prometheus unreachable/)
    expect(parseSampleValue('1e3')).toBe(1000)
  })
})

describe('GET /alerts and GET /alerts/rules', () => {
  test('admin-only, in the shapes of /api/v1/alerts and /api/v1/rules', async () => {
    const s = setup()
    s.answers.set('flaky > 0', [{ labels: { job: 'a' }, value: 1 }])
    s.answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.5 }])
    await s.step()
    const { call } = await buildTestApp({ database: ctx.database, ruleManager: s.ruleManager })
    expect((await call('/alerts')).status).toBe(401)
    const alerts = (await (await call('/alerts', { token: ADMIN_TOKEN })).json()) as {
      status: string
      data: { alerts: Array<Record<string, unknown>> }
    }
    expect(alerts.status).toBe('success')
    expect(
      alerts.data.alerts
        .map((a) => [(a.labels as Record<string, string>).alertname, a.state, a.value])
        .sort(),
    ).toEqual([
      ['Flaky', 'firing', '1e+00'],
      ['HighErrorRate', 'pending', '5e-01'],
    ])
    const rules = (await (await call('/alerts/rules', { token: ADMIN_TOKEN })).json()) as {
      data: { groups: Array<{ name: string; interval: number; rules: Array<Record<string, unknown>> }> }
    }
    const group = rules.data.groups[0]!
    expect({ name: group.name, interval: group.interval }).toEqual({ name: 'shop', interval: 30 })
    expect(
      group.rules.map((r) => [
        r.name,
        r.health,
        r.duration,
        r.type,
        (r.alerts as unknown[] | undefined)?.length,
      ]),
    ).toEqual([
      ['HighErrorRate', 'ok', 60, 'alerting', 1],
      ['Flaky', 'ok', 0, 'alerting', 1],
      ['Upstream', 'skipped', 0, 'alerting', 0],
      ['job:errors:rate5m', 'skipped', undefined, 'recording', undefined],
    ])
    expect(group.rules[2]!.lastError).toBe('selects up, which only Prometheus itself generates')
    expect(typeof group.rules[0]!.lastEvaluation).toBe('string')
  })
})

describe('GET /alerts/rules against what Prometheus 2.42 prints', () => {
  // Prometheus 2.42's /api/v1/rules on a group `limit: 10, interval: 1s` printed, before and
  // after evaluations: `"interval": 1, "limit": 10, "evaluationTime": 0.002052109,
  // "lastEvaluation": "2026-12-05T20:38:13.153217152Z"` on the group, `"state": "pending"` /
  // `"firing"` / `"inactive"` on each alerting rule (none on recording rules), and Go's zero
  // time `0001-01-01T00:00:00Z` for what was never evaluated. Go's RFC3339Nano drops the
  // fraction's trailing zeros: an alert active at a whole second is `…T20:38:12Z`.
  test("the group's limit, evaluationTime and lastEvaluation, each alerting rule's state, Go's times", async () => {
    const s = setup()
    const { call } = await buildTestApp({ database: ctx.database, ruleManager: s.ruleManager })
    type Rules = {
      data: {
        groups: Array<Record<string, unknown> & { rules: Array<Record<string, unknown>> }>
      }
    }
    const read = async () =>
      ((await (await call('/alerts/rules', { token: ADMIN_TOKEN })).json()) as Rules).data
    const before = (await read()).groups[0]!
    expect([before.limit, before.evaluationTime, before.lastEvaluation]).toEqual([
      0,
      0,
      '0001-01-01T00:00:00Z',
    ])
    expect(before.rules.map((r) => [r.state, r.lastEvaluation])).toEqual([
      ['inactive', '0001-01-01T00:00:00Z'],
      ['inactive', '0001-01-01T00:00:00Z'],
      ['inactive', '0001-01-01T00:00:00Z'],
      [undefined, '0001-01-01T00:00:00Z'],
    ])
    s.answers.set('flaky > 0', [{ labels: { job: 'a' }, value: 1 }])
    s.answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.5 }])
    await s.step()
    const after = (await read()).groups[0]!
    expect([after.interval, after.limit, after.lastEvaluation, typeof after.evaluationTime]).toEqual([
      30,
      0,
      '2026-03-02T10:00:30Z',
      'number',
    ])
    expect(after.rules.map((r) => [r.name, r.state, r.lastEvaluation])).toEqual([
      ['HighErrorRate', 'pending', '2026-03-02T10:00:30Z'],
      ['Flaky', 'firing', '2026-03-02T10:00:30Z'],
      ['Upstream', 'inactive', '0001-01-01T00:00:00Z'],
      ['job:errors:rate5m', undefined, '0001-01-01T00:00:00Z'],
    ])
    const alerts = (await (await call('/alerts', { token: ADMIN_TOKEN })).json()) as {
      data: { alerts: Array<{ activeAt: string }> }
    }
    expect(alerts.data.alerts.map((a) => a.activeAt)).toEqual([
      '2026-03-02T10:00:30Z',
      '2026-03-02T10:00:30Z',
    ])
  })
})

describe('GET /alerts/rules?type=', () => {
  // Prometheus 2.42: `?type=alert` and `?type=record` keep those rules (every group listed,
  // emptied or not); `?type=bogus` is refused (there a 400 `bad_data`, here the API's envelope).
  test('alert or record keeps those rules, in any case; another value is refused', async () => {
    const s = setup()
    const { call } = await buildTestApp({ database: ctx.database, ruleManager: s.ruleManager })
    const names = async (type: string) => {
      const body = (await (await call(`/alerts/rules?type=${type}`, { token: ADMIN_TOKEN })).json()) as {
        data: { groups: Array<{ rules: Array<{ name: string }> }> }
      }
      return body.data.groups.map((g) => g.rules.map((r) => r.name))
    }
    expect(await names('alert')).toEqual([['HighErrorRate', 'Flaky', 'Upstream']])
    expect(await names('RECORD')).toEqual([['job:errors:rate5m']])
    expect(await names('')).toEqual([['HighErrorRate', 'Flaky', 'Upstream', 'job:errors:rate5m']])
    const bad = await call('/alerts/rules?type=bogus', { token: ADMIN_TOKEN })
    const body = (await bad.json()) as { error: { code: string; message: string; details: unknown } }
    expect([bad.status, body.error.code, body.error.message, body.error.details]).toEqual([
      422,
      'VALIDATION',
      'Invalid query: type — must be alert or record',
      { in: 'query', errors: [{ field: 'type', message: 'must be alert or record' }] },
    ])
  })
})

describe('GET /alerts and /alerts/rules label order', () => {
  // Prometheus prints labels and annotations (labels.Labels) sorted by name: its alert A read
  // `alertname, exported_instance, exported_job, instance, job, severity`. jsonb gives the
  // stored ones back shortest name first (endpoint, severity, alertname); the rule file's
  // annotations are in written order (summary, description).
  test("alerts' and rules' labels and annotations in name order, as Prometheus", async () => {
    const s = setup()
    s.answers.set('error_ratio > 0.05', [{ labels: { endpoint: '/x' }, value: 0.5 }])
    await s.step()
    const { call } = await buildTestApp({ database: ctx.database, ruleManager: s.ruleManager })
    const alerts = (await (await call('/alerts', { token: ADMIN_TOKEN })).json()) as {
      data: { alerts: Array<{ labels: object; annotations: object }> }
    }
    const alert = alerts.data.alerts[0]!
    expect([Object.keys(alert.labels), Object.keys(alert.annotations)]).toEqual([
      ['alertname', 'endpoint', 'severity'],
      ['description', 'summary'],
    ])
    const rules = (await (await call('/alerts/rules', { token: ADMIN_TOKEN })).json()) as {
      data: { groups: Array<{ rules: Array<{ annotations: object; alerts: Array<{ labels: object }> }> }> }
    }
    const rule = rules.data.groups[0]!.rules[0]!
    expect([Object.keys(rule.annotations), Object.keys(rule.alerts[0]!.labels)]).toEqual([
      ['description', 'summary'],
      ['alertname', 'endpoint', 'severity'],
    ])
  })
})

describe('GET /alerts after a rule left the rule files', () => {
  // Prometheus lists the alerts of the rules it runs: a rule removed from its file (and
  // reloaded) takes its alerts out of /api/v1/alerts. Here the stored state of a rule no
  // longer loaded (a group `gone`, a rule `Removed` of `shop`) stays in the database.
  test('lists only the alerts of loaded alerting rules', async () => {
    const s = setup()
    s.answers.set('flaky > 0', [{ labels: { job: 'a' }, value: 1 }])
    await s.step()
    const stale = (ruleGroup: string, ruleName: string) => ({
      ruleGroup,
      ruleName,
      fingerprint: fingerprint({ alertname: ruleName }),
      labels: { alertname: ruleName },
      annotations: {},
      state: 'firing',
      activeAt: new Date('2026-03-02T09:00:00Z'),
      firedAt: new Date('2026-03-02T09:00:00Z'),
      value: 1,
    })
    await ctx.database.db.insert(alertRuleStates).values([stale('gone', 'Old'), stale('shop', 'Removed')])
    const { call } = await buildTestApp({ database: ctx.database, ruleManager: s.ruleManager })
    const alerts = (await (await call('/alerts', { token: ADMIN_TOKEN })).json()) as {
      data: { alerts: Array<{ labels: Record<string, string> }> }
    }
    expect(alerts.data.alerts.map((a) => a.labels.alertname)).toEqual(['Flaky'])
  })
})
