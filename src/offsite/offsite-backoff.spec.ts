import { offsiteRetryDelaySeconds } from './offsite-backoff';

describe('offsiteRetryDelaySeconds', () => {
  it.each([
    [1, 60, 3600, 60],
    [2, 60, 3600, 120],
    [3, 60, 3600, 240],
    [6, 60, 3600, 1920],
    [7, 60, 3600, 3600], // capped
    [1000, 60, 3600, 3600], // no overflow
    [0, 60, 3600, 60], // a first failure never waits less than the base
    [3, 1, 1, 1],
  ])('after %d failed attempt(s), base %d, max %d: %d s', (attempts, base, max, expected) => {
    expect(offsiteRetryDelaySeconds(attempts, base, max)).toBe(expected);
  });
});
