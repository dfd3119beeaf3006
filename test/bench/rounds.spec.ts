/**
 * The benchmark's rounds: tools run in rotation, and a goal's round-by-round ratios pair the
 * runs of one round, also when a run in between failed.
 */
import { pairedRatios, runRounds, type Case, type Sample } from '../../bench/rounds';
import type { Measured } from '../../bench/measure';

function measured(wallMs: number): Measured {
  return { wallMs, cpuSeconds: 0, peakRssBytes: 0, maxProcessRssBytes: 0, processes: 1, stdout: '' };
}

function scripted(key: string, walls: Array<number | Error>, order: string[] = []): Case {
  let i = 0;
  return {
    key,
    group: 'PostgreSQL restore',
    tool: key,
    run: async (): Promise<Sample> => {
      order.push(key);
      const w = walls[i++];
      if (w instanceof Error) throw w;
      return { measured: measured(w), bytes: null };
    },
  };
}

describe('runRounds and pairedRatios', () => {
  beforeEach(() => jest.spyOn(process.stderr, 'write').mockImplementation(() => true));
  afterEach(() => jest.restoreAllMocks());

  it('pairs the two tools round by round, skipping a round where either failed', async () => {
    const r = await runRounds(
      [scripted('ours', [900, new Error('exit 1'), 700]), scripted('theirs', [1000, 800, 1400])],
      3,
      [],
    );
    expect(r.walls.get('ours')).toEqual([900, null, 700]);
    expect(pairedRatios(r, 'ours', 'theirs')).toEqual([0.9, 0.5]);
    expect(r.rows.get('ours')).toMatchObject({ runs: 2, wallMs: 800 });
    expect(r.failures.get('ours')).toEqual(['exit 1']);
  });

  it('starts each round one tool further on, so no tool always runs first', async () => {
    const order: string[] = [];
    const cases = ['a', 'b', 'c'].map((k) => scripted(k, [1, 1, 1, 1], order));
    await runRounds(cases, 4, []);
    expect(order.join(' ')).toBe('a b c b c a c a b a b c');
  });
});
