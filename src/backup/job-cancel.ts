/**
 * Cancelling a running job (a backup or a recovery) without ever ending up half-done.
 *
 * A cancel and a job's commit race; exactly one of them wins, decided in two places:
 * - in this process, synchronously on the watch's state (JavaScript runs one thing at a time):
 *   a cancel sees `open` and aborts, or sees the commit under way and waits for its outcome;
 * - across instances, on the job's catalog row: a cancel is recorded only while the row has no
 *   `committing_at`, and the job sets `committing_at` only while no cancel is recorded. The
 *   instance running the job polls the row, so a cancel sent to any instance reaches it.
 */

export type CancelOutcome =
  /** The job stops (or already stopped) as cancelled. */
  | 'cancelled'
  /** The job passed its commit point first: too late. */
  | 'committed'
  /** The job had already ended (its end is being recorded). */
  | 'finished';

export class JobCancelledError extends Error {
  constructor(readonly by: string) {
    super(`cancelled by ${by}`);
    this.name = 'JobCancelledError';
  }
}

export interface CancelWatchOptions {
  /** Reads the catalog row: who asked for a cancel, or null. Polled while the job runs. */
  poll(): Promise<string | null>;
  everyMs: number;
  /** A poll failed (the catalog is unreachable): the job goes on; the next poll tries again. */
  onPollError?(e: Error): void;
}

type State = 'open' | 'cancelled' | 'committing' | 'committed' | 'finished';

/** One job's cancel: its abort signal, the poll of its catalog row, and its commit gate. */
export class CancelWatch {
  private readonly abort = new AbortController();
  private state: State = 'open';
  private by: string | null = null;
  private decision: Promise<CancelOutcome> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private polling = false;

  constructor(private readonly opts: CancelWatchOptions) {}

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Who cancelled the job, once it is cancelled (null otherwise). */
  get cancelledBy(): string | null {
    return this.state === 'cancelled' ? this.by : null;
  }

  start(): this {
    this.timer ??= setInterval(() => void this.pollNow(), this.opts.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The job's work is over (whatever its outcome): a cancel from now on is too late. */
  finish(): void {
    this.stop();
    if (this.state === 'open' || this.state === 'committing') this.state = 'finished';
  }

  /** A cancel asked for in this process (after it was recorded in the catalog, or when it could not be). */
  async cancel(by: string): Promise<CancelOutcome> {
    if (this.state === 'open') {
      this.cancelNow(by);
      return 'cancelled';
    }
    if (this.state === 'cancelled') return 'cancelled';
    if (this.state === 'finished') return 'finished';
    return (await this.decision) ?? 'committed';
  }

  /**
   * The commit gate, awaited right before the job's commit point: throws JobCancelledError
   * when a cancel came first; otherwise claims the commit (`claim`: the conditional catalog
   * write, false when a cancel is recorded there) and from then on every cancel is too late.
   * A claim that cannot be written (catalog unreachable) lets the commit go on: a cancel
   * cannot have been recorded in a catalog nobody can write either.
   */
  async gate(claim?: () => Promise<boolean>, onClaimError?: (e: Error) => void): Promise<void> {
    if (this.state === 'cancelled') throw new JobCancelledError(this.by ?? 'unknown');
    this.state = 'committing';
    let won = true;
    let settle!: (o: CancelOutcome) => void;
    this.decision = new Promise((r) => (settle = r));
    try {
      won = claim ? await claim() : true;
    } catch (e) {
      onClaimError?.(e as Error);
    }
    if (!won) {
      const by = (await this.opts.poll().catch(() => null)) ?? 'another instance';
      this.state = 'open';
      this.cancelNow(by);
      settle('cancelled');
      throw new JobCancelledError(by);
    }
    this.state = 'committed';
    settle('committed');
  }

  private cancelNow(by: string): void {
    this.state = 'cancelled';
    this.by = by;
    this.abort.abort(new JobCancelledError(by));
  }

  private async pollNow(): Promise<void> {
    if (this.polling || this.state !== 'open') return;
    this.polling = true;
    try {
      const by = await this.opts.poll();
      if (by && this.state === 'open') this.cancelNow(by);
    } catch (e) {
      this.opts.onPollError?.(e as Error);
    } finally {
      this.polling = false;
    }
  }
}

/** Polled this often for a cancel recorded by another instance: a catalog read of one row. */
export const CANCEL_POLL_MS = 1000;
