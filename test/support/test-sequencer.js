/**
 * Longest spec files first, so no worker starts a minute-long file while the others are done.
 * Jest already does this from the durations it cached in an earlier run on the same machine;
 * without that cache (a clean CI machine) it falls back to file size, which puts the crash and
 * kill specs (short files, long runs) last. Here the fallback is the rough duration of the
 * slowest specs measured on a 2-core machine, then file size. Failed-last-time still goes first.
 */
const { relative } = require('node:path');
const Sequencer = require('@jest/test-sequencer').default;

/**
 * Seconds, roughly (a 2-core machine with the suite running; re-measured after both projects
 * moved to SWC, scaled from a run on a loaded machine); only the order matters.
 */
const KNOWN_SECONDS = {
  'test/fidelity/sqlite-fidelity.e2e.spec.ts': 69,
  'test/fidelity/pg-fidelity.spec.ts': 56,
  'test/cli/cli-restore-crash.e2e.spec.ts': 48,
  'test/console/console.e2e.spec.ts': 39,
  'test/jobs/restore-files-commit-crash.e2e.spec.ts': 36,
  'test/backup/backup-crash.e2e.spec.ts': 35,
  'test/recovery/restore-bookkeeping.e2e.spec.ts': 35,
  'test/jobs/restore-commit-crash.e2e.spec.ts': 34,
  'test/cli/cli-disaster.e2e.spec.ts': 32,
  'test/http/openapi-contract.e2e.spec.ts': 31,
  'test/cli/cli-dry-run.e2e.spec.ts': 30,
  'src/engine/dialects/postgres/pg-restore.int.spec.ts': 30,
  'test/http/openapi-fuzz.e2e.spec.ts': 29,
  'test/http/audit-flood.e2e.spec.ts': 27,
  'test/backup/archive-trust.e2e.spec.ts': 27,
  'src/engine/storage/s3-storage.spec.ts': 26,
  'test/backup/backups.e2e.spec.ts': 26,
  'test/jobs/one-writer.e2e.spec.ts': 26,
  'test/recovery/recoveries.e2e.spec.ts': 24,
  'test/jobs/cancel.e2e.spec.ts': 24,
  'test/recovery/dry-run-blockers.e2e.spec.ts': 21,
  'src/engine/scope/scoped-restore.int.spec.ts': 20,
};

class SlowFirstSequencer extends Sequencer {
  sort(tests) {
    const estimate = (test) => {
      const cached = this.time(test);
      if (cached != null) return cached / 1000;
      const known = KNOWN_SECONDS[relative(test.context.config.rootDir, test.path).split('\\').join('/')];
      if (known != null) return known;
      // Integration specs boot the app or PostgreSQL databases; unit specs are pure logic.
      const size = test.context.hasteFS.getSize(test.path) ?? 0;
      return test.context.config.displayName?.name === 'integration' ? 5 + size / 1000 : size / 5000;
    };
    const seconds = new Map(tests.map((t) => [t, estimate(t)]));
    return [...tests].sort((a, b) => {
      const failedA = this.hasFailed(a);
      if (failedA !== this.hasFailed(b)) return failedA ? -1 : 1;
      return seconds.get(b) - seconds.get(a);
    });
  }
}

module.exports = SlowFirstSequencer;
