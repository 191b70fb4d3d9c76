/**
 * The compose stack's three configurations must agree, or alerts never arrive: the token
 * the service requires on /metrics is the one Prometheus sends, the token the service's
 * receiver requires is the one Alertmanager sends, and every URL names a service and port
 * that the stack runs. Values are resolved as compose resolves them (`${VAR:-default}`),
 * both with the defaults and with the variables set, so an override reaches both sides.
 */
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { DEFAULT_TRACE_BASE_URL } from '../../scripts/grafana/dashboards.ts'
import { loadConfig } from '../../src/config.ts'
import { type Json, readYaml, repoPath } from './ops-files.ts'

const OPS = repoPath('ops')
const compose = readYaml(join(OPS, 'compose.yaml')) as Json
const services = compose.services as Record<string, Json>
const prometheusYml = readYaml(repoPath('ops', 'prometheus', 'prometheus.yml')) as Json
const alertmanagerYml = readYaml(repoPath('ops', 'alertmanager', 'alertmanager.yml')) as Json

/** Compose's interpolation of `${NAME:-default}`, `${NAME-default}` and `${NAME}`; `$$` is a literal `$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g,
    (match, name, op, fallback) => {
      if (match === '$$') return '$'
      const set = env[name]
      if (op === ':-') return set ? set : fallback
      if (op === '-') return set ?? fallback
      return set ?? ''
    },
  )
}

function environment(service: string, env: Record<string, string>): Record<string, string> {
  const raw = (services[service]!.environment ?? {}) as Record<string, string>
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, interpolate(String(v), env)]))
}

/**
 * What a container's `sh -c` start command writes into a file: `printf '%s' "$$VAR" > path`.
 * Returns the file's path and the variable it is written from.
 */
function writtenFiles(service: string): Map<string, string> {
  const command = String((services[service]!.command as string[])[0])
  const files = new Map<string, string>()
  for (const m of command.matchAll(/printf '%s' "\$\$([A-Z_]+)" > (\S+)/g)) files.set(m[2]!, m[1]!)
  return files
}

/** The configuration each side ends up with, for one set of compose variables. */
function resolve(env: Record<string, string>) {
  const app = loadConfig(environment('app', env))
  const job = prometheusYml.scrape_configs.find((j: Json) => j.job_name === 'convo-commerce')
  // Relative credentials files are relative to prometheus.yml, mounted at /etc/prometheus.
  const scrapeTokenFile = join('/etc/prometheus', job.authorization.credentials_file)
  const prometheusWrites = writtenFiles('prometheus')
  const scrapeToken = environment('prometheus', env)[prometheusWrites.get(scrapeTokenFile) ?? '']
  const webhook = alertmanagerYml.receivers[0].webhook_configs[0]
  const webhookTokenFile = webhook.http_config.authorization.credentials_file as string
  const amWrites = writtenFiles('alertmanager')
  const webhookToken = environment('alertmanager', env)[amWrites.get(webhookTokenFile) ?? '']
  return { app, job, scrapeTokenFile, scrapeToken, webhook, webhookTokenFile, webhookToken }
}

const OVERRIDES = {
  METRICS_TOKEN: 'metrics-token-from-the-environment',
  ALERTMANAGER_WEBHOOK_TOKEN: 'webhook-token-from-the-environment',
}

describe('the compose stack: service, Prometheus and Alertmanager agree', () => {
  for (const [name, env] of [
    ['with the default variables', {}],
    ['with METRICS_TOKEN and ALERTMANAGER_WEBHOOK_TOKEN set', OVERRIDES],
  ] as const) {
    test(`Prometheus scrapes /metrics with the token the service requires, ${name}`, () => {
      const { app, job, scrapeTokenFile, scrapeToken } = resolve(env)
      expect(app.metrics.token).toBeDefined()
      expect(job.authorization.type).toBe('Bearer')
      // The file Prometheus reads is written at start, in memory, from the variable.
      expect(services.prometheus.tmpfs).toEqual([dirname(scrapeTokenFile)])
      expect(scrapeToken).toBe(app.metrics.token!)
      if (env === OVERRIDES) expect(scrapeToken).toBe(OVERRIDES.METRICS_TOKEN)
    })

    test(`Alertmanager posts with the token the service's receiver requires, ${name}`, () => {
      const { app, webhook, webhookTokenFile, webhookToken } = resolve(env)
      expect(app.alerts.alertmanagerToken).toBeDefined()
      expect(webhook.http_config.authorization.type).toBe('Bearer')
      expect(services.alertmanager.tmpfs).toEqual([dirname(webhookTokenFile)])
      expect(webhookToken).toBe(app.alerts.alertmanagerToken!)
      if (env === OVERRIDES) expect(webhookToken).toBe(OVERRIDES.ALERTMANAGER_WEBHOOK_TOKEN)
    })
  }

  test('the committed scrape token file holds the default, so promtool check config reads the same token', () => {
    const { app } = resolve({})
    const file = readFileSync(repoPath('ops', 'prometheus', 'secrets', 'metrics-token'), 'utf8')
    // Prometheus trims surrounding whitespace from credentials files.
    expect(file.trim()).toBe(app.metrics.token!)
    expect(hostMount('prometheus', '/etc/prometheus')).toBe(repoPath('ops', 'prometheus'))
  })

  test('every URL names a service of the stack on the port it listens on', () => {
    const { app, job, webhook } = resolve({})
    const port = app.port
    expect(job.static_configs[0].targets).toEqual([`app:${port}`])
    expect(webhook.url).toBe(`http://app:${port}/alerts/alertmanager`)
    // The service's rule manager queries the stack's Prometheus, which Grafana reads too.
    expect(app.alerts.prometheusUrl).toBe('http://prometheus:9090')
    const datasources = readYaml(
      join(OPS, 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
    ) as Json
    expect(datasources.datasources[0].url).toBe(app.alerts.prometheusUrl)
    expect(services.prometheus.ports).toEqual(['9090:9090'])
    expect(prometheusYml.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093'])
    expect(services.alertmanager.ports).toEqual(['9093:9093'])
    for (const name of ['app', 'prometheus', 'alertmanager']) expect(Object.keys(services)).toContain(name)
  })

  test('the interpolation this test relies on resolves as compose does', () => {
    // Written as `$` + `{…}` so that it reads as compose syntax, not a template literal.
    const ref = (inner: string) => `$${'{'}${inner}}`
    expect(interpolate(ref('A:-x'), {})).toBe('x')
    expect(interpolate(ref('A:-x'), { A: '' })).toBe('x')
    expect(interpolate(ref('A-x'), { A: '' })).toBe('')
    expect(interpolate(ref('A:-x'), { A: 'y' })).toBe('y')
    expect(interpolate('$$A', { A: 'y' })).toBe('$A')
  })
})

/**
 * Grafana's expansion of a provisioning value (pkg/services/provisioning/values): split on
 * `$$` (a literal `$`), expand `$NAME` and `${NAME}` in each part as Go's os.ExpandEnv does
 * (unset = empty), join the parts with `$`.
 */
function grafanaProvisioningValue(value: string, env: Record<string, string>): string {
  return value
    .split('$$')
    .map((part) =>
      part.replace(/\$\{([^}]*)\}|\$([A-Za-z0-9_]+)/g, (_m, braced, bare) => env[braced ?? bare] ?? ''),
    )
    .join('$')
}

/** Grafana's link interpolation for an exemplar field: `${__value.raw}` is the field's value. */
const exemplarLink = (url: string, value: string) => url.replaceAll('$' + '{__value.raw}', value)

describe("the compose stack: Grafana's exemplar links", () => {
  const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
  const destinations = () =>
    (readYaml(join(OPS, 'grafana', 'provisioning', 'datasources', 'prometheus.yml')) as Json).datasources[0]
      .jsonData.exemplarTraceIdDestinations as Array<{ name: string; url: string }>

  test("open the trace view the dashboards' trace_base_url defaults to, unless TRACE_BASE_URL is set", () => {
    const [destination] = destinations()
    expect(destination!.name).toBe('trace_id')
    const url = (env: Record<string, string>) =>
      exemplarLink(grafanaProvisioningValue(destination!.url, environment('grafana', env)), TRACE)
    expect(url({})).toBe(`${DEFAULT_TRACE_BASE_URL}${TRACE}`)
    expect(url({ TRACE_BASE_URL: 'https://traces.example.com/trace/' })).toBe(
      `https://traces.example.com/trace/${TRACE}`,
    )
  })

  test("the service's alert messages link to the same trace view (its TRACE_BASE_URL)", () => {
    expect(environment('app', {}).TRACE_BASE_URL).toBe(DEFAULT_TRACE_BASE_URL)
    expect(environment('app', { TRACE_BASE_URL: 'https://traces.example.com/trace/' }).TRACE_BASE_URL).toBe(
      'https://traces.example.com/trace/',
    )
  })

  test('the provisioning expansion this test relies on resolves as Grafana does', () => {
    const ref = (inner: string) => `$${'{'}${inner}}`
    expect(grafanaProvisioningValue(`${ref('A')}$${ref('__value.raw')}`, { A: 'x/' })).toBe(
      `x/${ref('__value.raw')}`,
    )
    expect(grafanaProvisioningValue('$A-$B', { A: '1' })).toBe('1-')
    expect(grafanaProvisioningValue('a$$b', {})).toBe('a$b')
  })
})

/** The host folder a service mounts at `target`. */
function hostMount(service: string, target: string): string | undefined {
  for (const volume of (services[service]!.volumes ?? []) as string[]) {
    const [source, at] = volume.split(':')
    if (at === target) return join(OPS, source!)
  }
  return undefined
}
