// @ts-check
/**
 * StrykerJS over the code where a silent regression costs money or leaks data (issue #22).
 * Bun is not a Stryker test runner, so each mutant runs `bun test` through the command runner
 * over only the test files that exercise its source (coverage analysis is off: the command
 * runner cannot report per-test coverage). MUTATION_SCOPE picks one scope; `bun run
 * test:mutation` runs every scope in turn. Set DATABASE_URL to the local PostgreSQL: the
 * embedded PGlite's start-up dominates each run otherwise.
 */

/** @type {Record<string, { mutate: string[], tests: string[] }>} */
const scopes = {
  auth: {
    mutate: ['src/auth/keys.ts', 'src/auth/plugin.ts'],
    tests: ['tests/auth/keys.test.ts', 'tests/auth/plugin.test.ts'],
  },
  tenants: {
    mutate: ['src/tenants/service.ts', 'src/tenants/repository.ts', 'src/tenants/alert-contacts.ts'],
    tests: ['tests/tenants/tenants.test.ts', 'tests/tenants/service.test.ts', 'tests/tenants/alert-contacts.test.ts'],
  },
  products: {
    mutate: ['src/products/service.ts', 'src/products/repository.ts'],
    tests: ['tests/products/products.test.ts', 'tests/products/service.test.ts', 'tests/auth/isolation.test.ts'],
  },
}

const name = process.env.MUTATION_SCOPE ?? 'auth'
const scope = scopes[name]
if (!scope) throw new Error(`MUTATION_SCOPE must be one of ${Object.keys(scopes).join(', ')}, not ${name}`)

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'command',
  commandRunner: { command: `bun test ${scope.tests.join(' ')}` },
  coverageAnalysis: 'off',
  mutate: scope.mutate,
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  // A mutant that hangs (an endless loop, a promise never settled) is cut off well before bun's own timeout.
  timeoutMS: 30_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  tempDirName: '.stryker-tmp',
  // A biome.json in the sandbox is a second root configuration that breaks `bun run lint` while a run is going.
  ignorePatterns: ['biome.json', '.data', '.bench', 'dist'],
  cleanTempDir: true,
}
