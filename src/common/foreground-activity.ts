import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import type { Pacer } from '../engine/archive/pacing';
import { setPartWorkerNice } from '../engine/archive/part-worker-pool';

/** A request stops counting as interactive after this long (a download, an upload): it must not hold backups back. */
const INTERACTIVE_MS = 2_000;

/**
 * API requests in flight, and the pacer a backup asks before moving each chunk of its data.
 *
 * Why: on a small machine a backup keeps every core busy (the database encoding rows, this
 * process compressing them), so an operator's request waits its turn behind it: on PostgreSQL
 * the catalog's own queries queue on the same server as the backup's COPY. While requests are
 * in flight the backup holds its next chunk back, so its source (the COPY socket) pauses and the
 * server's backend sleeps, for at most `BACKUP_YIELD_MAX_WAIT_MS`; after such a wait it then
 * runs for a fifth of that without asking again, so a constant stream of requests slows a backup
 * to no less than about a sixth of its speed instead of stopping it. 0 turns pacing off.
 */
@Injectable()
export class ForegroundActivity implements Pacer {
  private active = 0;
  private waiters: Array<() => void> = [];
  /** Until then (ms, performance.now()) the backup runs without asking: its share after a full wait. */
  private grantedUntil = 0;
  private readonly maxWaitMs: number;

  constructor(config: AppConfig) {
    this.maxWaitMs = config.BACKUP_YIELD_MAX_WAIT_MS;
    // The other half of the same policy: the threads that compress, encrypt and hash archives
    // take the CPU that requests leave (part-worker-pool.ts).
    setPartWorkerNice(config.BACKUP_WORKER_NICE ?? 0);
  }

  /** Express middleware: a request counts from its arrival until it finishes, closes, or INTERACTIVE_MS pass. */
  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.maxWaitMs > 0) {
      const done = this.enter();
      res.once('finish', done);
      res.once('close', done);
      setTimeout(done, INTERACTIVE_MS).unref();
    }
    next();
  };

  /** Marks one foreground task started; call the returned function (any number of times) when it ends. */
  enter(): () => void {
    this.active++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.active === 0) this.wakeAll();
    };
  }

  wait(): Promise<void> | null {
    if (this.active === 0 || this.maxWaitMs <= 0) return null;
    if (performance.now() < this.grantedUntil) return null;
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== wake);
        this.grantedUntil = performance.now() + this.maxWaitMs / 5;
        resolve();
      }, this.maxWaitMs);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(wake);
    });
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
