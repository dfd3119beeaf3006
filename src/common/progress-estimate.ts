/**
 * Bytes done, bytes expected and time left for a running job. The total is an estimate (a
 * backup: the previous completed backup of the same type; a restore: the backup's stored
 * size), so the ETA is only given once at least 10% is done, when the rate has settled enough
 * to plan with, and never while the job has already passed its estimate (it would be a guess
 * of zero).
 */
export interface ProgressEstimate {
  bytesDone: number;
  bytesTotal: number | null;
  etaSeconds: number | null;
}

/** Fraction of the total after which an ETA is given. */
export const ETA_AFTER_FRACTION = 0.1;

export function estimateProgress(
  bytesDone: number,
  bytesTotal: number | null | undefined,
  startedAtMs: number,
  nowMs: number,
): ProgressEstimate {
  const total = bytesTotal && bytesTotal > 0 ? bytesTotal : null;
  const elapsed = Math.max(0, nowMs - startedAtMs) / 1000;
  let etaSeconds: number | null = null;
  if (total !== null && bytesDone >= total * ETA_AFTER_FRACTION && bytesDone < total && bytesDone > 0) {
    etaSeconds = Math.max(0, Math.round((elapsed * (total - bytesDone)) / bytesDone));
  }
  return { bytesDone, bytesTotal: total, etaSeconds };
}
