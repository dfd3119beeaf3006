/**
 * Crash-test kill points around the one commit of tables and files (src/recovery/file-commit.ts),
 * for child processes that kill themselves with SIGKILL there:
 * - `staged`: every file directory staged and the journal prepared, before the table restore begins;
 * - `in-transaction`: the table restore's transaction began and its token is journaled (PostgreSQL);
 * - `committed`: the table restore committed, before any directory is swapped;
 * - `mid-swap`: after the first directory was swapped in, before the second.
 */
import { FileCommit } from '../../src/recovery/file-commit';

const die = (): never => {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
};

export function armKill(at: string): void {
  const proto = FileCommit.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const marker = proto.marker;
  const afterCommit = proto.afterCommit;
  if (at === 'staged') proto.marker = die;
  else if (at === 'in-transaction') {
    proto.marker = function (this: FileCommit, ...args: unknown[]) {
      const m = marker.apply(this, args) as { id: string; onToken(token: string): Promise<void> };
      return {
        id: m.id,
        onToken: async (token: string) => {
          await m.onToken(token);
          die();
        },
      };
    };
  } else if (at === 'committed') proto.afterCommit = die;
  else if (at === 'mid-swap') {
    proto.afterCommit = function (this: FileCommit, ...args: unknown[]) {
      const opts = (this as unknown as { opts: { hook?: (step: string, root?: number) => void } }).opts;
      opts.hook = (step, root) => {
        if (step === 'swapped-in' && root === 0) die();
      };
      return afterCommit.apply(this, args);
    };
  } else throw new Error(`unknown kill point ${at}`);
}
