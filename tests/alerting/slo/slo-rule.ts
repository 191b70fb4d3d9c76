/** A generated SLO rule as the tests read it from the rule groups. */
export interface SloRule {
  record?: string
  alert?: string
  expr: string
  labels: Record<string, string>
  annotations?: Record<string, string>
}
