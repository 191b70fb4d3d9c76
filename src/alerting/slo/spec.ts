import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'

/**
 * Service level objectives as declared in ops/slo/slos.yml, in Sloth's `prometheus/v1` spec
 * format (sloth.dev, "Default spec"; github.com/slok/sloth pkg/prometheus/api/v1). Only the
 * fields this service uses are read; anything else Sloth accepts is kept out of the rules.
 */

/** One alert of an SLO (page or ticket): extra labels and annotations, or disabled. */
export interface SlothAlertSpec {
  disable?: boolean
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

export interface SlothSlo {
  /** The SLO's name, unique in the service: `sloth_slo`; `sloth_id` is `<service>-<name>`. */
  name: string
  /** Target in percent of good events, e.g. 99.9. */
  objective: number
  /** Human text; the part before " - " names the objective in alert messages. */
  description?: string
  labels?: Record<string, string>
  sli: { events: { error_query: string; total_query: string } }
  alerting: {
    name: string
    labels?: Record<string, string>
    annotations?: Record<string, string>
    page_alert?: SlothAlertSpec
    ticket_alert?: SlothAlertSpec
  }
}

export interface SlothSpec {
  version: 'prometheus/v1'
  service: string
  labels?: Record<string, string>
  slos: SlothSlo[]
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_-]*$/
const ALERT_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/**
 * Parses and checks a spec: version, names, objectives strictly between 0 and 100, both
 * queries with `{{.window}}`. Throws an Error naming the SLO on any problem.
 */
export function parseSlothSpec(text: string): SlothSpec {
  const spec = parseYaml(text) as SlothSpec
  if (spec?.version !== 'prometheus/v1') throw new Error('version must be prometheus/v1')
  if (!spec.service || !NAME_RE.test(spec.service)) throw new Error(`invalid service name: ${spec.service}`)
  if (!Array.isArray(spec.slos) || spec.slos.length === 0) throw new Error('slos must list at least one SLO')
  const seen = new Set<string>()
  for (const slo of spec.slos) {
    const where = `slo "${slo?.name}"`
    if (!slo?.name || !NAME_RE.test(slo.name)) throw new Error(`${where}: invalid name`)
    if (seen.has(slo.name)) throw new Error(`${where}: duplicate name`)
    seen.add(slo.name)
    if (typeof slo.objective !== 'number' || !(slo.objective > 0 && slo.objective < 100))
      throw new Error(`${where}: objective must be a percentage between 0 and 100 (exclusive)`)
    for (const field of ['error_query', 'total_query'] as const) {
      const query = slo.sli?.events?.[field]
      if (typeof query !== 'string' || !query.includes('{{.window}}'))
        throw new Error(`${where}: sli.events.${field} must be a query containing {{.window}}`)
    }
    if (!slo.alerting?.name || !ALERT_RE.test(slo.alerting.name))
      throw new Error(`${where}: alerting.name must be a valid alert name`)
  }
  return spec
}

export function loadSlothSpec(file: string): SlothSpec {
  try {
    return parseSlothSpec(readFileSync(file, 'utf8'))
  } catch (error) {
    throw new Error(`${file}: ${(error as Error).message}`)
  }
}

/** Sloth's `sloth_id`. */
export const slothId = (spec: SlothSpec, slo: SlothSlo) => `${spec.service}-${slo.name}`

/** The error budget as a ratio (1 - objective), rounded to drop float noise (99.9 → 0.001). */
export const errorBudget = (slo: SlothSlo) => Number(((100 - slo.objective) / 100).toPrecision(12))

/** The name alert messages use for an SLO: its description up to " - ", else its name. */
export const displayName = (slo: SlothSlo) => slo.description?.split(' - ')[0]?.trim() || slo.name

/**
 * The SLI windows Sloth records (`slo:sli_error:ratio_rate<window>`), shortest first: the
 * multiwindow alerts' windows and the 30-day period. Windows up to 6h are computed from the
 * raw counters; 1d, 3d and the period average the 5m recording (see scripts/slo/generate.ts).
 */
export const SLI_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d', '30d'] as const
export type SliWindow = (typeof SLI_WINDOWS)[number]
/** The SLO period (Sloth's default, 30 days). */
export const PERIOD: SliWindow = '30d'

/**
 * The SRE workbook's multiwindow, multi-burn-rate alerts for a 30-day period (Sloth's
 * defaults): each condition needs both windows above `factor` × the error budget.
 */
export const BURN_ALERTS = {
  page: [
    { long: '1h', short: '5m', factor: 14.4 },
    { long: '6h', short: '30m', factor: 6 },
  ],
  ticket: [
    { long: '1d', short: '2h', factor: 3 },
    { long: '3d', short: '6h', factor: 1 },
  ],
} as const satisfies Record<
  'page' | 'ticket',
  ReadonlyArray<{ long: SliWindow; short: SliWindow; factor: number }>
>
