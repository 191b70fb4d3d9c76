import { readFileSync } from 'node:fs'
import { parseDuration } from '../../prometheus/duration.ts'
import { valueType } from '../../prometheus/promql/ast.ts'
import { parsePromQL } from '../../prometheus/promql/parser.ts'
import { type GoYamlValue, parseGoYaml, parseYamlGoBlocks } from '../../prometheus/rules/go-yaml.ts'
import { goResolve } from '../../prometheus/rules/go-yaml-resolve.ts'
import { checkTemplate, TemplateError } from '../../prometheus/template/template.ts'

/**
 * Service level objectives as declared in ops/slo/slos.yml, in Sloth's `prometheus/v1` spec
 * format (sloth.dev, "Default spec"; github.com/slok/sloth pkg/prometheus/api/v1). The fields
 * Sloth acts on and this service does not implement are refused by name (UNSUPPORTED);
 * unknown keys are ignored, as Sloth's yaml.v2 loader ignores them.
 */

/** One alert of an SLO (page or ticket): extra labels and annotations, or disabled. */
export interface SlothAlertSpec {
  disable?: boolean
  labels?: Record<string, string>
  annotations?: Record<string, string>
}

/**
 * An SLO's indicator, exactly one of Sloth's two query kinds (pkg/prometheus/api/v1 SLI):
 * bad and total events, or a query that already yields the error ratio (0 to 1).
 */
export type SlothSli =
  | { events: { error_query: string; total_query: string }; raw?: undefined }
  | { raw: { error_ratio_query: string }; events?: undefined }

export interface SlothSlo {
  /** The SLO's name, unique in the service: `sloth_slo`; `sloth_id` is `<service>-<name>`. */
  name: string
  /** Target in percent of good events, above 0 and at most 100, e.g. 99.9. */
  objective: number
  /** Human text; the part before " - " names the objective in alert messages. */
  description?: string
  labels?: Record<string, string>
  /** The queries hold `{{.window}}` (spelt so whatever spaces the spec had inside the braces). */
  sli: SlothSli
  alerting: {
    /** The alerts' name; '' when both alerts are disabled (Sloth needs it only for an alert). */
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

/** Sloth's rule for service and SLO names (pkg/common/conventions NameRegexp). */
const NAME_RE = /^[A-Za-z0-9][-A-Za-z0-9_.]*[A-Za-z0-9]$/
const NAME_RULE =
  "it must start and end with a letter or digit and hold only letters, digits, '.', '_' and '-'"
/**
 * Label and annotation names as promtool 2.42 and the embedded engine read rule files
 * (prometheus/common model.LabelName.IsValid). Sloth's newer releases pass any UTF-8 name,
 * which would give a rule file neither of them loads.
 */
const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const LABEL_NAME_RULE = "letters, digits and '_', not starting with a digit"
/** Sloth's window placeholder, spaces allowed inside the braces (pkg/common/conventions TplSLIQueryWindowVarRegex). */
const WINDOW_RE = /\{\{ *\.window *\}\}/g
/** The spelling the parsed spec keeps, so a consumer replacing `{{.window}}` meets no other. */
const WINDOW = '{{.window}}'
/** The window Sloth renders a query with to check it (pkg/common/validation/promql.go). */
const CHECK_WINDOW = '1m'

/**
 * A query of the spec with each window placeholder (`{{.window}}`, `{{ .window }}`) replaced
 * by `window` (e.g. "5m"), as Sloth renders its SLI query templates.
 */
export const sliQuery = (query: string, window: string): string => query.replace(WINDOW_RE, () => window)

/**
 * Text that a Prometheus alert template (annotation or alert label value, Go text/template)
 * renders as `text` itself: each `{{` becomes the action `{{ "{{" }}`, so a description such
 * as `Avail {{ $labels.x` neither breaks the rule file nor gets expanded. `}}` outside an
 * action is plain text already.
 */
export const templateText = (text: string): string => text.replaceAll('{{', '{{ "{{" }}')

const fieldOf = (tree: unknown, key: string | number): unknown =>
  tree !== null && typeof tree === 'object' ? (tree as Record<string | number, unknown>)[key] : undefined

/**
 * Fields Sloth reads and this service does not implement, with what Sloth does with them.
 * Sloth's YAML loader ignores keys it does not know, and so does this one; but a field Sloth
 * acts on must not be dropped in silence, or the rules would differ from Sloth's for the same
 * spec.
 */
const UNSUPPORTED = {
  spec: {
    slo_plugins: "runs Sloth's SLO plugin chain (sloth.dev/core/…, sloth.dev/contrib/…) on every SLO",
  },
  slo: {
    interval: "sets the rule groups' evaluation interval",
    infoLabels: 'adds labels to sloth_slo_info',
    plugins: "runs Sloth's SLO plugins on this SLO",
  },
  alert: {
    for: "sets the alert's pending time (plugin sloth.dev/contrib/alert_for/v1)",
  },
} as const satisfies Record<string, Record<string, string>>

/** Refuses the first field of `UNSUPPORTED[level]` present in `raw`, naming it. */
function refuseUnsupported(raw: unknown, level: keyof typeof UNSUPPORTED, where: string) {
  for (const [key, effect] of Object.entries(UNSUPPORTED[level]))
    if (fieldOf(raw, key) !== undefined)
      throw new Error(
        `${where}${key} is not supported here (in Sloth it ${effect}); remove it or generate with Sloth`,
      )
}

/**
 * A string field the way yaml.v2 fills Sloth's Go string: a scalar as written (`42` is "42",
 * `42.0` stays "42.0"), null or absent as "". `raw` comes from the failsafe reading.
 */
function text(raw: unknown, field: string): string {
  if (raw === undefined || raw === null) return ''
  if (typeof raw !== 'string')
    throw new Error(`${field} must be text, not a ${Array.isArray(raw) ? 'list' : 'map'}`)
  return raw
}

/**
 * A field Sloth decodes into a struct (an SLO, `sli`, `sli.events`, `sli.raw`, `alerting`):
 * text or a list there is refused by name, as yaml.v2 refuses it (`cannot unmarshal !!str`),
 * rather than reported later as a missing field inside it. Null or absent stays as it is.
 */
function mapField(raw: unknown, field: string): unknown {
  if (raw !== undefined && raw !== null && (typeof raw !== 'object' || Array.isArray(raw)))
    throw new Error(`${field} must be a map`)
  return raw
}

/** A `map[string]string` field (labels, annotations): keys and values as written. */
function textMap(raw: unknown, field: string): Record<string, string> | undefined {
  if (raw === undefined || raw === null) return undefined
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${field} must be a map`)
  return Object.fromEntries(Object.entries(raw).map(([key, value]) => [key, text(value, `${field}.${key}`)]))
}

/** A Go bool field (`disable`): YAML 1.1 booleans as yaml.v2 reads them, null or absent as false. */
function flag(typed: unknown, field: string): boolean {
  if (typed === undefined || typed === null) return false
  if (typeof typed !== 'boolean') throw new Error(`${field} must be true or false`)
  return typed
}

/**
 * Refuses what Sloth's PromQL dialect refuses in labels and annotations
 * (pkg/common/validation/promql.go): a name promtool would not read, `__name__` as a label,
 * an empty value.
 */
function checkLabels(
  labels: Record<string, string> | undefined,
  field: string,
  kind: 'label' | 'annotation',
) {
  for (const [key, value] of Object.entries(labels ?? {})) {
    if (!LABEL_NAME_RE.test(key))
      throw new Error(`${field}: invalid ${kind} name "${key}" (${LABEL_NAME_RULE})`)
    if (kind === 'label' && key === '__name__')
      throw new Error(`${field}: the label name "__name__" is not allowed`)
    if (value === '') throw new Error(`${field}: ${kind} "${key}" needs a value`)
  }
}

/** The labels the generator gives every recording of an SLO and selects its recordings by. */
const ID_LABELS = ['sloth_id', 'sloth_service', 'sloth_slo']

/**
 * Refuses a spec or SLO label that would replace an id label. Sloth merges the spec's labels
 * over its own (sli_rules_v1 `MergeLabels`), so `sloth_id: x` relabelled every recording,
 * while the burn-rate recordings and alerts still select `sloth_id="<service>-<slo>"`: the
 * SLO had no burn rate, no budget and no alert at 100 % errors, and promtool passed the file.
 */
function checkIdLabels(labels: Record<string, string> | undefined, field: string) {
  for (const key of Object.keys(labels ?? {}))
    if (ID_LABELS.includes(key))
      throw new Error(
        `${field}: the label "${key}" is set by the generator (${ID_LABELS.join(', ')} identify the SLO's recordings, and its rules select them by these); remove it`,
      )
}

/**
 * Parses one query with the project's PromQL parser (Prometheus 2.42's grammar) with the
 * placeholder as Sloth's check window (1m) and as every window the generator writes it with
 * (5m … 3d; the period averages the 5m recording), naming `field` and the window on failure.
 * Sloth checks 1m only, so `[1h{{.window}}]` passed ("1h1m") and the rule file then held
 * `[1h1h]`, which promtool refuses ("not a valid duration string").
 */
function checkPromQL(expr: string, field: string) {
  for (const window of [CHECK_WINDOW, ...SLI_WINDOWS.filter((w) => w !== PERIOD)]) {
    try {
      parsePromQL(sliQuery(expr, window))
    } catch (error) {
      throw new Error(`${field} does not parse with ${WINDOW} as ${window}: ${(error as Error).message}`)
    }
  }
}

/**
 * Refuses an alert label or annotation value that Prometheus would not load as a template
 * (rulefmt.go testTemplateParsing: `{{ $labels.team` is "unclosed action", `{{ $x }}` an
 * undefined variable), in promtool's words and naming the field. Sloth copies the values into
 * the alerts unchecked, and promtool then refused the whole rule file.
 */
function checkTemplates(map: Record<string, string> | undefined, field: string, alertName: string) {
  for (const [key, value] of Object.entries(map ?? {})) {
    try {
      checkTemplate(value, alertName)
    } catch (error) {
      if (!(error instanceof TemplateError)) throw error
      throw new Error(`${field}.${key}: template: __alert_${alertName}:${error.line ?? 1}: ${error.message}`)
    }
  }
}

/**
 * `time_window`, of the spec or of an SLO. Sloth's prometheus/v1 spec has no such field: Sloth
 * ignores it and writes the rules of its default period (`--default-slo-period`, 30d), and so
 * did this reader, so `time_window: 28d` (Sloth's other catalogued period, or OpenSLO's
 * `timeWindow`) gave 30-day budgets and alerts in silence. The period written here (30d, in
 * any spelling of that duration) passes; anything else is refused, naming the field.
 */
function checkTimeWindow(raw: unknown, field: string) {
  if (raw === undefined || raw === null) return
  const value = text(raw, field)
  let ms: number | undefined
  try {
    ms = parseDuration(value)
  } catch {
    ms = undefined
  }
  if (ms !== parseDuration(PERIOD))
    throw new Error(
      `${field} ${JSON.stringify(value)} is not supported: Sloth's prometheus/v1 spec has no period field (Sloth ignores it and writes ${PERIOD} rules), and this generator writes ${PERIOD} rules only; remove it or set it to ${PERIOD}`,
    )
}

/** One alert of an SLO (`page_alert`, `ticket_alert`), or undefined when it is absent. */
function parseAlert(raw: unknown, typed: unknown, field: string): SlothAlertSpec | undefined {
  if (raw === undefined || raw === null) return undefined
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${field} must be a map`)
  refuseUnsupported(raw, 'alert', `${field}.`)
  const disable = flag(fieldOf(typed, 'disable'), `${field}.disable`)
  const labels = textMap(fieldOf(raw, 'labels'), `${field}.labels`)
  const annotations = textMap(fieldOf(raw, 'annotations'), `${field}.annotations`)
  return {
    ...(disable ? { disable } : {}),
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  }
}

/** An SLO's `alerting`, checked as Sloth checks the alerts it generates. */
function parseAlerting(raw: unknown, typed: unknown, where: string): SlothSlo['alerting'] {
  const field = (key: string) => `${where}: alerting.${key}`
  const name = text(fieldOf(raw, 'name'), field('name'))
  const labels = textMap(fieldOf(raw, 'labels'), field('labels'))
  const annotations = textMap(fieldOf(raw, 'annotations'), field('annotations'))
  const alerts = {
    page_alert: parseAlert(fieldOf(raw, 'page_alert'), fieldOf(typed, 'page_alert'), field('page_alert')),
    ticket_alert: parseAlert(
      fieldOf(raw, 'ticket_alert'),
      fieldOf(typed, 'ticket_alert'),
      field('ticket_alert'),
    ),
  }
  // Sloth fills in and checks an alert's name, labels and annotations only for an alert it
  // generates (internal/prometheus/spec.go leaves a disabled one empty; isValidAlert skips it),
  // so an SLO with both alerts disabled needs no name.
  const enabled = (['page_alert', 'ticket_alert'] as const).filter((key) => !alerts[key]?.disable)
  if (enabled.length > 0) {
    // Any other text will do: Sloth asks for a name only (validateRequiredEnabledAlertName),
    // and an alert's name is a label value to promtool and to the rule manager alike.
    if (!name) throw new Error(`${field('name')} is required while page_alert or ticket_alert is enabled`)
    checkLabels(labels, field('labels'), 'label')
    checkLabels(annotations, field('annotations'), 'annotation')
    checkTemplates(labels, field('labels'), name)
    checkTemplates(annotations, field('annotations'), name)
  }
  for (const key of enabled) {
    checkLabels(alerts[key]?.labels, field(`${key}.labels`), 'label')
    checkLabels(alerts[key]?.annotations, field(`${key}.annotations`), 'annotation')
    checkTemplates(alerts[key]?.labels, field(`${key}.labels`), name)
    checkTemplates(alerts[key]?.annotations, field(`${key}.annotations`), name)
  }
  return {
    name,
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
    ...(alerts.page_alert ? { page_alert: alerts.page_alert } : {}),
    ...(alerts.ticket_alert ? { ticket_alert: alerts.ticket_alert } : {}),
  }
}

/** A query field of `sli`, holding `{{.window}}` and parsing as PromQL; placeholders spelt `{{.window}}`. */
function sliQueryField(raw: unknown, field: string): string {
  const query = text(raw, field)
  if (query === '') throw new Error(`${field} is missing (a query containing ${WINDOW})`)
  if (query.search(WINDOW_RE) < 0) throw new Error(`${field} must be a query containing ${WINDOW}`)
  checkPromQL(query, field)
  // One spelling of the placeholder, so a consumer replacing `{{.window}}` meets no other.
  return query.replace(WINDOW_RE, WINDOW)
}

/**
 * An SLO's `sli`, checked as Sloth's isValidSLOSLI does (pkg/common/validation/slo.go):
 * exactly one of `events` and `raw`, every query holding `{{.window}}` and parsing, the two
 * events queries differing.
 */
function parseSli(sli: unknown, where: string): SlothSli {
  if (fieldOf(sli, 'plugin') !== undefined && fieldOf(sli, 'plugin') !== null)
    throw new Error(`${where}: sli.plugin is not supported here, only sli.events and sli.raw`)
  const events = mapField(fieldOf(sli, 'events'), `${where}: sli.events`)
  const raw = mapField(fieldOf(sli, 'raw'), `${where}: sli.raw`)
  const has = (value: unknown) => value !== undefined && value !== null
  if (has(events) && has(raw))
    throw new Error(`${where}: sli holds both events and raw; Sloth allows only one`)
  // Sloth: "at least one SLI type is required". Naming sli.events.error_query here sent the
  // author of a missing or misspelt `sli` (or `raw`) after a field they never meant to write.
  if (!has(events) && !has(raw))
    throw new Error(
      `${where}: sli needs events (error_query and total_query) or raw (error_ratio_query); it has neither`,
    )
  if (has(raw)) {
    const field = `${where}: sli.raw.error_ratio_query`
    const query = sliQueryField(fieldOf(raw, 'error_ratio_query'), field)
    // The recording puts the query in parentheses, as Sloth does; a trailing `# comment`
    // would eat the closing one.
    checkPromQL(`(${query})`, `${where}: sli.raw: (error_ratio_query)`)
    // Prometheus loads a recording rule of any type and fails it at every evaluation ("rule
    // result is not a vector or scalar", rules/manager.go `EngineQueryFunc`); Sloth does not
    // look. Refused here, where the field can be named.
    const type = valueType(parsePromQL(sliQuery(query, CHECK_WINDOW)))
    if (type !== 'vector' && type !== 'scalar')
      throw new Error(
        `${where}: sli.raw.error_ratio_query must give an instant vector or a scalar, not a ${type === 'matrix' ? 'range vector' : type}`,
      )
    return { raw: { error_ratio_query: query } }
  }
  const [errorQuery, totalQuery] = (['error_query', 'total_query'] as const).map((key) => {
    const query = text(fieldOf(events, key), `${where}: sli.events.${key}`)
    if (query === '') throw new Error(`${where}: sli.events.${key} is missing (a query containing ${WINDOW})`)
    if (query.search(WINDOW_RE) < 0)
      throw new Error(`${where}: sli.events.${key} must be a query containing ${WINDOW}`)
    return query
  }) as [string, string]
  if (errorQuery === totalQuery)
    throw new Error(`${where}: sli.events.error_query and total_query must differ`)
  const error = sliQueryField(errorQuery, `${where}: sli.events.error_query`)
  const total = sliQueryField(totalQuery, `${where}: sli.events.total_query`)
  // The SLI recordings put each query in parentheses on one line, as Sloth does; a query that
  // parses alone can still break there (a trailing `# comment` eats the closing parenthesis).
  checkPromQL(`(${error})\n/\n(${total})\n`, `${where}: sli.events: (error_query) / (total_query)`)
  return { events: { error_query: error, total_query: total } }
}

/** One SLO of the spec, as Sloth's ValidateSLO checks it. */
/** A map's value (the last of a repeated key, as yaml.v2 keeps) or a list's item, of yaml.v2's tree. */
function goNode(node: GoYamlValue | undefined, key: string | number): GoYamlValue | undefined {
  if (node?.kind === 'list' && typeof key === 'number') return node.items[key]
  if (node?.kind === 'map') return node.entries.findLast((e) => e.key === key)?.value
  return undefined
}

/**
 * A scalar as yaml.v2 decodes it into a float64 field (resolve.go `resolve`): `0o77` is 63,
 * `!!float 99` is 99, `0x10` 16, where the JavaScript YAML 1.1 reading differs. Anything that
 * is not a number is given back as the JavaScript reading had it, for the checks below.
 */
function goNumber(node: GoYamlValue | undefined, fallback: unknown, field: string): unknown {
  if (node?.kind !== 'scalar' || node.text === null) return fallback
  const resolved = goResolve(node.tag ?? (node.quoted ? '!!str' : undefined), node.text, false)
  if ('failure' in resolved) throw new Error(`${field}: ${resolved.failure}`)
  const { value } = resolved
  if (value.kind === 'int' || value.kind === 'uint') return Number(value.value)
  if (value.kind === 'float') return value.value
  return fallback
}

function parseSlo(raw: unknown, typed: unknown, seen: Set<string>, objectiveNode?: GoYamlValue): SlothSlo {
  const name = text(fieldOf(raw, 'name'), 'slo name')
  const where = `slo "${name}"`
  if (!NAME_RE.test(name)) throw new Error(`${where}: invalid name: ${NAME_RULE}`)
  if (seen.has(name)) throw new Error(`${where}: duplicate name`)
  seen.add(name)
  refuseUnsupported(raw, 'slo', `${where}: `)
  checkTimeWindow(fieldOf(raw, 'time_window'), `${where}: time_window`)
  const objective = goNumber(objectiveNode, fieldOf(typed, 'objective'), `${where}: objective`)
  // yaml.v2 refuses a string or a boolean for Sloth's float64 (`cannot unmarshal !!str`),
  // where a missing value is Go's zero and meets the range check.
  if (typeof objective === 'string' || typeof objective === 'boolean')
    throw new Error(
      `${where}: objective must be a number (a percentage such as 99.9), not the ${typeof objective} ${JSON.stringify(objective)}`,
    )
  // Sloth reads a missing objective as Go's zero and calls it out of range; a misspelt key
  // (`objetive: 99.9`, `Objective: 99.9`) then read "must be above 0" beside a 99.9.
  if (objective === undefined || objective === null)
    throw new Error(
      `${where}: objective is missing (the key \`objective\`, a percentage above 0 and at most 100, such as 99.9)`,
    )
  // 100 is allowed, as in Sloth: the budget is then 0 and any error burns it.
  if (typeof objective !== 'number' || !(objective > 0 && objective <= 100))
    throw new Error(`${where}: objective must be a percentage above 0 and at most 100`)
  const description = text(fieldOf(raw, 'description'), `${where}: description`)
  const labels = textMap(fieldOf(raw, 'labels'), `${where}: labels`)
  checkLabels(labels, `${where}: labels`, 'label')
  checkIdLabels(labels, `${where}: labels`)
  return {
    name,
    objective,
    ...(description ? { description } : {}),
    ...(labels ? { labels } : {}),
    sli: parseSli(mapField(fieldOf(raw, 'sli'), `${where}: sli`), where),
    alerting: parseAlerting(
      mapField(fieldOf(raw, 'alerting'), `${where}: alerting`),
      fieldOf(typed, 'alerting'),
      where,
    ),
  }
}

/**
 * The specs of a file as Sloth's CLI splits it (cmd/sloth/commands/helpers.go `splitYAML`):
 * comment lines dropped, split at each line starting `---`, empty pieces left out.
 */
function slothDocuments(source: string): string[] {
  return source
    .trim()
    .replace(/^#.*$/gm, '')
    .split(/^---/m)
    .map((piece) => piece.trim())
    .filter((piece) => piece !== '')
}

/**
 * Parses and checks a spec as Sloth's loader and validation do (github.com/slok/sloth
 * internal/prometheus/spec.go, pkg/common/validation/slo.go and promql.go): version, service
 * and SLO names (NameRegexp), objectives above 0 and at most 100, label and annotation names
 * and values, `sli.events` queries holding `{{.window}}` (spaces allowed inside the braces),
 * differing and parsing as PromQL, and an alert name while an alert is enabled. Also refuses
 * what Sloth passes but promtool 2.42 would refuse in the generated rules: UTF-8 label names,
 * queries that only break once composed into `(error)\n/\n(total)`, alert label and annotation
 * values that do not parse as templates; and what would give rules other than the spec meant:
 * a `time_window` other than the 30 days written, a label replacing sloth_id, sloth_service or
 * sloth_slo. Refuses, naming them, the Sloth fields it does not implement (UNSUPPORTED,
 * `sli.plugin`) and a file of several specs.
 * Returns only the fields this service reads, placeholders spelt `{{.window}}`; throws an
 * Error naming the SLO and the field on any problem, and a GoYamlError (`yaml: line N: …`,
 * yaml.v2's words) on a document yaml.v2 cannot read.
 */
export function parseSlothSpec(source: string): SlothSpec {
  // Sloth decodes the spec with yaml.v2 into Go structs: typed fields (objective, disable)
  // read as YAML 1.1, and a string field takes the scalar as written (`description: 42` is
  // "42"). The failsafe reading keeps every scalar as written; nulls stay null, as yaml.v2
  // turns them into Go's zero value.
  // Sloth's CLI splits a file at `---` and generates each spec; the rule file here comes from one.
  // An empty document (a trailing `---`, one of comments only) is no spec to Sloth either.
  const documents = slothDocuments(source)
  if (documents.length > 1)
    throw new Error(
      `the file holds ${documents.length} YAML documents; Sloth generates each as a spec, this reader takes one spec per file`,
    )
  const spec = documents[0] ?? source
  // A spec Sloth's yaml.v2 cannot read is refused in its words (`yaml: line 4: did not find
  // expected '-' indicator`), at its line of the document, as the rule files' reader does;
  // the JavaScript parser's own words named other lines and other faults.
  const go = parseGoYaml(spec, 'yaml.v2')
  // A block scalar ending the spec (as one always does after Sloth's trim) keeps no final newline.
  // A repeated key is no error: Sloth's yaml.Unmarshal is not strict, and the last one counts
  // (yaml.v2 decode.go `setMapIndex`, `mappingStruct`), as in goNode.
  const typed: unknown = parseYamlGoBlocks(spec, { version: '1.1', uniqueKeys: false })
  const raw: unknown = parseYamlGoBlocks(spec, {
    schema: 'failsafe',
    customTags: ['null'],
    merge: true,
    uniqueKeys: false,
  })
  const version = text(fieldOf(raw, 'version'), 'version')
  if (version !== 'prometheus/v1') {
    // Sloth's `generate` also takes its Kubernetes CRD (and, in newer releases, OpenSLO),
    // spelt with `apiVersion` and `kind` and camelCase fields, and writes a PrometheusRule
    // from the CRD (cmd/sloth/commands/generate.go tries the prometheus/v1 loader, then the
    // k8sprometheus one). "version must be prometheus/v1" told the author of such a file
    // about a field it never had: name the kind the file is, and the format to write instead.
    const apiVersion = fieldOf(raw, 'apiVersion')
    if (version === '' && typeof apiVersion === 'string') {
      const kind = fieldOf(raw, 'kind')
      const advice =
        kind === 'PrometheusServiceLevel'
          ? "; to convert it, set version: prometheus/v1, move its spec's fields to the top and spell them in snake_case (errorQuery as error_query, pageAlert as page_alert)"
          : ''
      throw new Error(
        `the spec is apiVersion ${JSON.stringify(apiVersion)}${typeof kind === 'string' ? `, kind ${JSON.stringify(kind)}` : ''}: this generator reads only Sloth's prometheus/v1 spec${advice}`,
      )
    }
    throw new Error('version must be prometheus/v1')
  }
  refuseUnsupported(raw, 'spec', '')
  checkTimeWindow(fieldOf(raw, 'time_window'), 'time_window')
  const service = text(fieldOf(raw, 'service'), 'service')
  if (!NAME_RE.test(service)) throw new Error(`invalid service name "${service}": ${NAME_RULE}`)
  const labels = textMap(fieldOf(raw, 'labels'), 'labels')
  checkLabels(labels, 'labels', 'label')
  checkIdLabels(labels, 'labels')
  const slos = fieldOf(raw, 'slos')
  if (!Array.isArray(slos) || slos.length === 0) throw new Error('slos must list at least one SLO')
  const seen = new Set<string>()
  return {
    version: 'prometheus/v1',
    service,
    ...(labels ? { labels } : {}),
    slos: slos.map((slo, i) =>
      parseSlo(
        mapField(slo, `slos[${i}]`),
        fieldOf(fieldOf(typed, 'slos'), i),
        seen,
        goNode(goNode(goNode(go, 'slos'), i), 'objective'),
      ),
    ),
  }
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

/**
 * The objective as a ratio (`slo:objective:ratio`), rounded to 12 significant digits to drop
 * float noise (Sloth prints `vector(%g)` of objective/100: 99.9 → 0.9990000000000001).
 */
export const objectiveRatio = (slo: SlothSlo) => Number((slo.objective / 100).toPrecision(12))

/**
 * The error budget as a ratio (`slo:error_budget:ratio`, and the budget the burn-rate alerts
 * multiply), from objectiveRatio so that the recordings and the alerts can never disagree
 * (99.9 → 0.001; 99.99999999995 is 1 at 12 digits, so its budget is 0, as objective 100's).
 */
export const errorBudget = (slo: SlothSlo) => Number((1 - objectiveRatio(slo)).toPrecision(12))

/**
 * A number as Go's `strconv.FormatFloat(x, 'f', -1, 64)` writes it: the shortest digits that
 * read back to it, never in exponent form (Sloth's `sloth_objective` label: 0.0000001, not 1e-7).
 */
export function formatFloatF(x: number): string {
  const text = String(x)
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text)
  if (!m) return text
  const [, sign, first, rest = '', e] = m
  const exponent = Number(e)
  const digits = first! + rest
  return exponent < 0
    ? `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`
    : `${sign}${digits}${'0'.repeat(exponent - rest.length)}`
}

/** The name alert messages use for an SLO: its description up to " - ", else its name. */
export const displayName = (slo: SlothSlo) => slo.description?.split(' - ')[0]?.trim() || slo.name

/**
 * The SLI windows Sloth records (`slo:sli_error:ratio_rate<window>`), shortest first: the
 * multiwindow alerts' windows and the 30-day period. Every alert window is computed from the
 * SLI queries; the period averages the 5m recording, as Sloth's (see scripts/slo/generate.ts).
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

/**
 * Objectives that Sloth accepts and that are almost certainly not what the author meant, one
 * message per SLO (empty when none): an objective below 1 is a ratio written where Sloth wants
 * a percentage (`objective: 0.999` is 0.999 %, a 99.001 % error budget, not 99.9 %; Sloth's
 * validation only asks for 0 < objective ≤ 100), and a page alert the objective makes
 * impossible, since no window's error ratio exceeds 1 while each condition needs one above
 * factor × budget (at 90 % the 14.4× condition is dead and only the 6× one can fire; from
 * 83.33 % down the page never fires). Warnings, not errors: Sloth generates such rules, and
 * Prometheus loads them.
 * @returns messages such as `slo "x": objective 0.999 is 0.999 %, not 99.9 %: …`
 */
export function objectiveWarnings(spec: SlothSpec): string[] {
  const warnings: string[] = []
  for (const slo of spec.slos) {
    const budget = errorBudget(slo)
    const notes: string[] = []
    if (slo.objective < 1)
      notes.push(
        `objective ${formatFloatF(slo.objective)} is ${formatFloatF(slo.objective)} %, not ${formatFloatF(Number((slo.objective * 100).toPrecision(12)))} %: objectives are percentages (write 99.9 for 99.9 %)`,
      )
    // The ticket's 1× condition needs only a budget below 1, which every objective above 0 has.
    if (!slo.alerting.page_alert?.disable && BURN_ALERTS.page.every(({ factor }) => factor * budget >= 1))
      notes.push(
        `with an error budget of ${formatFloatF(Number((budget * 100).toPrecision(12)))} % the page alert can never fire: ${BURN_ALERTS.page
          .map(({ factor }) => `${factor} ×`)
          .join(' and ')} the budget are at least 1, an error ratio no window can exceed`,
      )
    if (notes.length > 0) warnings.push(`slo "${slo.name}": ${notes.join('; ')}`)
  }
  return warnings
}
