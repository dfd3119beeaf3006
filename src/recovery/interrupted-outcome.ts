import type { RecoveryStatus } from './recovery.entity';

const NOT_COMMITTED =
  'interrupted: the process running this recovery stopped before its restore committed (the target holds no proof of a commit). An unfinished restore transaction rolls back with its process, so the tables hold what they held before';

export interface InterruptedOutcome {
  status: Extract<RecoveryStatus, 'completed' | 'failed'>;
  error: string | null;
  note: string | null;
}

/**
 * The truthful end of a recovery nobody runs any more, from what the target says of its
 * restore: committed (true), not committed (false), or unknown (null, with why). A restore that
 * committed is `completed`, with a note saying how that was established, unless file
 * artefacts were to follow it (those may not have been restored).
 */
export function interruptedOutcome(
  committed: boolean | null,
  ctx: { reason: string; files: boolean; backupId: string; at: string; unknownBecause?: string },
): InterruptedOutcome {
  if (committed && ctx.files) {
    return {
      status: 'failed', note: null,
      error: `interrupted: ${ctx.reason} after its restore committed (the target's commit proof shows it): the tables were restored, but the file artefacts may not have been`,
    };
  }
  if (committed) {
    return {
      status: 'completed', error: null,
      note: `its restore committed (the target's commit proof shows it), then ${ctx.reason} before recording the end; this outcome was recorded when the job was reconciled at ${ctx.at}`,
    };
  }
  if (committed === false) return { status: 'failed', error: `${NOT_COMMITTED} (${ctx.reason})`, note: null };
  return {
    status: 'failed', note: null,
    error: `interrupted: ${ctx.reason}; whether its restore transaction committed could not be determined${ctx.unknownBecause ? `: ${ctx.unknownBecause}` : ''}. Check the tables in scope against backup ${ctx.backupId}`,
  };
}
