/**
 * When a failed offsite copy is tried again: the base delay, doubled per failed attempt, up to
 * the maximum. Retries never stop (an offsite storage that comes back gets its copies); the
 * cap keeps a long outage from pushing the next try days away, and status/metrics report the lag.
 */
export function offsiteRetryDelaySeconds(failedAttempts: number, baseSeconds: number, maxSeconds: number): number {
  const n = Math.max(1, Math.floor(failedAttempts));
  // 2^30 already exceeds any sensible cap; the bound keeps the power finite.
  return Math.min(maxSeconds, baseSeconds * 2 ** Math.min(n - 1, 30));
}
