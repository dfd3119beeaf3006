import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { hasDeferredEnds } from './backup-jobs';

export type Sweep = (staleBefore: string) => Promise<number>;

/**
 * Finds jobs nobody runs any more and ends them (each job service registers its own sweep):
 * in every instance, every lease TTL, and whenever someone is about to act on what is
 * running (a scheduler tick, `/api/status`). A job's heartbeat is renewed with its lease, so
 * a heartbeat older than JOB_STALE_AFTER_TTLS lease TTLs means its owner is gone or cut off.
 */
@Injectable()
export class JobSweeper implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('JobSweeper');
  private readonly sweeps: Sweep[] = [];
  private running: Promise<number> | null = null;
  /** When the last sweep that completed without error began (ms since the epoch). */
  private lastSweepStartedAt = -Infinity;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly config: AppConfig) {}

  register(sweep: Sweep): void {
    this.sweeps.push(sweep);
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(
      () => void this.sweep().catch((e: Error) => this.logger.warn(`sweep of stale jobs failed: ${e.message}`)),
      this.config.LEASE_TTL_SECONDS * 1000,
    );
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Heartbeats before this instant are stale. */
  staleBefore(now = Date.now()): string {
    return new Date(now - this.config.JOB_STALE_AFTER_TTLS * this.config.LEASE_TTL_SECONDS * 1000).toISOString();
  }

  /** Runs every sweep now (joining one already under way); the number of jobs ended. */
  sweep(now = Date.now()): Promise<number> {
    this.running ??= this.sweepNow(now).finally(() => (this.running = null));
    return this.running;
  }

  /**
   * For readers that sweep before they report (`/api/status`, polled by monitors and
   * dashboards): a sweep unless one that succeeded began less than `withinMs` ago. A
   * heartbeat goes stale only after JOB_STALE_AFTER_TTLS lease TTLs (minutes), so a second's
   * reuse changes nothing a reader could see, while a sweep per request is two catalog
   * queries on every poll. A failed sweep does not count: the next reader tries again. Nor
   * does the interval hold while a job of this process has an end still to write (it ended
   * during a catalog outage): a reader then sees its true outcome at once.
   */
  sweepIfDue(withinMs: number, now = Date.now()): Promise<number> {
    // A sweep already under way may have begun before the catalog came back (and fail), or
    // before the end was deferred: joining it alone would show the job still open.
    if (hasDeferredEnds()) return (this.running ?? Promise.resolve(0)).catch(() => 0).then(() => this.sweep());
    if (this.running) return this.running;
    if (now - this.lastSweepStartedAt < withinMs && !hasDeferredEnds()) return Promise.resolve(0);
    return this.sweep(now);
  }

  private async sweepNow(started: number): Promise<number> {
    let ended = 0;
    for (const s of this.sweeps) ended += await s(this.staleBefore(started));
    this.lastSweepStartedAt = started;
    return ended;
  }
}
