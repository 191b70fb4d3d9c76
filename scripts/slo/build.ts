// Writes ops/prometheus/rules/slo.yml from ops/slo/slos.yml: `bun run ops:slo`.
import { writeFileSync } from 'node:fs'
import { loadSlothSpec } from '../../src/alerting/slo/spec.ts'
import { sloRulesFileText } from './generate.ts'

const spec = loadSlothSpec(new URL('../../ops/slo/slos.yml', import.meta.url).pathname)
writeFileSync(new URL('../../ops/prometheus/rules/slo.yml', import.meta.url), sloRulesFileText(spec))
console.log(`ops/prometheus/rules/slo.yml  ${spec.slos.length} SLOs of ${spec.service}`)
