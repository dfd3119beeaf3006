import { estimateProgress } from './progress-estimate';

describe('estimateProgress', () => {
  const start = 1_000_000;

  it.each([
    // [done, total, elapsed seconds, expected eta]
    [0, 1000, 5, null], // nothing done yet
    [99, 1000, 5, null], // below 10%: no ETA yet
    [100, 1000, 10, 90], // exactly 10%: 10 s for 100 bytes, 900 left
    [500, 1000, 20, 20],
    [999, 1000, 999, 1],
    [1000, 1000, 10, null], // at or past the estimate: no honest ETA
    [1500, 1000, 10, null],
  ])('done %d of %d after %d s -> eta %p', (done, total, elapsed, eta) => {
    expect(estimateProgress(done, total, start, start + elapsed * 1000)).toEqual({
      bytesDone: done,
      bytesTotal: total,
      etaSeconds: eta,
    });
  });

  it('has no total (and so no ETA) without an estimate', () => {
    expect(estimateProgress(500, null, start, start + 1000)).toEqual({
      bytesDone: 500,
      bytesTotal: null,
      etaSeconds: null,
    });
    expect(estimateProgress(500, 0, start, start + 1000).bytesTotal).toBeNull();
  });

  it('never reports a negative ETA when the clock went back', () => {
    expect(estimateProgress(500, 1000, start, start - 5000).etaSeconds).toBe(0);
  });
});
