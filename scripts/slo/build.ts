// Writes ops/prometheus/rules/slo.yml from ops/slo/slos.yml: `bun run ops:slo`
// (`bun scripts/slo/build.ts [spec.yml [rules.yml]]` for other files).
import { writeFileSync } from 'node:fs'
import { loadSlothSpec, objectiveWarnings, type SlothSpec } from '../../src/alerting/slo/spec.ts'
import { sloRulesFileText } from './generate.ts'

const specFile = process.argv[2] ?? new URL('../../ops/slo/slos.yml', import.meta.url).pathname
const rulesFile = process.argv[3] ?? new URL('../../ops/prometheus/rules/slo.yml', import.meta.url).pathname
let spec: SlothSpec
try {
  spec = loadSlothSpec(specFile)
} catch (error) {
  // A refused spec is the user's input, not a crash: its one-line reason, as Sloth prints it,
  // without the runtime's source excerpt and stack.
  console.error(`ops:slo: ${(error as Error).message}`)
  process.exit(1)
}
// Sloth generates these too, so they are written; but `objective: 0.999` meant 99.9 % far more
// often than 0.999 %, and nothing else would say so before the alerts stayed silent.
for (const warning of objectiveWarnings(spec)) console.error(`ops:slo: warning: ${warning}`)
writeFileSync(rulesFile, sloRulesFileText(spec))
console.log(
  `${process.argv[3] ?? 'ops/prometheus/rules/slo.yml'}  ${spec.slos.length} SLOs of ${spec.service}`,
)
