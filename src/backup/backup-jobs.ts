import { ownedByThisProcess, ownerAliveOnThisHost } from '../database/lease.service';

/**
 * Jobs alive in this OS process, across every app instance in it (tests boot several): their
 * id from before the catalog row is written until their end is recorded. A job of this
 * process that is not in here has nobody left to finish it.
 */
const LIVE_IN_PROCESS = new Set<string>();

/** Jobs of this process whose end waits to be written (catalog unreachable when they ended). */
const DEFERRED_IN_PROCESS = new Set<string>();

/** Whether some job of this process still has an end to write: a reader that sweeps must not skip it. */
export function hasDeferredEnds(): boolean {
  return DEFERRED_IN_PROCESS.size > 0;
}

/** Background jobs of this process, so shutdown can cancel them and tests can await them. */
export class JobRegistry {
  private readonly jobs = new Map<string, { abort: AbortController; done: Promise<void> }>();
  /** Ends that could not be written (catalog unreachable), retried until they are. */
  private readonly unrecorded = new Map<string, () => Promise<void>>();

  /** Marks `id` as alive here before its row exists, so no sweep takes it for an orphan. */
  hold(id: string): void {
    LIVE_IN_PROCESS.add(id);
  }

  /** The job ended (or never started); unless its end still waits to be recorded, it is no longer alive. */
  drop(id: string): void {
    if (!this.unrecorded.has(id)) LIVE_IN_PROCESS.delete(id);
  }

  start(id: string, run: (signal: AbortSignal) => Promise<void>): void {
    const abort = new AbortController();
    this.hold(id);
    const done = run(abort.signal).finally(() => {
      this.jobs.delete(id);
      this.drop(id);
    });
    this.jobs.set(id, { abort, done });
  }

  has(id: string): boolean {
    return this.jobs.has(id);
  }

  async wait(id: string): Promise<void> {
    await this.jobs.get(id)?.done;
  }

  /**
   * Writes a job's end; when the catalog cannot take it now, keeps it (and the job alive
   * here) so that `recordDeferred` writes the true outcome once the catalog is back, instead
   * of the row staying `running` or a sweep guessing.
   */
  async recordEnd(id: string, write: () => Promise<void>, onDeferred: (e: Error) => void): Promise<void> {
    try {
      await write();
    } catch (e) {
      this.unrecorded.set(id, write);
      LIVE_IN_PROCESS.add(id);
      DEFERRED_IN_PROCESS.add(id);
      onDeferred(e as Error);
    }
  }

  /** Retries the ends not yet recorded; the ids written now. */
  async recordDeferred(): Promise<string[]> {
    const done: string[] = [];
    for (const [id, write] of [...this.unrecorded]) {
      try {
        await write();
      } catch {
        continue;
      }
      this.unrecorded.delete(id);
      LIVE_IN_PROCESS.delete(id);
      DEFERRED_IN_PROCESS.delete(id);
      done.push(id);
    }
    return done;
  }

  async cancelAll(): Promise<void> {
    const all = [...this.jobs.values()];
    for (const j of all) j.abort.abort();
    await Promise.allSettled(all.map((j) => j.done));
  }
}

/** What a sweep needs of an open job's row. */
export interface OpenJobRow {
  id: string;
  owner: string | null;
  heartbeatAt: string | null;
  startedAt: string | null;
  createdAt: string;
}

/**
 * Why an open (pending/running) job has nobody running it any more, or null while it may
 * still be running: its process ended (this one, without it; or a dead pid on this host), or
 * its heartbeat is older than `staleBefore` (an owner elsewhere, gone or cut off).
 */
export function orphanReason(row: OpenJobRow, staleBefore: string): string | null {
  if (LIVE_IN_PROCESS.has(row.id)) return null;
  if (row.owner && ownedByThisProcess(row.owner)) return 'this process is no longer running it';
  if (row.owner && !ownerAliveOnThisHost(row.owner)) return 'the process running it stopped';
  const beat = row.heartbeatAt ?? row.startedAt ?? row.createdAt;
  if (beat < staleBefore) return `its heartbeat stopped (last ${beat})`;
  return null;
}
