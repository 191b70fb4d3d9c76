import { describe, expect, test } from 'bun:test'
import {
  notifiedAlert,
  renderText,
  TEMPLATE_PARAMETER_LIMITS,
  templateParameters,
} from '../../../src/alerting/notify/render.ts'

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'
const LINK = `https://acme.sentry.io/performance/trace/${TRACE}`
const RUNBOOK = 'https://docs.example.com/ops/runbooks/alerts.md#higherrorrate'
const at = { fingerprint: 'c0ffee0000000001', startsAt: new Date('2026-03-02T09:55:00Z') }
const labels = { alertname: 'HighErrorRate', severity: 'critical' }
const annotations = {
  summary: 'High HTTP error rate',
  description:
    '12.5% of HTTP requests were answered with a 5xx status over the last 5 minutes (threshold 5%).',
  runbook_url: RUNBOOK,
}

const message = (alert: ReturnType<typeof notifiedAlert>, transition: 'firing' | 'resolved' = 'firing') => ({
  replies: [],
  alerts: [{ ...alert, transition }],
  truncatedAlerts: 0,
})

describe('an alert message names its example request', () => {
  test('text: the request id, then the trace link on its own line, before the ref', () => {
    const alert = notifiedAlert(
      {
        ...at,
        labels,
        annotations,
        value: '0.125',
        example: { requestId: 'req-42', traceId: TRACE, traceUrl: LINK },
      },
      'firing',
    )
    expect(alert.example).toEqual({ requestId: 'req-42', traceId: TRACE, traceUrl: LINK })
    expect(renderText(message(alert))).toBe(
      [
        '🔔 *CRITICAL ALERT*: HighErrorRate',
        annotations.description,
        `Runbook: ${RUNBOOK}`,
        'Example request: req-42',
        `Trace: ${LINK}`,
        'ref: c0ffee0000000001',
      ].join('\n'),
    )
  })

  test('text without TRACE_BASE_URL: the bare trace id; without a trace id: the request id alone', () => {
    const traced = notifiedAlert(
      { ...at, labels, annotations: { description: 'd' }, example: { requestId: 'req-42', traceId: TRACE } },
      'firing',
    )
    expect(renderText(message(traced))).toBe(
      `🔔 *CRITICAL ALERT*: HighErrorRate\nd\nExample request: req-42 (trace ${TRACE})\nref: c0ffee0000000001`,
    )
    const bare = notifiedAlert(
      { ...at, labels, annotations: { description: 'd' }, example: { requestId: 'r1' } },
      'firing',
    )
    expect(renderText(message(bare))).toBe(
      '🔔 *CRITICAL ALERT*: HighErrorRate\nd\nExample request: r1\nref: c0ffee0000000001',
    )
  })

  test('a resolution carries no example; a trace link too long to show whole is left out', () => {
    const example = { requestId: 'req-42', traceId: TRACE, traceUrl: LINK }
    const resolved = notifiedAlert({ ...at, labels, annotations, example }, 'resolved')
    expect(resolved.example).toBeUndefined()
    expect(renderText(message(resolved, 'resolved'))).toBe(
      '✅ *RESOLVED*: HighErrorRate\nHigh HTTP error rate\nref: c0ffee0000000001',
    )
    const long = notifiedAlert(
      {
        ...at,
        labels,
        annotations: {},
        example: { ...example, traceUrl: `https://t.example.com/${'x'.repeat(300)}` },
      },
      'firing',
    )
    expect(long.example).toEqual({ requestId: 'req-42', traceId: TRACE })
  })

  test('template: {{3}} ends with the example; a long description is cut for it, within 600 characters', () => {
    const example = { requestId: 'req-42', traceId: TRACE, traceUrl: LINK }
    const alert = notifiedAlert({ ...at, labels, annotations, value: '0.125', example }, 'firing')
    expect(templateParameters(message(alert))).toEqual([
      'CRITICAL',
      'HighErrorRate',
      `${annotations.description} | example request req-42 ${LINK}`,
      '0.125',
    ])
    // Three names: their descriptions (300 characters each at most) are joined, and cut for the example.
    const three = ['HighErrorRate', 'PaymentFailureRate', 'SlowResponseTime'].map((alertname, i) =>
      notifiedAlert(
        {
          ...at,
          labels: { alertname, severity: 'critical' },
          annotations: { description: `${alertname} ${'word '.repeat(80)}` },
          ...(i === 0 ? { example } : {}),
        },
        'firing',
      ),
    )
    const detail = templateParameters({
      replies: [],
      alerts: three.map((a) => ({ ...a, transition: 'firing' as const })),
      truncatedAlerts: 0,
    })[2]!
    const tail = ` | example request req-42 ${LINK}`
    expect(detail.length).toBe(TEMPLATE_PARAMETER_LIMITS[2])
    expect(detail).toEndWith(`…${tail}`)
    expect(detail).toStartWith('HighErrorRate word word')
    const traced = notifiedAlert(
      { ...at, labels, annotations: {}, example: { requestId: 'r1', traceId: TRACE } },
      'firing',
    )
    expect(templateParameters(message(traced))[2]).toBe(`example request r1 (trace ${TRACE})`)
  })
})
