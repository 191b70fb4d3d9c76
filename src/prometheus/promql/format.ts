import { formatDuration } from '../duration.ts'
import { formatFloatV } from '../template/go-fmt.ts'
import type { AtModifier, Expr, VectorSelector } from './ast.ts'
import { METRIC_NAME } from './labels.ts'
import { nameWritten, writtenLabels } from './parser.ts'
import { goQuote } from './strings.ts'

/**
 * An expression as Prometheus 2.42 prints a parsed one (promql/parser/printer.go `String()`),
 * the `query` of each rule in /api/v1/rules: single spaces around operators, `by (a, b) (…)`
 * before the arguments, matchers sorted, numbers as Go's `%v`, durations as
 * `model.Duration`, strings double-quoted. Its quirks are kept: `ignoring ()` with
 * `group_left` prints as a plain operator, and `group_right` without labels as `group_right ()`.
 */
export function formatExpr(expr: Expr): string {
  switch (expr.kind) {
    case 'number':
      return formatNumber(expr.value)
    case 'string':
      return goQuote(expr.value)
    case 'vectorSelector':
      return formatSelector(expr, true)
    case 'matrixSelector': {
      const s = expr.selector
      return `${formatSelector(s, false)}[${formatDuration(expr.rangeMs)}]${formatAt(s.at)}${formatOffset(s.offsetMs)}`
    }
    case 'subquery': {
      const step = expr.stepMs === 0 ? '' : formatDuration(expr.stepMs)
      return `${formatExpr(expr.expr)}[${formatDuration(expr.rangeMs)}:${step}]${formatAt(expr.at)}${formatOffset(expr.offsetMs)}`
    }
    case 'call':
      return `${expr.func}(${expr.args.map(formatExpr).join(', ')})`
    case 'aggregate': {
      const grouping = (writtenLabels(expr) ?? expr.grouping).join(', ')
      let op: string = expr.op
      if (expr.without) op += ` without (${grouping}) `
      else if (grouping.length > 0) op += ` by (${grouping}) `
      const param = expr.param ? `${formatExpr(expr.param)}, ` : ''
      return `${op}(${param}${formatExpr(expr.expr)})`
    }
    case 'binary': {
      let matching = ''
      const vm = expr.matching
      const labels = writtenLabels(expr) ?? vm?.labels ?? []
      // printer.go prints the matching only with labels or `on`.
      if (vm && (labels.length > 0 || vm.on)) {
        matching = ` ${vm.on ? 'on' : 'ignoring'} (${labels.join(', ')})`
        if (vm.card === 'many-to-one' || vm.card === 'one-to-many')
          matching += ` group_${vm.card === 'many-to-one' ? 'left' : 'right'} (${vm.include.join(', ')})`
      }
      const bool = expr.returnBool ? ' bool' : ''
      return `${formatExpr(expr.lhs)} ${expr.op}${bool}${matching} ${formatExpr(expr.rhs)}`
    }
    case 'unary':
      return `${expr.op}${formatExpr(expr.expr)}`
    case 'paren':
      return `(${formatExpr(expr.expr)})`
  }
}

/** Go's `fmt.Sprint(float64)`, which prints +Inf with its sign. */
function formatNumber(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return '+Inf'
  return formatFloatV(value)
}

/** `VectorSelector.String()`; `modifiers` false inside a range selector, which prints them after the range. */
function formatSelector(s: VectorSelector, modifiers: boolean): string {
  const name = nameWritten(s) ? (s.name ?? '') : ''
  const matchers = s.matchers
    .filter((m) => !(name !== '' && m.name === METRIC_NAME && m.type === '=' && m.value === name))
    .map((m) => `${m.name}${m.type}${goQuote(m.value)}`)
    .sort()
  const suffix = modifiers ? `${formatAt(s.at)}${formatOffset(s.offsetMs)}` : ''
  return matchers.length === 0 ? `${name}${suffix}` : `${name}{${matchers.join(',')}}${suffix}`
}

function formatOffset(ms: number): string {
  if (ms > 0) return ` offset ${formatDuration(ms)}`
  if (ms < 0) return ` offset -${formatDuration(-ms)}`
  return ''
}

function formatAt(at: AtModifier | undefined): string {
  if (!at) return ''
  if (at.type === 'time') return ` @ ${(at.ms / 1000).toFixed(3)}`
  return ` @ ${at.type}()`
}
