import { CancelWatch, JobCancelledError } from './job-cancel';

/** A watch whose catalog row says `recorded` (who asked, or null). */
function watch(recorded: { by: string | null } = { by: null }, everyMs = 60_000): CancelWatch {
  return new CancelWatch({ poll: () => Promise.resolve(recorded.by), everyMs });
}

describe('CancelWatch: a cancel and a commit, exactly one wins', () => {
  it('a cancel before the commit aborts the job and the gate refuses to commit', async () => {
    const w = watch();
    await expect(w.cancel('alice')).resolves.toBe('cancelled');
    expect(w.signal.aborted).toBe(true);
    expect(w.cancelledBy).toBe('alice');
    await expect(w.gate(() => Promise.resolve(true))).rejects.toBeInstanceOf(JobCancelledError);
  });

  it('a cancel after the gate passed is too late, and does not abort', async () => {
    const w = watch();
    await w.gate(() => Promise.resolve(true));
    await expect(w.cancel('alice')).resolves.toBe('committed');
    expect(w.signal.aborted).toBe(false);
    expect(w.cancelledBy).toBeNull();
  });

  it('a cancel during the claim waits for it: too late when the claim won', async () => {
    const w = watch();
    let claim!: (won: boolean) => void;
    const gate = w.gate(() => new Promise<boolean>((r) => (claim = r)));
    const answer = w.cancel('alice');
    claim(true);
    await gate;
    await expect(answer).resolves.toBe('committed');
  });

  it('a claim lost to a cancel recorded in the catalog (another instance) cancels, naming who asked', async () => {
    const row = { by: null as string | null };
    const w = watch(row);
    let claim!: (won: boolean) => void;
    const gate = w.gate(() => new Promise<boolean>((r) => (claim = r)));
    const answer = w.cancel('bob');
    row.by = 'carol';
    claim(false);
    await expect(gate).rejects.toMatchObject({ by: 'carol' });
    await expect(answer).resolves.toBe('cancelled');
    expect(w.signal.aborted).toBe(true);
    expect(w.cancelledBy).toBe('carol');
  });

  it('a claim that cannot be written lets the commit go on (nobody could record a cancel either)', async () => {
    const w = watch();
    const errors: string[] = [];
    await w.gate(
      () => Promise.reject(new Error('catalog down')),
      (e) => errors.push(e.message),
    );
    expect(errors).toEqual(['catalog down']);
    await expect(w.cancel('alice')).resolves.toBe('committed');
  });

  it('the poll finds a cancel recorded elsewhere and aborts the job', async () => {
    const row = { by: null as string | null };
    const w = watch(row, 5).start();
    try {
      row.by = 'dave';
      await new Promise<void>((r) => w.signal.addEventListener('abort', () => r(), { once: true }));
      expect(w.cancelledBy).toBe('dave');
    } finally {
      w.stop();
    }
  });

  it('after the job ended a cancel says so', async () => {
    const w = watch();
    w.finish();
    await expect(w.cancel('alice')).resolves.toBe('finished');
    expect(w.signal.aborted).toBe(false);
  });
});
