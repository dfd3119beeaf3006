import type { RecoveryStatus } from './recovery.entity';

const NOT_COMMITTED =
  'interrupted: the process running this recovery stopped before its restore committed (the target holds no proof of a commit). An unfinished restore transaction rolls back with its process, so the tables hold what they held before';

export interface InterruptedOutcome {
  status: Extract<RecoveryStatus, 'completed' | 'failed' | 'cancelled'>;
  error: string | null;
  note: string | null;
}

/**
 * The truthful end of a recovery nobody runs any more, from what the target says of its
 * restore: committed (true), not committed (false), or unknown (null, with why). A restore that
 * committed is `completed`, with a note saying how that was established. File artefacts follow
 * the same commit (file-commit.ts): staged before it, swapped in after it, and after a crash
 * rolled forward or back by the file journal according to that same proof, so they are
 * restored exactly when the tables are.
 */
export function interruptedOutcome(
  committed: boolean | null,
  ctx: {
    reason: string;
    files: boolean;
    backupId: string;
    at: string;
    unknownBecause?: string;
    /** Who asked for a cancel that had not been carried out yet. */
    cancelledBy?: string | null;
  },
): InterruptedOutcome {
  if (committed) {
    const files = ctx.files
      ? '; its file artefacts, staged before that commit, are swapped in from their journal by the recovery of interrupted file restores (at the start of the instance holding the directories, before this was recorded when it is this one)'
      : '';
    return {
      status: 'completed',
      error: null,
      note: `its restore committed (the target's commit proof shows it), then ${ctx.reason} before recording the end${files}; this outcome was recorded when the job was reconciled at ${ctx.at}`,
    };
  }
  if (committed === false) {
    const what = ctx.files
      ? `${NOT_COMMITTED}, and the file directories too (their staged copies are removed)`
      : NOT_COMMITTED;
    // What a cancel asked for did happen: nothing of the restore stayed.
    if (ctx.cancelledBy)
      return { status: 'cancelled', error: `cancelled by ${ctx.cancelledBy}; ${what} (${ctx.reason})`, note: null };
    return { status: 'failed', error: `${what} (${ctx.reason})`, note: null };
  }
  return {
    status: 'failed',
    note: null,
    error: `interrupted: ${ctx.reason}; whether its restore transaction committed could not be determined${ctx.unknownBecause ? `: ${ctx.unknownBecause}` : ''}. Check the tables in scope against backup ${ctx.backupId}${ctx.files ? ' (its staged file artefacts are kept until that is known)' : ''}`,
  };
}
