import { spawnOffThread } from './off-thread-spawn';

describe('spawnOffThread (child processes started from a worker thread)', () => {
  it('returns the exit code, stdout and stderr, with exactly the environment given', async () => {
    const r = await spawnOffThread('/bin/sh', ['-c', 'printf "%s" "$GREETING"; echo oops >&2; exit 3'], {
      PATH: process.env.PATH,
      GREETING: 'hello from the child',
    });
    expect(r.code).toBe(3);
    expect(r.signal).toBeNull();
    expect(r.stdout.toString()).toBe('hello from the child');
    expect(r.stderr.toString()).toBe('oops\n');
  });

  it('rejects when the program cannot be started', async () => {
    await expect(spawnOffThread('/nonexistent/program', [], {})).rejects.toThrow(/ENOENT/);
  });

  it('runs several at once and answers each its own', async () => {
    const rs = await Promise.all(
      [1, 2, 3].map((n) => spawnOffThread('/bin/sh', ['-c', `sleep 0.0${n}; echo ${n}`], { PATH: process.env.PATH })),
    );
    expect(rs.map((r) => r.stdout.toString().trim())).toEqual(['1', '2', '3']);
  });

  it('terminates the program when the signal aborts', async () => {
    const ac = new AbortController();
    const run = spawnOffThread('/bin/sleep', ['30'], {}, ac.signal);
    setTimeout(() => ac.abort(), 100);
    const r = await run;
    expect(r.signal).toBe('SIGTERM');
    expect(r.code).toBeNull();
  });
});
