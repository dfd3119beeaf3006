/**
 * Worker-thread entry: runs parts' transform chains (part-stages.ts) for the main thread, so
 * compression, encryption and hashing use a core of their own while the main thread talks to
 * the database and to storage. Started by part-worker-pool.ts; see part-worker-protocol.ts for
 * the messages. Jobs are independent: each has its own backpressure, and one failing or being
 * abandoned leaves the others running. A backup's PostgreSQL table can be a "sourced" job: the
 * worker reads the table's COPY itself (pg-copy-out.ts), so the main thread only stores the result.
 */
import { pipeline, Writable, type Readable, type Transform } from 'node:stream';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { buildStages } from './part-stages';
import { pacingStep, SharedPacer } from './pacing';
import { readCopyOnWorker, releaseCopySnapshot } from '../dialects/postgres/pg-copy-out';
import { readFileRange } from './file-range';
import { enableStageStats, outsideStages, stageStatsOn, threadStats } from './stage-stats';
import {
  asBuffer,
  IN_FLIGHT_BYTES,
  serializeError,
  transferable,
  type FromWorker,
  type SourcedJob,
  type ToWorker,
  type WorkerSource,
} from './part-worker-protocol';

const port = parentPort;
if (!port) throw new Error('part-worker.ts runs only as a worker thread');
const data = workerData as { stageStats?: boolean; nice?: number } | null;
enableStageStats(data?.stageStats === true);
lowerThreadPriority(data?.nice ?? 0);

/**
 * Linux schedules threads one by one, and setpriority() given a thread id changes that thread
 * only: this worker's, found through /proc/thread-self ("<pid>/task/<tid>"). Raising one's own
 * nice value needs no privilege. Elsewhere, or if anything fails, the thread keeps its priority.
 */
function lowerThreadPriority(nice: number): void {
  if (nice <= 0 || process.platform !== 'linux') return;
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // best effort: a thread that keeps its priority still works
  }
}

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

interface Job {
  /** The first step (fed by `data` messages), or the job's own source, which takes none. */
  head: Transform | Readable;
  sourced: boolean;
  /** Bytes sent to the main thread that it has not taken yet. */
  outstanding: number;
  /** The sink's write callback, held back while too much is outstanding. */
  blocked: (() => void) | null;
}

const jobs = new Map<number, Job>();

function start(id: number, spec: Extract<ToWorker, { t: 'start' }>['spec'], sourced?: SourcedJob): void {
  let built: ReturnType<typeof buildStages>;
  try {
    built = buildStages(spec);
  } catch (err) {
    send({ id, t: 'error', error: serializeError(err) });
    return;
  }
  const { stages, digests } = built;
  // A sourced job reads its data here: the source, then the backup's pacing, then the steps.
  const source = sourced ? openSource(sourced.source) : null;
  let sourceFailed = false;
  source?.stream.once('error', () => (sourceFailed = true));
  const pace = sourced?.pacing ? [pacingStep(new SharedPacer(sourced.pacing))] : [];
  const head = source ? source.stream : stages[0];
  const job: Job = { head, sourced: source !== null, outstanding: 0, blocked: null };
  jobs.set(id, job);
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const { view, transfer } = transferable(chunk);
      job.outstanding += view.byteLength;
      outsideStages(() => send({ id, t: 'data', buf: view }, [transfer]));
      if (job.outstanding <= IN_FLIGHT_BYTES) done();
      else job.blocked = done;
    },
  });
  const steps = source ? [source.stream, ...pace, ...stages, sink] : [...stages, sink];
  pipeline(steps, (err) => {
    // Gone from the map means the main thread abandoned the job: nobody to tell.
    if (!jobs.delete(id)) return;
    if (err) {
      send({ id, t: 'error', error: serializeError(err, sourceFailed) });
      return;
    }
    try {
      send({
        id,
        t: 'done',
        digests: digests(),
        ...(source?.rows ? { rows: source.rows() } : {}),
        ...(stageStatsOn() ? { stats: threadStats() } : {}),
      });
    } catch (e) {
      send({ id, t: 'error', error: serializeError(e) });
    }
  });
}

/** A sourced job's data; `rows` for a table's COPY, which counts what it read. */
function openSource(source: WorkerSource): { stream: Readable; rows?: () => number } {
  return source.kind === 'file-range' ? { stream: readFileRange(source) } : readCopyOnWorker(source);
}

port.on('message', (msg: ToWorker) => {
  if (msg.t === 'start') {
    start(msg.id, msg.spec, msg.sourced);
    return;
  }
  if (msg.t === 'release-snapshot') {
    releaseCopySnapshot(msg.snapshotId);
    return;
  }
  const job = jobs.get(msg.id);
  if (!job) return;
  switch (msg.t) {
    case 'data': {
      if (job.sourced) return;
      const n = msg.buf.byteLength;
      // Acknowledged once the first step has taken the bytes in: that is this side's backpressure.
      (job.head as Transform).write(asBuffer(msg.buf), (err) => {
        if (!err) send({ id: msg.id, t: 'ack', n });
      });
      return;
    }
    case 'end':
      if (!job.sourced) (job.head as Transform).end();
      return;
    case 'ack':
      job.outstanding -= msg.n;
      if (job.blocked && job.outstanding <= IN_FLIGHT_BYTES) {
        const go = job.blocked;
        job.blocked = null;
        go();
      }
      return;
    case 'abort':
      jobs.delete(msg.id);
      job.head.destroy();
      return;
  }
});
