import { describe, expect, test } from 'bun:test'
import { closeSync, constants, mkdtempSync, openSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseMetric, parseSeriesDesc } from '../../../src/prometheus/promtool/series-notation.ts'
import { MAX_ULPS, runRuleTests, valuesMatch } from '../../../src/prometheus/promtool/test-rules.ts'
import { BROKEN_RULES, BROKEN_TESTS, ruleTestFiles, runOurs, writeSuite } from './rule-test-files.ts'

const run = runOurs

describe('bun run rules:test (the TypeScript promtool test rules)', () => {
  // ops/prometheus/tests/slo.test.yml evaluates 68 SLO rules for hours of test time.
  test.each(ruleTestFiles())('%s passes', (file) => {
    const result = run([file])
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe(`Unit Testing:  ${file}\n  SUCCESS\n\n`)
    expect(result.code).toBe(0)
  }, 30_000)

  test('reports failing expectations with the values got, like promtool, and exits 1', () => {
    const file = writeSuite(BROKEN_RULES, BROKEN_TESTS)
    const result = run([file])
    expect(result.code).toBe(1)
    expect(result.stdout).toBe(`Unit Testing:  ${file}\n\n\n\n`)
    expect(result.stderr).toBe(
      [
        '  FAILED:',
        '    name: wrong on purpose,',
        '    alertname: Busy, time: 3m, ',
        '        exp:[',
        '            0:',
        '              Labels:{alertname="Busy", host="a", severity="page"}',
        '              Annotations:{summary="load 4 on b"}',
        '            ], ',
        '        got:[',
        '            0:',
        '              Labels:{alertname="Busy", host="a", severity="page"}',
        '              Annotations:{summary="load 4 on a"}',
        '            ]',
        '    expr: "sum(load)", time: 2m,',
        '        exp: {} 2E+00',
        '        got: {} 3E+00',
        '',
      ].join('\n'),
    )
  })

  test('one failing file among passing ones fails the run', () => {
    const [good] = ruleTestFiles()
    const result = run([good as string, writeSuite(BROKEN_RULES, BROKEN_TESTS)])
    expect(result.code).toBe(1)
    expect(result.stdout).toContain('  SUCCESS')
  })

  test('unknown fields are errors, as with promtool', () => {
    const file = writeSuite('groups: []\n', 'rule_files: [rules.yml]\ntests:\n  - intervall: 1m\n')
    const result = run([file])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      '  FAILED:\nyaml: unmarshal errors:\n  line 3: field intervall not found in type main.testGroup\n',
    )
  })

  test('sample values match when equal or at most MAX_ULPS float64s apart; NaN never; a float in a message is printed as Go prints it', () => {
    const ulps = (x: number, n: number) => {
      const f = new Float64Array([x])
      const i = new BigInt64Array(f.buffer)
      i[0] = (i[0] as bigint) + BigInt(n)
      return f[0] as number
    }
    expect(MAX_ULPS).toBe(4)
    expect([
      valuesMatch(0.3, 0.1 + 0.2),
      valuesMatch(50, ulps(50, -4)),
      valuesMatch(50, ulps(50, -5)),
      valuesMatch(50, ulps(50, 4)),
      valuesMatch(50, ulps(50, 5)),
      valuesMatch(1e12, 1e12 + 1),
      valuesMatch(-0, 0),
      valuesMatch(Number.MIN_VALUE, -Number.MIN_VALUE),
      valuesMatch(Number.MAX_VALUE, Number.POSITIVE_INFINITY),
      valuesMatch(Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY),
      valuesMatch(Number.NaN, Number.NaN),
    ]).toEqual([true, true, false, true, false, false, true, true, false, true, false])
    // What promtool 2.42 prints for this file, byte for byte.
    const file = writeSuite(
      'groups: []\n',
      "rule_files: [rules.yml]\ntests:\n  - interval: 1m\n    input_series: [{series: a, values: '0.1'}]\n    promql_expr_test:\n      - {expr: a + 0.2, eval_time: 0m, exp_samples: [{value: 0.3000000001}]}\n      - {expr: a - 0.1, eval_time: 0m, exp_samples: [{value: -0}]}\n      - {expr: 'topk(1e19, a)', eval_time: 0m}\n",
    )
    const result = run([file])
    expect(result.code).toBe(1)
    expect(result.stderr).toBe(
      [
        '  FAILED:',
        '    expr: "a + 0.2", time: 0s,',
        '        exp: {} 3.000000001E-01',
        '        got: {} 3.0000000000000004E-01',
        '    expr: "topk(1e19, a)", time: 0s, err: Scalar value 1e+19 overflows int64',
        '',
      ].join('\n'),
    )
  })
})

describe('input_series expanding notation (Prometheus 2.42 series descriptions)', () => {
  const values = (text: string): unknown[] =>
    parseSeriesDesc(`x ${text}`).values.map((v) =>
      v.kind === 'value' ? v.value : v.kind === 'stale' ? 'stale' : '_',
    )

  test.each([
    ['1+2x3', [1, 3, 5, 7]],
    ['10-1x2', [10, 9, 8]],
    ['5x2', [5, 5, 5]],
    ['1 _x3 stale', [1, '_', '_', '_', 'stale']],
    ['-1+0.5x2 _ Inf', [-1, -0.5, 0, '_', Number.POSITIVE_INFINITY]],
    ['0.1+0.1x2', [0.1, 0.2, 0.30000000000000004]],
    // Go's strconv.ParseInt(s, 0, 64): a leading 0 is octal.
    ['017 08', [15, 8]],
    // No hex in series descriptions: 0x2 is 0 repeated twice more.
    ['0x2', [0, 0, 0]],
    ['nan -inf +Inf', [Number.NaN, Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY]],
    ['_x0 1x0', [1]],
    ['', []],
  ] as [string, unknown[]][])('%p', (text, expected) => {
    expect(values(text)).toEqual(expected)
  })

  test('a series without labels, with labels only, or with a trailing comma', () => {
    expect(parseSeriesDesc('up 1').labels).toEqual([['__name__', 'up']])
    expect(parseSeriesDesc('{job="a"} 1').labels).toEqual([['job', 'a']])
    expect(parseSeriesDesc("x{a='b',} 1").labels).toEqual([
      ['__name__', 'x'],
      ['a', 'b'],
    ])
  })

  // Each message is what promtool 2.42 prints for the same input (the agreement test runs
  // such files through both).
  test.each([
    [
      'x 1 two 3',
      '1:5: parse error: unexpected identifier "two" in series values, expected number or "stale"',
    ],
    ['x 1 2 017 1_000', '1:11: parse error: bad number syntax: "1"'],
    ['x{a} 1', '1:4: parse error: unexpected "}" in label set, expected "="'],
    ['x{a="b" c="d"}', '1:9: parse error: unexpected identifier "c" in label set, expected "," or "}"'],
    ['1x 1 2 3', '1:1: parse error: unexpected number "1" in series values'],
    [
      'x 1x2.5',
      '1:5: parse error: invalid repetition in series values: strconv.ParseUint: parsing "2.5": invalid syntax',
    ],
    [
      'x 1e999',
      '1:3: parse error: error parsing number: strconv.ParseFloat: parsing "1e999": value out of range',
    ],
    ['x sum', '1:3: parse error: unexpected <aggr:sum>'],
    ['x 1 +-1x2', '1:6: parse error: unexpected <op:-> in series values'],
    ['x 1 _x2 3 #c', "1:11: parse error: unexpected character in series sequence: '#'"],
    ['x{', '1:3: parse error: unexpected end of input inside braces'],
    ['x 1 2 x', '1:7: parse error: unexpected "x"'],
  ])('%p is refused: %s', (line, message) => {
    expect(() => parseSeriesDesc(line)).toThrow(message)
  })

  test('exp_samples labels: "" is the empty label set; errors are worded as ParseMetric words them', () => {
    expect(parseMetric('')).toEqual([])
    expect(parseMetric('{}')).toEqual([])
    expect(parseMetric('up{quantile="0.50"}')).toEqual([
      ['__name__', 'up'],
      ['quantile', '0.50'],
    ])
    expect(() => parseMetric('{a=}')).toThrow(
      '1:4: parse error: unexpected "}" in label set, expected string',
    )
    expect(() => parseMetric('x 08')).toThrow('1:3: parse error: unexpected number "08"')
  })

  test('exp_samples labels are the pairs ParseMetric builds: repeats and empty values kept without a name', () => {
    expect(parseMetric('{__name__="m",a=""}')).toEqual([
      ['__name__', 'm'],
      ['a', ''],
    ])
    expect(parseMetric('m{a="2",b="x",a="1"}')).toEqual([
      ['__name__', 'm'],
      ['a', '2'],
      ['a', '1'],
      ['b', 'x'],
    ])
    // The Builder deletes every pair of an empty-valued name, and its name wins over the braces'.
    expect(parseMetric('m{a="",a="1",__name__="x"}')).toEqual([['__name__', 'm']])
  })
})

describe('the command', () => {
  test('exits 0 when all files pass and 1 on a failure', async () => {
    const [good] = ruleTestFiles()
    const ok = Bun.spawn(['bun', 'scripts/rules-test.ts', good as string], { stdout: 'pipe', stderr: 'pipe' })
    expect(await ok.exited).toBe(0)
    const bad = Bun.spawn(['bun', 'scripts/rules-test.ts', writeSuite(BROKEN_RULES, BROKEN_TESTS)], {
      stdout: 'pipe',
      stderr: 'pipe',
    })
    expect(await bad.exited).toBe(1)
    expect(await new Response(bad.stderr).text()).toContain('got: {} 3E+00')
  })

  // A long failure report into pipes, as CI collects it: every byte arrives, and with both
  // streams on one pipe (`2>&1`) in the order written, as promtool's synchronous writes do.
  // The command once exited with its asynchronous pipe writes still queued: the report lost
  // its end (about a third of 1400 lines) and stdout's lines landed inside stderr's.
  test('a long report into pipes arrives whole and in order, as written in process', async () => {
    const wrongAt = (minute: number) =>
      `      - eval_time: ${minute}m\n        alertname: Busy\n        exp_alerts: []\n`
    const tests = `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
${Array.from(
  { length: 20 },
  (_, i) => `  - name: busy ${i}
    interval: 1m
    input_series:
${Array.from({ length: 20 }, (_, h) => `      - series: 'load{host="h${h}"}'\n        values: '5+0x60'\n`).join('')}    alert_rule_test:
${[2, 3, 4, 5, 10].map(wrongAt).join('')}`,
).join('')}`
    const file = writeSuite(BROKEN_RULES, tests)
    const expected = runOurs([file])
    expect(expected.stderr.length).toBeGreaterThan(200_000)
    const split = Bun.spawn(['bun', 'scripts/rules-test.ts', file], { stdout: 'pipe', stderr: 'pipe' })
    const [code, stdout, stderr] = await Promise.all([
      split.exited,
      new Response(split.stdout).text(),
      new Response(split.stderr).text(),
    ])
    expect({ code, stdout, stderr }).toEqual(expected)
    // One pipe for both: the streams' writes in the order the runner made them.
    let written = ''
    runRuleTests([file], {
      stdout: (text) => {
        written += text
      },
      stderr: (text) => {
        written += text
      },
    })
    const joined = Bun.spawn(['sh', '-c', 'exec bun scripts/rules-test.ts "$1" 2>&1', 'sh', file], {
      stdout: 'pipe',
    })
    const [, both] = await Promise.all([joined.exited, new Response(joined.stdout).text()])
    expect(both).toBe(written)
  }, 60_000)

  // `promtool test rules … | head -1` exits 141: Go's runtime dies of SIGPIPE when a write to
  // stdout or stderr fails with EPIPE. Bun ignores SIGPIPE, so the command once threw the EPIPE
  // instead: an error stack on stderr and exit status 1. The reader here is gone before the
  // first write (a FIFO whose only reader was closed), so every write fails, without a race.
  test('a closed stdout or stderr ends it by SIGPIPE, silently, as promtool', async () => {
    const closedPipe = () => {
      const fifo = join(mkdtempSync(join(tmpdir(), 'rules-test-pipe-')), 'fifo')
      expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
      const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)
      const writer = openSync(fifo, constants.O_WRONLY)
      closeSync(reader)
      return writer
    }
    const [good] = ruleTestFiles()
    const intoClosed = async (file: string, stream: 'stdout' | 'stderr') => {
      const writer = closedPipe()
      const proc = Bun.spawn(['bun', 'scripts/rules-test.ts', file], {
        stdout: stream === 'stdout' ? writer : 'pipe',
        stderr: stream === 'stderr' ? writer : 'pipe',
      })
      closeSync(writer)
      const other = stream === 'stdout' ? proc.stderr : proc.stdout
      const [code, otherText] = await Promise.all([proc.exited, new Response(other as ReadableStream).text()])
      return { code, signal: proc.signalCode, other: otherText }
    }
    expect(await intoClosed(good as string, 'stdout')).toEqual({ code: 141, signal: 'SIGPIPE', other: '' })
    // A failure report goes to stderr; its stdout lines (the file names) still arrive.
    const broken = writeSuite(BROKEN_RULES, BROKEN_TESTS)
    expect(await intoClosed(broken, 'stderr')).toEqual({
      code: 141,
      signal: 'SIGPIPE',
      other: `Unit Testing:  ${broken}\n`,
    })
  })

  test('refuses a missing path or a directory before running any file, as promtool does', async () => {
    const [good] = ruleTestFiles()
    const dir = mkdtempSync(join(tmpdir(), 'rules-test-dir-'))
    const run = async (...args: string[]) => {
      const proc = Bun.spawn(['bun', 'scripts/rules-test.ts', ...args], { stdout: 'pipe', stderr: 'pipe' })
      return {
        status: await proc.exited,
        stdout: await new Response(proc.stdout).text(),
        stderr: await new Response(proc.stderr).text(),
      }
    }
    expect(await run(good as string, 'nosuch.yml')).toEqual({
      status: 1,
      stdout: '',
      stderr: "rules:test: error: path 'nosuch.yml' does not exist\n",
    })
    expect(await run(dir, 'nosuch.yml')).toEqual({
      status: 1,
      stdout: '',
      stderr: `rules:test: error: '${dir}' is a directory\n`,
    })
    expect(await run()).toEqual({
      status: 1,
      stdout: '',
      stderr:
        "rules:test: error: required argument 'test-rule-file' not provided (usage: bun run rules:test <test-file.yml>…)\n",
    })
  })
})
