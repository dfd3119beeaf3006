import { judgeRto, median } from './drill-rto';

describe('median', () => {
  it.each([
    [[], null],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
  ])('of %j is %p', (values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

describe('judgeRto', () => {
  it('has no baseline and raises nothing on the first drill', () => {
    expect(judgeRto(10_000, [], 25, 7)).toEqual({ baselineMs: null, growthPercent: null, regressed: false });
  });

  it('is a regression just above 25% over the median, not at exactly 25%', () => {
    const previous = [1000, 1000, 1000];
    expect(judgeRto(1250, previous, 25, 7).regressed).toBe(false);
    expect(judgeRto(1251, previous, 25, 7)).toEqual({ baselineMs: 1000, growthPercent: 25.1, regressed: true });
  });

  it('judges against the median, so one earlier outlier does not hide a regression or cause one', () => {
    // One very slow drill among normal ones: the baseline stays at the normal duration.
    expect(judgeRto(1400, [1000, 9000, 1000, 1000], 25, 7)).toMatchObject({ baselineMs: 1000, regressed: true });
    // One very fast drill among normal ones: a normal drill is not a regression.
    expect(judgeRto(1100, [1000, 10, 1000, 1000], 25, 7)).toMatchObject({ baselineMs: 1000, regressed: false });
  });

  it('only looks at the newest baselineDrills previous drills', () => {
    // The older drills were much slower; the recent three set the yardstick.
    const previous = [1000, 1000, 1000, 5000, 5000, 5000, 5000];
    expect(judgeRto(2000, previous, 25, 3)).toMatchObject({ baselineMs: 1000, regressed: true });
    expect(judgeRto(2000, previous, 25, 7)).toMatchObject({ baselineMs: 5000, regressed: false });
  });

  it('honours another threshold', () => {
    expect(judgeRto(1400, [1000], 50, 7).regressed).toBe(false);
    expect(judgeRto(1600, [1000], 50, 7).regressed).toBe(true);
  });

  it('never divides by a zero baseline', () => {
    expect(judgeRto(1, [0, 0], 25, 7).regressed).toBe(false);
    expect(judgeRto(5, [0, 0], 25, 7).regressed).toBe(true);
  });
});
