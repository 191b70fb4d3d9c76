import { parseSlothSpec } from '../../../src/alerting/slo/spec.ts'

/** The message parseSlothSpec refuses `text` with; `accepted` when it takes it. */
export function refusal(text: string): string {
  try {
    parseSlothSpec(text)
  } catch (error) {
    return (error as Error).message
  }
  return 'accepted'
}

const EVENTS_SLI = `    sli:
      events:
        error_query: sum(rate(errors_total[{{.window}}]))
        total_query: sum(rate(requests_total[{{.window}}]))`

/**
 * A one-SLO spec: service `svc`, SLO `avail` at 99.9 with an events SLI, alert name
 * `AvailBurn`. `top` goes before `slos:`, `slo` among the SLO's fields, `sli` replaces the SLI
 * block (`''`: none), `alerting` goes inside the alerting block; each indented as it lands.
 */
export const availSpec = (parts: { top?: string; slo?: string; sli?: string; alerting?: string } = {}) =>
  `version: prometheus/v1
service: svc
${parts.top ?? ''}
slos:
  - name: avail
    objective: 99.9
${parts.slo ?? ''}
${parts.sli ?? EVENTS_SLI}
    alerting:
      name: AvailBurn
${parts.alerting ?? ''}
`
