import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AppConfig } from '../config/app-config';
import { SharedPacer, type Pacer } from '../engine/archive/pacing';
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
 * server's backend sleeps, for at most `BACKUP_YIELD_MAX_WAIT_MS` (the policy: SharedPacer in
 * engine/archive/pacing.ts). The count lives in shared memory, so a backup whose rows a part
 * worker reads itself (PostgreSQL) pauses there too. 0 turns pacing off.
 */
@Injectable()
export class ForegroundActivity implements Pacer {
  private readonly gauge: SharedPacer;
  private readonly enabled: boolean;

  constructor(config: AppConfig) {
    this.gauge = new SharedPacer(config.BACKUP_YIELD_MAX_WAIT_MS);
    this.enabled = config.BACKUP_YIELD_MAX_WAIT_MS > 0;
    // The other half of the same policy: the threads that compress, encrypt and hash archives
    // take the CPU that requests leave (part-worker-pool.ts).
    setPartWorkerNice(config.BACKUP_WORKER_NICE ?? 0);
  }

  get shared(): SharedArrayBuffer {
    return this.gauge.shared;
  }

  /** Express middleware: a request counts from its arrival until it finishes, closes, or INTERACTIVE_MS pass. */
  readonly middleware = (_req: Request, res: Response, next: NextFunction): void => {
    if (this.enabled) {
      const done = this.enter();
      res.once('finish', done);
      res.once('close', done);
      setTimeout(done, INTERACTIVE_MS).unref();
    }
    next();
  };

  /** Marks one foreground task started; call the returned function (any number of times) when it ends. */
  enter(): () => void {
    return this.gauge.enter();
  }

  wait(): Promise<void> | null {
    return this.gauge.wait();
  }
}
