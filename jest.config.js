/**
 * Two jest projects, both run by `npm test`:
 *
 * - unit: specs beside the code in src/ (`*.spec.ts`). No global setup: no PostgreSQL server and
 *   no `.test-build/`, so one spec runs in about a second. A unit spec may still use a
 *   real SQLite file or a temp directory; it may not need anything the integration setup provides.
 * - integration: everything in test/, plus specs in src/ named `*.int.spec.ts` — the ones that
 *   need the shared PostgreSQL server (TEST_DATABASE_URL) or the transpiled app in `.test-build/`
 *   for child processes. Its global setup starts both once per run.
 *
 * Both are transpiled by SWC (test/support/swc-options.js; types are checked by `npm run typecheck`).
 *
 * `npm run test:unit` / `npm run test:integration` select one project. A global setup only runs
 * when its project has a test selected, so `npx jest src/engine/jcs.spec.ts` starts no PostgreSQL.
 */
const swcOptions = require('./test/support/swc-options');

const swc = ['@swc/jest', { ...swcOptions, sourceMaps: 'inline' }];

const common = {
  rootDir: '.',
  moduleFileExtensions: ['js', 'json', 'ts'],
  testEnvironment: 'node',
};

module.exports = {
  projects: [
    {
      ...common,
      displayName: 'unit',
      // console/src specs are pure logic of the operator console (no DOM); its browser tests live in test/console.
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/console/src/**/*.spec.ts', '!**/*.int.spec.ts'],
      transform: { '^.+\\.ts$': swc },
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/**/*.spec.ts', '<rootDir>/src/**/*.int.spec.ts'],
      transform: { '^.+\\.ts$': swc },
      globalSetup: '<rootDir>/test/support/global-setup.ts',
      globalTeardown: '<rootDir>/test/support/global-teardown.ts',
    },
  ],
  reporters: ['default', '<rootDir>/test/support/summary-reporter.js'],
  // Longest files first even without jest's timing cache (a clean CI machine).
  testSequencer: '<rootDir>/test/support/test-sequencer.js',
  testTimeout: 120000,
  maxWorkers: 2,
};
