/**
 * `bun tests/prometheus/template/fuzz.ts [--seed N] [--cases N] [--show N] [--dump 1]`: the seeded
 * differential fuzzer for alert templates. It generates random but plausible Go templates
 * (pipelines, variables, control structures, comparisons, printf verbs, flags, `*` widths,
 * `[n]` indexes and map, time and int operands, Go's char, imaginary and complex constants,
 * `break`/`continue` under if and with, `=` reassignments, define/block/template with
 * pipelines, trim markers around comments, Prometheus' template functions with edge
 * values, `query` results through first, value, strvalue, label and sortByLabel (NaN, ±Inf,
 * -0, empty, failing), host:port and duration strings, non-UTF-8 escapes, trim markers,
 * comments, literals of every kind, and errors), writes them as the annotations of one alert each, and runs the rule file through
 * Debian's `promtool test rules` 2.42 (the truth) and through our `runRuleTests`. The test
 * file expects no annotations, so both print what they rendered or the template error.
 *
 * Reports are compared alert by alert; a template either tool refuses when the rules load is
 * compared by its load error line and re-run without the others. Prints
 * `seed S: N cases, N agree, N disagree` and the first disagreements, promtool's then ours.
 */
import { numberArg as arg, Rng } from '../promql/differential/generator.ts'
import { type Case, type Disagreement, got, realTools, runBatch } from './fuzz-batch.ts'

// ---------------------------------------------------------------- the generator

/** Edge values as template literals: numbers Go lexes as int, float or char, and strings. */
const INT_LITERALS = [
  '0',
  '1',
  '-1',
  '42',
  '-7',
  '3',
  '255',
  '0x1F',
  '1_000',
  '017',
  '0o17',
  '0b101',
  "'a'",
  "'\\n'",
  '9223372036854775807',
  '+5',
  // char constants with every escape, and the other spellings of a base
  "'\\u00e9'",
  "'\\x41'",
  "'\\''",
  "'\\\\'",
  "'\\101'",
  "'é'",
  "'\\U0001F600'",
  '0X1F',
  '0B11',
  '0O7',
  '0x_1',
  '-0x10',
  '-9223372036854775808',
  '18446744073709551615',
]
const FLOAT_LITERALS = [
  '0.0',
  '1.5',
  '-2.25',
  '.5',
  '1e3',
  '1e-7',
  '123456789.0',
  '1e300',
  '-0.0',
  '2.5e-3',
  '0x1p-2',
  '1.',
  '3.14159',
  '1e21',
  '0.1',
  '1e308',
  '4.9e-324',
  '-1e-320',
  '1.7976931348623157e308',
  '0x1.8p1',
  '1_0.5',
  '0x1p-1074',
  '1e1_0',
]
/**
 * Imaginary and complex constants: complex128 to exec.go, (re+imi) to fmt; a complex item is
 * read by fmt.Sscan, which refuses hexadecimal parts and `1+i` when the rules load.
 */
const COMPLEX_LITERALS = [
  '1i',
  '0i',
  '-1i',
  '1.5i',
  '-0i',
  '1e3i',
  '017i',
  '0x1p2i',
  '1_0i',
  '1+2i',
  '1-2.5i',
  '-1-1i',
  '1+0i',
  '017+1i',
  '1.+.5i',
  '-0-0i',
  '1e-400i',
  '2.5e-3-1e3i',
]
const BAD_COMPLEX_LITERALS = ['1+i', '0x10+1i', '1e400i', '1+1e400i', '0x10i']
/**
 * Sample values no literal can spell, from `query`: NaN, ±Inf, -0 (PromQL's `-vector(0)`), and
 * query results, empty, unsorted, with a `__value__` label for strvalue, and failing.
 */
const QUERIES = [
  'vector(1)',
  'vector(NaN)',
  'vector(-Inf)',
  '-vector(0)',
  'vector(1e-320)',
  'nothing_here',
  'label_replace(vector(2), "__value__", "s v", "", "")',
  'label_replace(vector(1), "a", "x", "", "") or label_replace(vector(2), "a", "b", "", "") or label_replace(vector(3), "z", "c", "", "")',
  'label_replace(vector(1), "a", "\\xff", "", "")',
  // a scalar becomes one unlabelled sample; anything else, or a parse error, fails the call
  '1.5',
  'vector(1) / 0',
  'up{',
  '',
  '"s"',
  'up[5m]',
]
const STRING_VALUES = [
  'x',
  '',
  '1.5',
  '-3',
  '0',
  'NaN',
  '+Inf',
  '-Inf',
  'inf',
  '1e-400',
  '1e999',
  ' 1',
  '1_000',
  '0x10',
  'abc',
  'web-1:9090',
  'Hello World',
  'a"b',
  'é',
  '5m',
  '1h30m',
  '12345.678',
  'straße',
  // host:port shapes stripPort and stripDomain split, IPv6 and zones among them
  '[::1]:80',
  '[fe80::1%eth0]:9090',
  '::1',
  '10.0.0.1:80',
  'a.b.example.com:443',
  'www.example.com',
  '1.2.3.4',
  '[a.b]:1',
  // durations Prometheus' model.ParseDuration accepts or refuses
  '1y',
  '-5m',
  '1w2d',
  '1.5h',
  '0s',
  '292y',
  '-0',
  '4.9e-324',
  '1e308',
]
// biome-ignore lint/suspicious/noTemplateCurlyInString: a Go raw string, not a JavaScript template
const RAW_STRINGS = ['`raw`', '`a\\nb`', '`${1}`', '``']
const FIELDS = [
  '$value',
  '$labels',
  '$labels.instance',
  '$labels.job',
  '$labels.missing',
  '$labels.num',
  '$externalLabels',
  '$externalLabels.env',
  '$externalURL',
  '.Value',
  '.Labels.job',
  '.Labels',
  '$.Value',
  '$.Labels.instance',
  '.ExternalLabels',
  '.',
  '$',
  // nil interfaces (missing keys of args' map), an inherited JavaScript property name, a pointer
  '(index (args) "k")',
  '(args 1).arg1',
  '$labels.constructor',
  '(toTime 1)',
]
const BAD_FIELDS = ['.Missing', '$value.x', '$labels.job.x', '.Value.y', '$.Foo']

const VERBS = [
  'v',
  'd',
  's',
  'q',
  'x',
  'X',
  'e',
  'E',
  'f',
  'F',
  'g',
  'G',
  't',
  'b',
  'o',
  'c',
  'U',
  'T',
  '%',
  'z',
  'O',
  'w',
  'é',
]
const FLAGS = ['', '', '', '-', '+', '#', ' ', '0', '-0', '+0', '#0', '0-', '+#', '# ', ' +']
/**
 * printf operands beyond plain literals: maps (labels, `args`' map[string]interface {}),
 * `*time.Time`, and ints for `*` widths. Not `query` samples, nor a `*time.Time` inside `args`'
 * map: fmt prints pointers inside them as addresses, which differ from run to run (seed 1).
 */
const PRINTF_OPERANDS = [
  '$labels',
  '(args)',
  '(args 1 "a" nil 2.5)',
  '(args "x")',
  '(toTime 1.5)',
  '(toTime 0)',
  '(args $labels)',
  '3',
  '-4',
  '2',
  '1000001',
  'nil',
]

class Gen {
  constructor(private readonly rng: Rng) {}

  private pick<T>(items: readonly T[]): T {
    return this.rng.pick(items)
  }

  private chance(p: number): boolean {
    return this.rng.chance(p)
  }

  quoted(s: string): string {
    return JSON.stringify(s)
  }

  /** An explicit operand index, `[n]`, sometimes out of range or malformed. */
  private argIndex(): string {
    if (!this.chance(0.08)) return ''
    return this.chance(0.85) ? `[${this.rng.int(5)}]` : this.pick(['[x]', '[', '[1', '[]'])
  }

  format(): string {
    const n = 1 + this.rng.int(3)
    let out = ''
    for (let i = 0; i < n; i++) {
      if (this.chance(0.5)) out += this.pick(['', ' ', '|', 'v=', '[', ']', 'é'])
      out += `%${this.pick(FLAGS)}`
      if (this.chance(0.35)) out += this.chance(0.25) ? `${this.argIndex()}*` : String(this.rng.int(12))
      if (this.chance(0.35)) out += this.chance(0.2) ? `.${this.argIndex()}*` : `.${this.rng.int(8)}`
      out += this.argIndex()
      out += this.chance(0.02) ? '' : this.pick(VERBS)
    }
    return this.quoted(out)
  }

  /** printf's operands: the usual ones, and the maps, times and ints its verbs treat apart. */
  printfArgs(depth: number): string {
    const n = this.rng.int(5)
    return Array.from({ length: n }, () =>
      this.chance(0.35) ? this.pick(PRINTF_OPERANDS) : this.operand(depth),
    ).join(' ')
  }

  literal(): string {
    // One in 40 a complex constant, drawn apart so the other kinds keep their shares.
    if (this.chance(0.025))
      return this.chance(0.9) ? this.pick(COMPLEX_LITERALS) : this.pick(BAD_COMPLEX_LITERALS)
    switch (this.rng.int(8)) {
      case 0:
      case 1:
        return this.pick(INT_LITERALS)
      case 2:
      case 3:
        return this.pick(FLOAT_LITERALS)
      case 4:
      case 5:
        return this.quoted(this.pick(STRING_VALUES))
      case 6:
        return this.pick([
          ...RAW_STRINGS,
          '"\\t\\x41\\u00e9\\101"',
          '"\\a\\v"',
          '"\\xff\\xfe"',
          '"a\\x80b:1"',
          '"\\U0001F600"',
        ])
      default:
        return this.pick(['true', 'false', 'nil'])
    }
  }

  /** An operand: a literal, a variable or field, or a parenthesized call. */
  operand(depth: number): string {
    const r = this.rng.next()
    if (r < 0.35) return this.literal()
    if (r < 0.7 || depth <= 0) return this.chance(0.05) ? this.pick(BAD_FIELDS) : this.pick(FIELDS)
    return `(${this.call(depth - 1)})`
  }

  args(n: number, depth: number): string {
    return Array.from({ length: n }, () => this.operand(depth)).join(' ')
  }

  numberish(depth: number): string {
    return this.chance(0.6)
      ? this.pick([...FLOAT_LITERALS, ...INT_LITERALS, '$value', '.Value', '$labels.num'])
      : this.chance(0.5)
        ? this.quoted(this.pick(STRING_VALUES))
        : this.operand(depth)
  }

  stringish(depth: number): string {
    return this.chance(0.7)
      ? this.chance(0.6)
        ? this.quoted(this.pick(STRING_VALUES))
        : this.pick(['$labels.instance', '$labels.job', '$externalURL', '$labels.missing', '.Labels.job'])
      : this.operand(depth)
  }

  /** A function call with plausible (sometimes wrong) arguments. */
  call(depth: number): string {
    const wrongCount = this.chance(0.04)
    const extra = wrongCount ? ` ${this.operand(0)}` : ''
    const fn = this.rng.int(24)
    switch (fn) {
      case 0:
      case 1: {
        // Now and then a format that is no string: a constant, nil, a map, a float, a complex.
        const format = this.chance(0.06)
          ? this.pick([
              '1',
              '1.5',
              'nil',
              'true',
              '$labels',
              '$value',
              '1i',
              "'a'",
              '$labels.job',
              '(args)',
              '.',
            ])
          : this.format()
        return `printf ${format} ${this.printfArgs(depth)}`.trimEnd()
      }
      case 2:
        return `${this.pick(['print', 'println'])} ${this.printfArgs(depth)}`.trimEnd()
      case 3:
      case 4:
        return `${this.pick(['humanize', 'humanize1024', 'humanizeDuration', 'humanizePercentage', 'humanizeTimestamp'])} ${this.numberish(depth)}${extra}`
      case 5:
        return `${this.pick(['eq', 'ne', 'lt', 'le', 'gt', 'ge'])} ${this.operand(depth)} ${this.operand(depth)}${this.chance(0.15) ? ` ${this.operand(depth)}` : ''}`
      case 6:
        return `${this.pick(['eq', 'ne', 'lt', 'le', 'gt', 'ge'])} ${this.numberish(depth)} ${this.numberish(depth)}`
      case 7:
        return `${this.pick(['and', 'or'])} ${this.args(1 + this.rng.int(3), depth)}`
      case 8:
        return `not ${this.operand(depth)}${extra}`
      case 9:
        return `len ${this.pick(['$labels', '$externalLabels', '"héllo"', '""', '(args 1 2)', '$value', '1', 'nil', '$labels.instance', '$', '(toTime 1)'])}`
      case 10:
        return `index ${this.pick(['$labels', '"abc"', '$externalLabels', '(args 1 2)', '$value', 'nil', '$', '(toTime 1)'])} ${this.pick(['"job"', '"missing"', '0', '1', '5', '-1', '"arg1"', 'nil', '1.5'])}`
      case 11:
        return `slice ${this.pick(['"abcdef"', '$labels.instance', '"é!"', '$labels', '$value', 'nil'])} ${this.args(this.rng.int(4), 0).replace(/\S+/g, (t) => (this.chance(0.7) ? String(this.rng.int(8) - 1) : t))}`.trimEnd()
      case 12:
        return `${this.pick(['toUpper', 'toLower', 'title', 'safeHtml', 'stripPort', 'graphLink', 'tableLink', 'parseDuration'])} ${this.chance(0.15) ? this.pick(['"\\xff<é"', '"a\\x80 \\u2028"']) : this.stringish(depth)}${extra}`
      case 13:
        return `match ${this.quoted(this.pick(['^web', 'a+', '(', '', '\\d+', '[[:alpha:]]+', '(?i)WEB']))} ${this.stringish(depth)}`
      case 14:
        // biome-ignore lint/suspicious/noTemplateCurlyInString: Go's ${x} replacement syntax
        return `reReplaceAll ${this.quoted(this.pick(['(.*):(\\d+)', 'a', '', '(?P<x>\\w)', '[', 'web']))} ${this.quoted(this.pick(['$1', '${x}!', 'X', '$2$1', '$$']))} ${this.stringish(depth)}`
      case 15:
        if (this.chance(0.5)) return `toTime ${this.numberish(depth)}`
        return this.timeMethod(depth)
      case 16: {
        // Not a lone `query` sample nor a `*time.Time` from toTime: fmt prints a pointer inside
        // args' map as its address, different on every run (seeds 11006, 11009; 5206:
        // `printf "%+#d" (args (toTime 1))` printed map[arg0:+824645205768]).
        const operands = Array.from({ length: this.rng.int(3) }, () => {
          let o = this.operand(depth)
          while (/^\(query `[^`]*` \| first\)$|^\(toTime /.test(o)) o = this.operand(depth)
          return o
        })
        return `args ${operands.join(' ')}`.trimEnd()
      }
      case 17:
        return `${this.pick(['html', 'js', 'urlquery'])} ${this.chance(0.3) ? this.pick(['"\\xff<é"', '"a\\x80 \\u2028"', '"\\U0001F600\\u00ad~*"']) : this.args(1 + this.rng.int(2), depth)}`
      case 18:
        return this.pick([
          'externalURL',
          'pathPrefix',
          'stripDomain "a.b"',
          'nosuchfunc 1',
          'call 1',
          'first 1',
          'label "x" 1',
          'tmpl "x" 1',
          'strvalue 1',
          'value nil',
          'label "a" nil',
          'first nil',
          'sortByLabel "a" nil',
          'sortByLabel 1 nil',
          `stripDomain ${this.stringish(depth)}`,
          `humanizeTimestamp ${this.pick(['1e300', '-1e300', '9.3e18', '-62135596801', '253402300800', '1e-320', '-0.0', '0.0005', '-1.5'])}`,
        ])
      case 20:
      case 21:
        return this.queryCall(depth)
      case 19:
        return `${this.operand(depth)} | ${this.pick(['printf "%v"', 'print', 'len', 'toUpper', 'humanize', 'not', 'printf "%s|%d"', 'html', 'urlquery 1'])}`
      default:
        return this.operand(depth)
    }
  }

  /** query, its results through first, value, strvalue, label and sortByLabel, and their values. */
  queryCall(depth: number): string {
    const q = `query \`${this.pick(QUERIES)}\``
    const sample = `(${q} | first)`
    switch (this.rng.int(6)) {
      case 0:
        return `${this.pick(['value', 'strvalue', 'label "a"', 'label "__value__"', 'label ""'])} ${sample}`
      case 1: {
        const f = this.pick([
          'humanize',
          'humanize1024',
          'humanizeDuration',
          'humanizePercentage',
          'humanizeTimestamp',
          'toTime',
          'printf "%v|%.2f|%e|%x|%g|%5.1f|%d"',
          'print',
          'eq 0.0',
          'lt 1.0',
          'printf "%T %v"',
        ])
        return `${f} (${sample} | value)`
      }
      case 2:
        return `len (${q} | sortByLabel ${this.quoted(this.pick(['a', 'z', '', '__value__']))})`
      case 3:
        return `${q} | sortByLabel ${this.quoted(this.pick(['a', 'z', '']))} | first | label "a"`
      case 4:
        // Not print or %v: fmt prints the slice's *sample elements as addresses.
        return `${this.pick(['len', 'printf "%T"', 'not'])} (${q})`
      default:
        // A lone *sample prints through its pointer as {map[…] value}.
        return `${q} | first${this.chance(0.1) ? ` ${this.operand(depth)}` : ''}`
    }
  }

  /** A method of the time.Time toTime gives: with Go's layouts, durations, counts and types, right and wrong. */
  timeMethod(depth: number): string {
    const time = this.pick([
      '(toTime 1.5)',
      '(toTime 1700000000.123)',
      '(toTime -86399.9)',
      '($value | toTime)',
      '(toTime 0).UTC',
    ])
    const duration = () =>
      this.pick(['5', '1e9', '-3600000000000', '1.5', '"1h"', 'nil', '$value', '((toTime 9).Sub (toTime 1))'])
    switch (this.rng.int(7)) {
      case 0:
        return `${time}.Format ${this.quoted(this.pick(['2006-01-02 15:04:05', 'Jan _2 3:04PM', 'Monday .000 .999 ,9 Z07:00 -0700 MST', '002 __2 06', '15h04', '', 'January 2, 2006']))}`
      case 1:
        return `${time}.${this.pick(['Unix', 'UnixMilli', 'UnixNano', 'Year', 'Month', 'Day', 'Weekday', 'YearDay', 'Hour', 'Second', 'Nanosecond', 'IsZero', 'String', 'GoString', 'UTC', 'Local', 'Clock', 'Nope', 'wall'])}`
      case 2:
        return `${time}.${this.pick(['Add', 'Round', 'Truncate'])} ${duration()}`
      case 3:
        return `${time}.${this.pick(['Sub', 'Before', 'After', 'Equal'])} ${this.pick([time, '(toTime 2)', '1', '$value', 'nil'])}`
      case 4:
        return `${time}.AddDate ${this.args(this.rng.int(4), 0).replace(/\S+/g, (t) => (this.chance(0.8) ? String(this.rng.int(30) - 10) : t))}`.trimEnd()
      case 5:
        return `${time}.Format${this.chance(0.5) ? '' : ` ${this.operand(depth)}`}`
      default:
        return `${this.pick(['printf "%v|%d|%T"', 'print', 'humanize', 'len', 'eq 1', 'html'])} ${time}.${this.pick(['Month', 'Unix', 'Weekday', 'UTC'])}`
    }
  }

  /** A pipeline: a call or operand, sometimes piped on into more functions, sometimes declared. */
  pipeline(depth: number): string {
    let p = this.call(depth)
    if (this.chance(0.2))
      p += ` | ${this.pick(['printf "%q"', 'print', 'toUpper', 'humanize', 'printf "%5.1f"', 'len', 'not', 'title', 'printf "%T"', 'html'])}`
    // Stray pipes: Go reads one before the pipeline's end as its end, a leading or doubled one
    // as an unexpected token.
    if (this.chance(0.03)) p = this.pick([`| ${p}`, `${p} |`, `${p} | | print`, `${p}|`])
    return p
  }

  action(depth: number): string {
    // Now and then an action spread over lines: Go's errors then name the line they are on and
    // the line the action (or the if, with or range around it) started on.
    const l = this.chance(0.15) ? '{{- ' : this.chance(0.1) ? '{{' : this.chance(0.03) ? '{{\n' : '{{ '
    const r = this.chance(0.15) ? ' -}}' : this.chance(0.1) ? '}}' : this.chance(0.03) ? '\n}}' : ' }}'
    const p = this.rng.next()
    if (p < 0.1 || depth <= 0) return `${l}${this.pipeline(depth)}${r}`
    if (p < 0.2) {
      const v = `$v${this.rng.int(3)}`
      // Sometimes reassigned with `=`, at the same level or inside an if, which keeps the new value.
      const again = this.chance(0.25)
        ? this.pick([
            `{{ ${v} = ${this.pipeline(0)} }}`,
            `{{ if true }}{{ ${v} = ${this.pipeline(0)} }}{{ end }}`,
          ])
        : ''
      return `${l}${v} := ${this.pipeline(depth)}${r}${this.pick(['', ' ', '|'])}${again}{{ ${v}${this.chance(0.3) ? ' | printf "%#v"' : ''} }}`
    }
    if (p < 0.35) {
      // A declaration in the condition is in scope in both branches and ends at {{ end }}.
      const decl = this.chance(0.15) ? '$c := ' : ''
      let s = `{{ if ${decl}${this.pipeline(depth - 1)} }}${decl ? '[{{ $c }}]' : ''}${this.body(depth - 1)}`
      if (this.chance(0.4)) s += `{{ else if ${this.pipeline(depth - 1)} }}${this.body(depth - 1)}`
      if (this.chance(0.5)) s += `{{ else }}${decl ? '({{ $c }})' : ''}${this.body(depth - 1)}`
      return `${s}{{ end }}`
    }
    if (p < 0.45) {
      const decl = this.chance(0.15) ? '$w := ' : ''
      const s = `{{ with ${decl}${this.pipeline(depth - 1)} }}${this.chance(0.5) ? (decl ? '{{ $w }}' : '{{ . }}') : ''}${this.body(depth - 1)}`
      return `${s}${this.chance(0.4) ? `{{ else }}${decl ? '({{ $w }})' : ''}${this.body(depth - 1)}` : ''}{{ end }}`
    }
    if (p < 0.55) {
      const over = this.pick([
        '$labels',
        '$externalLabels',
        '(args 1 "b" 2.5)',
        '$value',
        '"abc"',
        'nil',
        '(slice (args 1 2) 0)',
        '(query `label_replace(vector(1), "a", "x", "", "") or vector(-0.5)` | sortByLabel "a")',
        '.Labels',
        '3',
      ])
      const decl = this.pick(['', '$k, $v := ', '$e := '])
      const inner = decl.includes('$k') ? '{{ $k }}={{ $v }};' : decl ? '{{ $e }},' : '{{ . }},'
      const cur = decl.includes('$k') ? '$v' : decl ? '$e' : '.'
      // break and continue, alone or under an if or with that tests the element, and a
      // variable of the enclosing scope reassigned with `=` on each iteration
      const flow = this.pick([
        '',
        '',
        '{{ break }}',
        '{{ continue }}x',
        `{{ if ${cur} }}{{ continue }}{{ end }}!`,
        `{{ with ${cur} }}{{ break }}{{ end }}`,
        `{{ if eq (printf "%v" ${cur}) "2" }}{{ break }}{{ else }}{{ continue }}{{ end }}`,
        `{{ range (args 1 2) }}{{ break }}{{ end }}`,
        `{{ $last = ${cur} }}`,
      ])
      const loop = `{{ range ${decl}${over} }}${inner}${flow}{{ else }}${this.pick(['', 'none', '{{ $last = 0 }}'])}{{ end }}`
      return flow.includes('$last') || loop.includes('$last')
        ? `{{ $last := "-" }}${loop}{{ $last | printf "%#v" }}`
        : loop
    }
    if (p < 0.6) {
      // A comment may carry trim markers only with a space between them and the comment.
      const c = this.pick(['c', '', '{{ x }}', 'multi\nline'])
      return this.pick([
        `{{/* ${c} */}}`,
        `{{- /* ${c} */ -}}`,
        `{{- /* ${c} */}}`,
        `{{/* ${c} */ -}}`,
        `{{-/* ${c} */}}`,
        `{{ /* ${c} */ }}`,
        `{{/* ${c} */ }}`,
        `{{/*${c}*/}}`,
      ])
    }
    if (p < 0.63) {
      // define, block and template with pipelines, declarations, and templates that use `$`
      const arg = this.pipeline(0)
      return this.pick([
        '{{ define "t" }}[{{ . }}]{{ end }}{{ template "t" $value }}',
        '{{ block "b" 1.5 }}<{{ . }}>{{ end }}',
        '{{ template "none" }}',
        `{{ define "t" }}[{{ . }}|{{ $ }}]{{ end }}{{ template "t" ${arg} }}`,
        `{{ block "b" ${arg} }}<{{ . | printf "%v" }}>{{ end }}`,
        `{{ define "t" }}({{ . }}){{ end }}{{ template "t" $t := ${arg} }}{{ $t }}`,
        `{{ template "t" ${arg} }}{{ define "t" }}{{ with . }}w{{ . }}{{ else }}e{{ end }}{{ end }}`,
        `{{ define "t" }}{{ range . }}{{ . }};{{ end }}{{ end }}{{ template "t" ${this.pick(['$labels', '(args 1 2)', '3', '"s"'])} }}`,
        `{{ define "t" }}{{ $labels }}{{ end }}`,
      ])
    }
    if (p < 0.66)
      return this.pick([
        '{{ if }}{{ end }}',
        '{{ $undefined }}',
        '{{ end }}',
        '{{ "unterminated }}',
        '{{ 1 | 2 }}',
        '{{ (1 }}',
        '{{ printf }}',
        '{{ .Labels. }}',
        "{{ 'ab' }}",
        '{{ 1e }}',
        '{{ 08 }}',
        '{{ 1.2.3 }}',
        '{{ .1a }}',
        '{{ $x := }}',
        // Go 1.23's else with and 1.22's range over an integer postdate promtool 2.42's Go 1.19
        '{{ with 0 }}a{{ else with 1 }}b{{ end }}',
        '{{ with 0 }}a{{ else if 1 }}b{{ end }}',
        '{{ range $i := 3 }}{{ $i }}{{ end }}',
        '{{ $x = 1 }}',
        '{{ $x := 1 }}{{ $x, $y = 1 }}',
        '{{ $ = 1 }}{{ $ }}',
        '{{ $value = "v" }}{{ $value }}',
        '{{ break 1 }}',
      ])
    return `${l}${this.pipeline(depth)}${r}`
  }

  body(depth: number): string {
    const n = 1 + this.rng.int(2)
    let out = ''
    for (let i = 0; i < n; i++)
      out += this.chance(0.3) ? this.pick([' ', 'x', ' - ', '\n', '  ']) : this.action(depth)
    return out
  }

  template(): string {
    // A lone call now and then: in a longer template, one failing action hides what the others
    // printed, which kept js "\xff" and graphLink "\xff" from showing their disagreements.
    if (this.chance(0.1)) return `{{ ${this.call(1)} }}`
    const n = 1 + this.rng.int(3)
    let out = ''
    for (let i = 0; i < n; i++) {
      if (this.chance(0.4)) out += this.pick(['a ', ' ', 'value=', '\t', ' | ', '\n'])
      out += this.action(2)
    }
    return out
  }
}

/** The alerts' expressions: their value and labels become `$value` and `$labels`. */
const EXPRS = [
  'vector(1)',
  'label_replace(label_replace(vector(0.0731), "instance", "web-1:9090", "", ""), "job", "api", "", "")',
  'label_replace(label_replace(vector(-1234.5), "num", "42", "", ""), "instance", "[::1]:80", "", "")',
  'label_replace(vector(0), "job", "x y", "", "")',
  'vector(1e21)',
  'vector(NaN)',
  'vector(+Inf)',
  'vector(1.5e-7)',
]

const seed = arg('--seed', 1)
const count = arg('--cases', 1000)
const show = arg('--show', 20)
const batch = arg('--batch', 40)
const rng = new Rng(seed)
const gen = new Gen(rng)
const cases: Case[] = Array.from({ length: count }, () => ({
  template: gen.template(),
  expr: rng.pick(EXPRS),
}))
// `--dump 1` prints the generated cases instead of running them, to see what a seed covers.
if (arg('--dump', 0) === 1) {
  for (const c of cases) console.log(JSON.stringify(c.template))
  process.exit(0)
}
const started = performance.now()
const found: Disagreement[] = []
for (let i = 0; i < cases.length; i += batch) await runBatch(cases.slice(i, i + batch), found, realTools)
const seconds = ((performance.now() - started) / 1000).toFixed(1)
console.log(
  `seed ${seed}: ${count} cases, ${count - found.length} agree, ${found.length} disagree (${seconds} s)`,
)
for (const d of found.slice(0, show)) {
  console.log(
    `\n${JSON.stringify(d.case.template)}  [${d.case.expr}]\n  promtool: ${got(d.promtool)}\n  ours:     ${got(d.ours)}`,
  )
}
