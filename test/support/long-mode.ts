/**
 * CI runs a small, well-spread sample of every repeated trial (cancel rounds, kill trials,
 * property runs); `STRONGROOM_LONG_TESTS=1` runs the full counts the requirements name
 * (e.g. ≥ 20 cancels of each kind). Both modes run the same assertions: the long mode only
 * repeats them more often. Trials are spread over their window by a seeded generator, so a
 * failing CI round reproduces with `STRONGROOM_TEST_SEED=<seed printed in the failure>`.
 *
 * No Nest/TypeORM imports here: unit specs in src/ use it too.
 */

/** True when `STRONGROOM_LONG_TESTS=1` (see docs/reliability.md, "Long test mode"). */
export const LONG_TESTS = process.env.STRONGROOM_LONG_TESTS === '1';

/** `ci` in a normal run, `long` with STRONGROOM_LONG_TESTS=1. */
export function rounds(ci: number, long: number): number {
  return LONG_TESTS ? long : ci;
}

/** The seed of this run's trial moments: STRONGROOM_TEST_SEED, else a fixed one (CI stays reproducible). */
export const TEST_SEED = Number(process.env.STRONGROOM_TEST_SEED ?? 20261130);

/** mulberry32: a small seeded generator of numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * `n` moments in [0, 1), one drawn in each of n equal slices (stratified): even a small n
 * covers the start, the middle and the end of the window instead of clustering by chance.
 * Shuffled, so the order of the trials does not follow the moment.
 */
export function spreadMoments(n: number, seed = TEST_SEED): number[] {
  const rnd = seededRandom(seed);
  const moments = Array.from({ length: n }, (_, i) => (i + rnd()) / n);
  for (let i = moments.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    [moments[i], moments[j]] = [moments[j], moments[i]];
  }
  return moments;
}
