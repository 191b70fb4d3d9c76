import { describe, expect, test } from 'bun:test'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { EnvSchema } from '../../src/config.ts'
import { type Json, readYaml, repoPath } from './ops-files.ts'

const OPS = repoPath('ops')
const compose = readYaml(join(OPS, 'compose.yaml')) as Json
const services = compose.services as Record<string, Json>

/** Bind mounts of a service as { source (absolute, on the host), target (in the container) }. */
function bindMounts(service: Json): { source: string; target: string }[] {
  return ((service.volumes ?? []) as string[])
    .map((v) => v.split(':'))
    .filter(([source]) => source!.startsWith('.') || source!.startsWith('/'))
    .map(([source, target]) => ({ source: resolve(OPS, source!), target: target! }))
}

/** Where a container path comes from on the host, through the service's bind mounts. */
function hostPath(service: Json, containerPath: string): string | undefined {
  for (const { source, target } of bindMounts(service)) {
    if (containerPath === target) return source
    if (containerPath.startsWith(`${target}/`)) return join(source, containerPath.slice(target.length + 1))
  }
  return undefined
}

describe('ops/compose.yaml', () => {
  test('runs the service, PostgreSQL, Prometheus, Alertmanager and Grafana', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'app', 'grafana', 'postgres', 'prometheus'])
    expect(Object.keys(compose.volumes).sort()).toEqual(
      ['alertmanager-data', 'grafana-data', 'postgres-data', 'prometheus-data'].sort(),
    )
  })

  test('builds the service from the repository Containerfile', () => {
    const build = services.app.build
    expect(existsSync(join(resolve(OPS, build.context), build.dockerfile))).toBe(true)
    expect(resolve(OPS, build.context)).toBe(repoPath())
  })

  test('every path it mounts exists', () => {
    const mounts = Object.values(services).flatMap(bindMounts)
    expect(mounts.length).toBe(4)
    for (const { source } of mounts)
      expect({ source, exists: existsSync(source) }).toEqual({ source, exists: true })
  })

  test("the service's environment only uses variables that src/config.ts accepts", () => {
    const accepted = Object.keys(EnvSchema.properties)
    const keys = Object.keys(services.app.environment)
    expect(keys.length).toBeGreaterThan(3)
    for (const key of keys) expect({ key, accepted: accepted.includes(key) }).toEqual({ key, accepted: true })
    expect(services.app.environment.DATABASE_URL).toBe('postgres://convo:convo@postgres:5432/convo')
    const pg = services.postgres.environment
    expect(`postgres://${pg.POSTGRES_USER}:${pg.POSTGRES_PASSWORD}@postgres:5432/${pg.POSTGRES_DB}`).toBe(
      services.app.environment.DATABASE_URL,
    )
  })

  test('Prometheus runs prometheus.yml with the rules, scraping the app and alerting Alertmanager', () => {
    const prometheus = services.prometheus
    // The start command is one `sh -c` line (it writes the scrape token first).
    const configArg = /--config\.file=(\S+)/.exec((prometheus.command as string[])[0]!)![1]!
    expect(prometheus.command[0]).toContain('exec /bin/prometheus --config.file=')
    const configFile = hostPath(prometheus, configArg)
    expect(configFile).toBe(repoPath('ops', 'prometheus', 'prometheus.yml'))
    const config = readYaml(configFile!) as Json
    const job = config.scrape_configs.find((j: Json) => j.job_name === 'convo-commerce')
    expect(job.metrics_path).toBe('/metrics')
    expect(job.static_configs[0].targets).toEqual([`app:${services.app.environment.PORT}`])
    expect(config.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093'])
    expect(services.alertmanager.ports).toEqual(['9093:9093'])
  })

  test('Prometheus keeps exemplars: the feature flag, the ring size, and OpenMetrics scrapes', () => {
    const command = String(services.prometheus.command[0])
    expect(command.match(/--enable-feature=\S+/g)).toEqual(['--enable-feature=exemplar-storage'])
    const config = readYaml(repoPath('ops', 'prometheus', 'prometheus.yml')) as Json
    expect(config.storage).toEqual({ exemplars: { max_exemplars: 200_000 } })
    // Exemplars only come with OpenMetrics; a job that chose its formats could leave it out.
    for (const job of config.scrape_configs)
      expect({ job: job.job_name, protocols: job.scrape_protocols }).toEqual({
        job: job.job_name,
        protocols: undefined,
      })
    expect(config.global.scrape_protocols).toBeUndefined()
  })

  test("Alertmanager posts to the service's receiver with the token file the stack writes", () => {
    const am = services.alertmanager
    const configFile = hostPath(am, '/etc/alertmanager/alertmanager.yml')
    expect(configFile).toBe(repoPath('ops', 'alertmanager', 'alertmanager.yml'))
    const config = readYaml(configFile!) as Json
    expect(config.route.group_by).toEqual(['alertname', 'severity', 'tenant_id'])
    const webhook = config.receivers[0].webhook_configs[0]
    expect(webhook.url).toBe(`http://app:${services.app.environment.PORT}/alerts/alertmanager`)
    expect(webhook.http_config.authorization.type).toBe('Bearer')
    const tokenFile = webhook.http_config.authorization.credentials_file as string
    expect(am.tmpfs).toEqual([tokenFile.slice(0, tokenFile.lastIndexOf('/'))])
    expect(am.command[0]).toContain(`> ${tokenFile} &&`)
    expect(am.command[0]).toContain('exec /bin/alertmanager --config.file=/etc/alertmanager/alertmanager.yml')
  })

  test('Grafana gets the datasource and the dashboards from the provisioning files', () => {
    const grafana = services.grafana
    const provisioning = hostPath(grafana, '/etc/grafana/provisioning')
    expect(provisioning).toBe(repoPath('ops', 'grafana', 'provisioning'))
    const datasources = readYaml(join(provisioning!, 'datasources', 'prometheus.yml')) as Json
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true }),
    ])
    // Each exemplar's trace_id links to its trace; TRACE_BASE_URL is expanded by Grafana at load.
    expect(datasources.datasources[0].jsonData.exemplarTraceIdDestinations).toEqual([
      // biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's provisioning syntax, not a JS template
      { name: 'trace_id', url: '${TRACE_BASE_URL}$${__value.raw}', urlDisplayLabel: 'Open trace' },
    ])
    const providers = readYaml(join(provisioning!, 'dashboards', 'convo-commerce.yml')) as Json
    const dashboardsDir = hostPath(grafana, providers.providers[0].options.path)
    expect(dashboardsDir).toBe(repoPath('ops', 'grafana', 'dashboards'))
    const home = hostPath(grafana, grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH)!
    expect(JSON.parse(readFileSync(home, 'utf8')).uid).toBe('convo-system')
  })

  test("every podman build command the docs give keeps the Containerfile's HEALTHCHECK", () => {
    // Podman's default OCI image format has no HEALTHCHECK; the Docker format keeps it.
    expect(readFileSync(repoPath('Containerfile'), 'utf8')).toMatch(/^HEALTHCHECK /m)
    const commands = ['README.md', 'Containerfile', 'ops/compose.yaml'].flatMap((file) =>
      readFileSync(repoPath(file), 'utf8')
        .split('\n')
        .filter((line) => /podman (build|compose .*--build)/.test(line) && !line.includes('--build-arg'))
        .map((line) => ({ file, line: line.trim() })),
    )
    expect(commands.length).toBeGreaterThanOrEqual(4)
    for (const { file, line } of commands) {
      expect({ file, line, keepsHealthcheck: /--format docker|BUILDAH_FORMAT=docker/.test(line) }).toEqual({
        file,
        line,
        keepsHealthcheck: true,
      })
    }
  })
})
