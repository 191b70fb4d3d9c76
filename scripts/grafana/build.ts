// Writes ops/grafana/dashboards/*.json from scripts/grafana/dashboards.ts: `bun run ops:dashboards`.
import { mkdirSync, writeFileSync } from 'node:fs'
import { buildDashboards, dashboardFileText } from './dashboards.ts'

const dir = new URL('../../ops/grafana/dashboards/', import.meta.url)
mkdirSync(dir, { recursive: true })
for (const [name, dashboard] of Object.entries(buildDashboards())) {
  writeFileSync(new URL(`${name}.json`, dir), dashboardFileText(dashboard))
  console.log(`ops/grafana/dashboards/${name}.json  ${dashboard.title} (uid ${dashboard.uid})`)
}
