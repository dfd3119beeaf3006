import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { tempDir } from '../../../test/support/databases';
import { LocalStorage } from '../storage/local-storage';
import { usePartWorkers, writePart } from './part-io';
import { partWorkers, setPartWorkerNice } from './part-worker-pool';

/** The nice value in a thread's stat file (field 19). */
function niceOf(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // Fields after the command name (which may hold spaces) start at its closing parenthesis.
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
}

/** The nice value of each of this process's threads. */
function threadNices(): number[] {
  return readdirSync('/proc/self/task').map((tid) => niceOf(`/proc/self/task/${tid}/stat`));
}

/**
 * The calling thread's own: not the first thread listed, since thread ids are process ids, and
 * once those wrap around a worker thread started later can list before the main one.
 */
const ownNice = (): number => niceOf('/proc/thread-self/stat');

const linux = process.platform === 'linux' ? describe : describe.skip;

linux('part workers on a lower priority (BACKUP_WORKER_NICE)', () => {
  afterEach(() => partWorkers.terminateAll());

  it('a worker started after setPartWorkerNice(n) runs its thread at nice n; the calling thread keeps its own', async () => {
    const root = tempDir('strongroom-part-nice-');
    try {
      usePartWorkers(true);
      const own = ownNice();
      expect(threadNices()).not.toContain(own + 7);
      setPartWorkerNice(own + 7);
      await writePart(new LocalStorage(root.path), 'b', 'p.rows', Readable.from([Buffer.from('row\n')]), {
        compression: 'zstd',
      });
      const nices = threadNices();
      expect(nices).toContain(own + 7);
      expect(ownNice()).toBe(own);
    } finally {
      setPartWorkerNice(0);
      root.remove();
    }
  });
});
