import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import type { HeldLease, LeaseService } from './lease.service';

export interface LeaseKeeperOptions {
  everyMs: number;
  /** The lease was taken from us (our job was found stale and freed): stop writing. */
  onLost(): void;
  onError?(e: Error): void;
}

/**
 * Keeps a job's lease and its heartbeat alive together: every beat renews the lease and
 * stamps `heartbeat_at` on the job rows it tracks, in one transaction. A sweep in any
 * instance fails a job whose heartbeat went stale and frees its lease; if that happened to
 * us (we were cut off from the catalog), the next beat finds the lease gone and stops the job.
 */
export class LeaseKeeper {
  private readonly tracked = new Map<string, EntityTarget<ObjectLiteral>>();
  private timer: NodeJS.Timeout | null = null;
  private beating: Promise<boolean> | null = null;
  private lost = false;

  constructor(
    private readonly leases: LeaseService,
    readonly lease: HeldLease,
    private readonly opts: LeaseKeeperOptions,
  ) {}

  /** Stamps this job row's heartbeat at every beat (a recovery also tracks its safety backup). */
  track(entity: EntityTarget<ObjectLiteral>, id: string): void {
    this.tracked.set(id, entity);
  }

  untrack(id: string): void {
    this.tracked.delete(id);
  }

  start(): this {
    this.timer ??= setInterval(() => void this.beat(), this.opts.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  get isLost(): boolean {
    return this.lost;
  }

  /**
   * One beat now; false when the lease is lost. A beat still waiting (the catalog is slow or
   * busy) is joined, not queued behind: beats never pile up.
   */
  beat(): Promise<boolean> {
    if (this.lost) return Promise.resolve(false);
    this.beating ??= this.beatNow().finally(() => (this.beating = null));
    return this.beating;
  }

  private async beatNow(): Promise<boolean> {
    try {
      const held = await this.leases.renewWith(this.lease, async (m: EntityManager, now: string) => {
        for (const [id, entity] of this.tracked) await m.update(entity, { id }, { heartbeatAt: now });
      });
      if (!held) {
        this.lost = true;
        this.stop();
        this.opts.onLost();
      }
      return held;
    } catch (e) {
      // The catalog is unreachable: keep trying; a sweep elsewhere decides once we are stale.
      this.opts.onError?.(e as Error);
      return true;
    }
  }
}
