/**
 * Runs a part's transform chain (compress + encrypt + hash, or the checks in reverse) on a
 * worker thread, as a Duplex the part pipeline uses in place of the in-process transforms. The
 * main thread is left with the database protocol and storage: on a restore it was spending
 * most of its time decompressing, so both cores now work.
 *
 * Workers are pooled (starting one costs tens of milliseconds, and a backup of many small
 * tables writes many parts): a job takes an idle worker or starts a new one, so jobs never wait
 * for each other, and a few idle ones are kept, unref'd so they never hold the process open.
 * A worker whose job failed or was abandoned is terminated, never reused.
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
  type ToWorker,
} from './part-worker-protocol';

/** Input is sent in batches of about this size: database exports arrive in many small chunks. */
const BATCH_BYTES = 128 * 1024;
const MAX_IDLE = Math.max(2, availableParallelism());

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

function spawn(): Worker {
  const ext = extname(__filename);
  const file = join(__dirname, `part-worker${ext}`);
  // The chain holds at most a few MiB (zstd's window, the frames in flight): a small heap keeps
  // each worker's share of the process's peak memory small.
  const resourceLimits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 };
  if (ext === '.ts') return new Worker(TS_BOOTSTRAP, { eval: true, workerData: { file }, resourceLimits });
  return new Worker(file, { resourceLimits });
}

class PartWorkerPool {
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  /** Jobs handed to workers since the process started (tests check that a path used one). */
  jobs = 0;

  acquire(): Worker {
    this.jobs += 1;
    const w = this.idle.pop() ?? this.create();
    w.ref();
    return w;
  }

  release(w: Worker, reusable: boolean): void {
    if (reusable && this.all.has(w) && this.idle.length < MAX_IDLE) {
      w.unref();
      this.idle.push(w);
    } else {
      void w.terminate();
    }
  }

  /** Stops every worker, busy ones included (their streams fail). For shutdown, and for tests. */
  async terminateAll(): Promise<void> {
    const workers = [...this.all];
    this.idle.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  get size(): number {
    return this.all.size;
  }

  private create(): Worker {
    const w = spawn();
    this.all.add(w);
    // An idle worker's failure has no job to report to; it just leaves the pool.
    w.on('error', () => undefined);
    w.on('exit', () => {
      this.all.delete(w);
      const i = this.idle.indexOf(w);
      if (i !== -1) this.idle.splice(i, 1);
    });
    return w;
  }
}

export const partWorkers = new PartWorkerPool();

/**
 * The chain described by `spec`, running on a pooled worker. Errors from the chain come back
 * with their ArchiveError code; a worker that dies mid-job fails the stream. `digests` is set
 * before the readable side ends (write chains only).
 */
export class WorkerStages extends Duplex {
  digests: WriteDigests | null = null;
  private worker: Worker | null;
  private batch: Buffer[] = [];
  private batched = 0;
  private inFlight = 0;
  private blockedWrite: ((err?: Error | null) => void) | null = null;
  /** Output bytes pushed that are not yet acknowledged: sent when the reader asks for more. */
  private unacked = 0;
  private finished = false;

  constructor(spec: StagesSpec) {
    super();
    const w = partWorkers.acquire();
    this.worker = w;
    w.on('message', this.onMessage);
    w.on('error', this.onError);
    w.on('exit', this.onExit);
    this.send({ t: 'start', spec });
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
    this.send({ t: 'end' });
    done();
  }

  override _read(): void {
    if (this.unacked > 0) {
      const n = this.unacked;
      this.unacked = 0;
      this.send({ t: 'ack', n });
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    // Abandoned mid-job (the consumer failed or aborted): the worker's state is unknown, so it goes.
    this.detach(this.finished);
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
    this.send({ t: 'data', buf: view }, [transfer]);
  }

  private readonly onMessage = (msg: FromWorker): void => {
    switch (msg.t) {
      case 'data': {
        const n = msg.buf.byteLength;
        if (this.push(asBuffer(msg.buf))) this.send({ t: 'ack', n });
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
        this.detach(true);
        this.push(null);
        return;
      case 'error':
        this.detach(false);
        this.destroy(deserializeError(msg.error));
        return;
    }
  };

  private readonly onError = (err: Error): void => {
    this.detach(false);
    this.destroy(new Error(`part worker failed: ${err.message}`, { cause: err }));
  };

  private readonly onExit = (code: number): void => {
    this.worker = null;
    this.destroy(new Error(`part worker stopped unexpectedly (exit code ${code})`));
  };

  private detach(reusable: boolean): void {
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    w.off('message', this.onMessage);
    w.off('error', this.onError);
    w.off('exit', this.onExit);
    partWorkers.release(w, reusable);
  }
}
