/**
 * Whether a restore drill's duration (the measured RTO) grew too much. One slow drill is
 * judged against the median of the previous successful drills (DRILL_RTO_BASELINE_DRILLS of
 * them, newest first), not against the last one alone: a single slow or fast outlier (a busy
 * disk, a warm cache) neither raises an alert nor becomes the yardstick for the next drill.
 * Failed drills never count toward the baseline: they stop early and would make it look fast.
 */

export interface RtoJudgement {
  /** Median duration of the previous successful drills, in ms; null when there are none. */
  baselineMs: number | null;
  /** How much longer than the baseline this drill took, in percent (negative: faster); null without a baseline. */
  growthPercent: number | null;
  /** True when the growth is above the threshold. */
  regressed: boolean;
}

export function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * @param durationMs this drill's duration
 * @param previousMs durations of previous successful drills, newest first (more than needed is fine)
 * @param thresholdPercent regression when the drill took more than this much longer than the baseline
 * @param baselineDrills how many previous drills the baseline is the median of
 */
export function judgeRto(
  durationMs: number,
  previousMs: readonly number[],
  thresholdPercent: number,
  baselineDrills: number,
): RtoJudgement {
  const baselineMs = median(previousMs.slice(0, baselineDrills));
  if (baselineMs === null) return { baselineMs: null, growthPercent: null, regressed: false };
  // A baseline of 0 ms (a drill faster than the clock's resolution) would make any drill a regression.
  const base = Math.max(baselineMs, 1);
  const growthPercent = ((durationMs - base) / base) * 100;
  return {
    baselineMs,
    growthPercent: Math.round(growthPercent * 10) / 10,
    regressed: growthPercent > thresholdPercent,
  };
}
