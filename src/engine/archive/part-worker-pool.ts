/**
 * Runs a part's transform chain (compress + encrypt + hash, or the checks in reverse) on a
 * worker thread, as a Duplex the part pipeline uses in place of the in-process transforms. The
 * main thread is left with the database protocol and storage: on a restore it was spending
 * most of its time decompressing, so both cores now work.
 *
 * Workers are pooled and shared (starting one costs tens of milliseconds, and a backup of many
 * small tables writes many parts): a worker runs several jobs at once, so jobs never wait for
 * each other, and idle workers are unref'd so they never hold the process open. A job that fails
 * or is abandoned is torn down inside its worker; the worker and its other jobs carry on.
 *
 * Where the worker's code comes from: compiled JavaScript beside this file (dist/, the bench's
 * and tests' transpiled trees), or, when this file itself runs as TypeScript (jest, ts-node), the
 * .ts source compiled inside the worker by @swc/core (a dev dependency, present wherever .ts runs).
 */
import { availableParallelism } from 'node:os';
import { extname, join } from 'node:path';
import { Duplex } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { StagesSpec, WriteDigests } from './part-stages';
import {
  asBuffer,
  deserializeError,
  IN_FLIGHT_BYTES,
  transferable,
  type FromWorker,
  type SourcedJob,
  type ToWorker,
} from './part-worker-protocol';
import { noteWorkerStats, stageStatsOn } from './stage-stats';

/** Input is sent in batches of about this size: database exports arrive in many small chunks. */
const BATCH_BYTES = 128 * 1024;

const TS_BOOTSTRAP = `
const { workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const { readFileSync } = require('node:fs');
const local = createRequire(workerData.file);
const swc = local('@swc/core');
local.extensions['.ts'] = function (m, filename) {
  const out = swc.transformSync(readFileSync(filename, 'utf8'), {
    filename,
    jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
    module: { type: 'commonjs' },
  });
  m._compile(out.code, filename);
};
local(workerData.file);
`;

/** The nice value part workers give their own thread (Linux; 0 = leave it): see setPartWorkerNice. */
let workerNice = 0;

/**
 * Part workers started from now on lower their own thread's scheduling priority to `nice`
 * (0-19). Why: on a machine with as many busy threads as cores, a backup's compression thread
 * competes with the threads that answer API requests and with the database; niced, it takes the
 * CPU that is left over and the requests go first. On an idle machine it changes nothing.
 */
export function setPartWorkerNice(nice: number): void {
  workerNice = Math.max(0, Math.min(19, Math.trunc(nice)));
}

function spawn(): Worker {
  const ext = extname(__filename);
  const file = join(__dirname, `part-worker${ext}`);
  // The chain holds at most a few MiB (zstd's window, the frames in flight): a small heap keeps
  // each worker's share of the process's peak memory small. The young generation matters most:
  // the chain's buffers are freed only when the small objects wrapping them are collected, and
  // a worker allocates few objects per MiB of data, so with 8 MiB it held up to 37 MiB of dead
  // buffers. Measured on the 500-table benchmark database (2026-12-01, three runs each): peak
  // RSS of the whole backup 186-199 MiB at 8, 160-177 at 2, 163-180 at 4, with no change in
  // wall time beyond the runs' spread.
  const resourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 4 };
  // The worker times its steps exactly when this thread does (stage-stats.ts).
  const stageStats = stageStatsOn();
  const nice = workerNice;
  if (ext === '.ts')
    return new Worker(TS_BOOTSTRAP, { eval: true, workerData: { file, stageStats, nice }, resourceLimits });
  return new Worker(file, { workerData: { stageStats, nice }, resourceLimits });
}

interface PooledWorker {
  worker: Worker;
  /** Jobs running on it now. */
  active: number;
}

class PartWorkerPool {
  private readonly workers: PooledWorker[] = [];
  private nextId = 1;
  /** Jobs handed to workers since the process started (tests check that a path used one). */
  jobs = 0;

  /**
   * At most one worker per core but one (the main thread and the database server need the
   * rest), at least one: each is a V8 instance of its own, so fewer also means less memory.
   * Also for jobs that read their own data (a PostgreSQL backup's tables), though the main thread
   * then has little to do: measured on two cores (2026-11-30, bench at scale 0.3), a second
   * worker raised a backup's peak memory from 197 to 243 MiB (the goal is 256), and in the
   * service the core it leaves free is the one that answers the API.
   */
  readonly max = Math.max(1, availableParallelism() - 1);

  /** A worker for a new job: an idle one, else a new one while under `max`, else the least busy. */
  acquire(): { worker: Worker; id: number } {
    this.jobs += 1;
    let pick = this.workers.reduce<PooledWorker | null>((a, w) => (!a || w.active < a.active ? w : a), null);
    if (!pick || (pick.active > 0 && this.workers.length < this.max)) pick = this.create();
    pick.active += 1;
    pick.worker.ref();
    return { worker: pick.worker, id: this.nextId++ };
  }

  /**
   * Starts a worker before its first job, so that its start (a V8 instance loading the part
   * pipeline, about 0.1 s) overlaps the caller's own preparations instead of delaying that job.
   */
  warm(): void {
    if (this.workers.length === 0) this.create().worker.unref();
  }

  release(worker: Worker): void {
    const w = this.workers.find((p) => p.worker === worker);
    if (!w) return;
    w.active -= 1;
    // An idle worker must not keep the process alive.
    if (w.active === 0) w.worker.unref();
  }

  /** Tells every worker that a snapshot is closed: connections that adopted it end (pg-copy-out.ts). */
  releaseSnapshot(snapshotId: string): void {
    for (const w of this.workers) w.worker.postMessage({ id: 0, t: 'release-snapshot', snapshotId } satisfies ToWorker);
  }

  /** Stops every worker, busy ones included (their jobs fail). For shutdown, and for tests. */
  async terminateAll(): Promise<void> {
    const all = this.workers.splice(0).map((w) => w.worker);
    await Promise.all(all.map((w) => w.terminate()));
  }

  get size(): number {
    return this.workers.length;
  }

  private create(): PooledWorker {
    const pooled: PooledWorker = { worker: spawn(), active: 0 };
    // Every job on it listens for its messages and its exit.
    pooled.worker.setMaxListeners(0);
    this.workers.push(pooled);
    // Its jobs hear of a failure through their own listeners; the pool only forgets the worker.
    pooled.worker.on('error', () => undefined);
    pooled.worker.on('exit', () => {
      const i = this.workers.indexOf(pooled);
      if (i !== -1) this.workers.splice(i, 1);
    });
    return pooled;
  }
}

export const partWorkers = new PartWorkerPool();

/**
 * The chain described by `spec`, running on a pooled worker. Errors from the chain come back
 * with their ArchiveError code; a worker that dies mid-job fails the stream. `digests` is set
 * before the readable side ends (write chains only). With `sourced`, the worker reads the data
 * itself: nothing is written to this stream (end it), and `rows` is set with the digests.
 */
export class WorkerStages extends Duplex {
  digests: WriteDigests | null = null;
  rows: number | null = null;
  private worker: Worker | null;
  private readonly id: number;
  private batch: Buffer[] = [];
  private batched = 0;
  private inFlight = 0;
  private blockedWrite: ((err?: Error | null) => void) | null = null;
  /** Output bytes pushed that are not yet acknowledged: sent when the reader asks for more. */
  private unacked = 0;
  private finished = false;

  constructor(spec: StagesSpec, sourced?: SourcedJob) {
    super();
    const { worker: w, id } = partWorkers.acquire();
    this.worker = w;
    this.id = id;
    w.on('message', this.onMessage);
    w.on('error', this.onError);
    w.on('exit', this.onExit);
    this.send({ id, t: 'start', spec, ...(sourced ? { sourced } : {}) });
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.batch.push(chunk);
    this.batched += chunk.length;
    if (this.batched >= BATCH_BYTES) this.flushBatch();
    if (this.inFlight <= IN_FLIGHT_BYTES) done();
    else this.blockedWrite = done;
  }

  override _final(done: (err?: Error | null) => void): void {
    this.flushBatch();
    this.send({ id: this.id, t: 'end' });
    done();
  }

  override _read(): void {
    if (this.unacked > 0) {
      const n = this.unacked;
      this.unacked = 0;
      this.send({ id: this.id, t: 'ack', n });
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // Abandoned mid-job (the consumer failed or aborted): the worker drops the job's state.
    if (!this.finished) this.send({ id: this.id, t: 'abort' });
    this.detach();
    done(err);
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker?.postMessage(msg, transfer);
  }

  private flushBatch(): void {
    if (this.batched === 0) return;
    // One fresh buffer (never Node's shared pool), handed over without a further copy.
    const joined = Buffer.allocUnsafeSlow(this.batched);
    let at = 0;
    for (const b of this.batch) at += b.copy(joined, at);
    this.batch = [];
    this.batched = 0;
    const { view, transfer } = transferable(joined);
    this.inFlight += view.byteLength;
    this.send({ id: this.id, t: 'data', buf: view }, [transfer]);
  }

  private readonly onMessage = (msg: FromWorker): void => {
    if (msg.id !== this.id) return;
    switch (msg.t) {
      case 'data': {
        const n = msg.buf.byteLength;
        if (this.push(asBuffer(msg.buf))) this.send({ id: this.id, t: 'ack', n });
        else this.unacked += n;
        return;
      }
      case 'ack': {
        this.inFlight -= msg.n;
        if (this.blockedWrite && this.inFlight <= IN_FLIGHT_BYTES) {
          const go = this.blockedWrite;
          this.blockedWrite = null;
          go();
        }
        return;
      }
      case 'done':
        this.finished = true;
        this.digests = msg.digests;
        this.rows = msg.rows ?? null;
        if (msg.stats && this.worker) noteWorkerStats(this.worker.threadId, msg.stats);
        this.detach();
        this.push(null);
        return;
      case 'error':
        this.finished = true;
        this.detach();
        this.destroy(deserializeError(msg.error));
        return;
    }
  };

  private readonly onError = (err: Error): void => {
    this.finished = true;
    this.detach();
    this.destroy(new Error(`part worker failed: ${err.message}`, { cause: err }));
  };

  private readonly onExit = (code: number): void => {
    this.finished = true;
    this.detach();
    this.destroy(new Error(`part worker stopped unexpectedly (exit code ${code})`));
  };

  private detach(): void {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    w.off('message', this.onMessage);
    w.off('error', this.onError);
    w.off('exit', this.onExit);
    partWorkers.release(w);
  }
}
