import { describe, expect, test } from 'bun:test'
import { recordSkip } from '../../helpers/skips.ts'
import { BROKEN_RULES, BROKEN_TESTS, ruleTestFiles, runOurs, writeSuite } from './rule-test-files.ts'

// Agreement with Prometheus: the same promtool test files must pass under Debian's real
// `promtool test rules` and under our runner (and fail alike). Needs promtool on PATH;
// without it these tests skip with a message, unless REQUIRE_OPS_TOOLS=1.
const promtool = Bun.which('promtool')
const required = process.env.REQUIRE_OPS_TOOLS === '1'
if (!promtool && !required) {
  recordSkip('agreement with promtool test rules', 'promtool is not on PATH (apt-get install prometheus)')
}

async function promtoolTest(files: string[]) {
  const proc = Bun.spawn(['promtool', 'test', 'rules', ...files], { stdout: 'pipe', stderr: 'pipe' })
  const [code, stdout, stderr] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code, stdout, stderr }
}

const ours = runOurs

describe.skipIf(!promtool && !required)('agreement with promtool test rules', () => {
  test('promtool is on PATH', () => {
    expect(promtool).not.toBeNull()
  })

  test.each(ruleTestFiles())('%s passes under promtool and under rules:test', async (file) => {
    const real = await promtoolTest([file])
    expect({ code: real.code, stderr: real.stderr }).toEqual({ code: 0, stderr: '' })
    expect(ours([file]).code).toBe(0)
  })

  test('a wrong expectation fails under both, with the same report', async () => {
    const file = writeSuite(BROKEN_RULES, BROKEN_TESTS)
    const real = await promtoolTest([file])
    const mine = ours([file])
    expect(real.code).toBe(1)
    expect(mine.code).toBe(1)
    expect(mine.stderr).toBe(real.stderr)
    expect(mine.stdout).toBe(real.stdout)
  })
})
