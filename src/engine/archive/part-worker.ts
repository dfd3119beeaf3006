/**
 * Worker-thread entry: runs parts' transform chains (part-stages.ts) for the main thread, so
 * compression, encryption and hashing use a core of their own while the main thread talks to
 * the database and to storage. Started by part-worker-pool.ts; see part-worker-protocol.ts for
 * the messages. Jobs are independent: each has its own backpressure, and one failing or being
 * abandoned leaves the others running.
 */
import { pipeline, Writable, type Transform } from 'node:stream';
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { buildStages } from './part-stages';
import { enableStageStats, outsideStages, stageStatsOn, threadStats } from './stage-stats';
import {
  asBuffer,
  IN_FLIGHT_BYTES,
  serializeError,
  transferable,
  type FromWorker,
  type ToWorker,
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
  head: Transform;
  /** Bytes sent to the main thread that it has not taken yet. */
  outstanding: number;
  /** The sink's write callback, held back while too much is outstanding. */
  blocked: (() => void) | null;
}

const jobs = new Map<number, Job>();

function start(id: number, spec: Extract<ToWorker, { t: 'start' }>['spec']): void {
  let built: ReturnType<typeof buildStages>;
  try {
    built = buildStages(spec);
  } catch (err) {
    send({ id, t: 'error', error: serializeError(err) });
    return;
  }
  const { stages, digests } = built;
  const job: Job = { head: stages[0], outstanding: 0, blocked: null };
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
  pipeline([...stages, sink], (err) => {
    // Gone from the map means the main thread abandoned the job: nobody to tell.
    if (!jobs.delete(id)) return;
    if (err) {
      send({ id, t: 'error', error: serializeError(err) });
      return;
    }
    try {
      send({ id, t: 'done', digests: digests(), ...(stageStatsOn() ? { stats: threadStats() } : {}) });
    } catch (e) {
      send({ id, t: 'error', error: serializeError(e) });
    }
  });
}

port.on('message', (msg: ToWorker) => {
  if (msg.t === 'start') {
    start(msg.id, msg.spec);
    return;
  }
  const job = jobs.get(msg.id);
  if (!job) return;
  switch (msg.t) {
    case 'data': {
      const n = msg.buf.byteLength;
      // Acknowledged once the first step has taken the bytes in: that is this side's backpressure.
      job.head.write(asBuffer(msg.buf), (err) => {
        if (!err) send({ id: msg.id, t: 'ack', n });
      });
      return;
    }
    case 'end':
      job.head.end();
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
