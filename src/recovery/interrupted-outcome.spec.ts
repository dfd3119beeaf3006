import { interruptedOutcome } from './interrupted-outcome';

const ctx = { reason: 'the process running it stopped', backupId: 'b-1', at: '2026-01-01T00:00:00.000Z' };

describe('interruptedOutcome', () => {
  it.each([
    {
      name: 'committed, tables only: completed with a note',
      committed: true,
      files: false,
      want: {
        status: 'completed',
        error: null,
        note: /^its restore committed .*then the process running it stopped .*reconciled at 2026-01-01/,
      },
    },
    {
      name: 'committed, with files: completed, the note saying the files are rolled forward from their journal',
      committed: true,
      files: true,
      want: {
        status: 'completed',
        error: null,
        note: /^its restore committed .*file artefacts, staged before that commit, are swapped in from their journal.*reconciled at 2026-01-01/,
      },
    },
    {
      name: 'not committed: failed, the tables as before',
      committed: false,
      files: true,
      want: {
        status: 'failed',
        note: null,
        error:
          /stopped before its restore committed.*hold what they held before, and the file directories too.*\(the process running it stopped\)$/,
      },
    },
    {
      name: 'not committed with a cancel asked for: cancelled, saying who asked',
      committed: false,
      files: false,
      cancelledBy: 'ops-key',
      want: {
        status: 'cancelled',
        note: null,
        error: /^cancelled by ops-key; interrupted: .*hold what they held before/,
      },
    },
    {
      name: 'committed although a cancel was asked for: completed (the commit won)',
      committed: true,
      files: false,
      cancelledBy: 'ops-key',
      want: { status: 'completed', error: null, note: /its restore committed/ },
    },
    {
      name: 'unknown: failed, saying so and what to check',
      committed: null,
      files: false,
      unknownBecause: 'connection refused',
      want: {
        status: 'failed',
        note: null,
        error: /could not be determined: connection refused\. Check the tables in scope against backup b-1$/,
      },
    },
  ])('$name', ({ committed, files, unknownBecause, cancelledBy, want }) => {
    const got = interruptedOutcome(committed, { ...ctx, files, unknownBecause, cancelledBy });
    expect(got.status).toBe(want.status);
    for (const key of ['error', 'note'] as const) {
      const w = want[key as keyof typeof want];
      if (w === null) expect(got[key]).toBeNull();
      else expect(got[key]).toMatch(w as RegExp);
    }
  });
});
