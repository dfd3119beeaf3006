/**
 * Worker-thread entry: runs one part's transform chain (part-stages.ts) at a time for the main
 * thread, so compression, encryption and hashing use a core of their own while the main thread
 * talks to the database and to storage. Started by part-worker-pool.ts; see
 * part-worker-protocol.ts for the messages.
 */
import { pipeline, Writable, type Transform } from 'node:stream';
import { parentPort } from 'node:worker_threads';
import { buildStages } from './part-stages';
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

function send(msg: FromWorker, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(msg, transfer);
}

interface Job {
  head: Transform;
  /** Bytes sent to the main thread that it has not taken yet. */
  outstanding: number;
  /** The sink's write callback, held back while too much is outstanding. */
  blocked: (() => void) | null;
  failed: boolean;
}

let job: Job | null = null;

function start(spec: Extract<ToWorker, { t: 'start' }>['spec']): void {
  const { stages, digests } = buildStages(spec);
  const current: Job = { head: stages[0], outstanding: 0, blocked: null, failed: false };
  job = current;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const { view, transfer } = transferable(chunk);
      current.outstanding += view.byteLength;
      send({ t: 'data', buf: view }, [transfer]);
      if (current.outstanding <= IN_FLIGHT_BYTES) done();
      else current.blocked = done;
    },
  });
  pipeline([...stages, sink], (err) => {
    if (job === current) job = null;
    if (err) {
      current.failed = true;
      send({ t: 'error', error: serializeError(err) });
      return;
    }
    try {
      send({ t: 'done', digests: digests() });
    } catch (e) {
      send({ t: 'error', error: serializeError(e) });
    }
  });
}

port.on('message', (msg: ToWorker) => {
  switch (msg.t) {
    case 'start':
      start(msg.spec);
      return;
    case 'data': {
      const current = job;
      if (!current || current.failed) return;
      const n = msg.buf.byteLength;
      // Acknowledged once the first step has taken the bytes in: that is this side's backpressure.
      current.head.write(asBuffer(msg.buf), (err) => {
        if (!err) send({ t: 'ack', n });
      });
      return;
    }
    case 'end':
      job?.head.end();
      return;
    case 'ack': {
      const current = job;
      if (!current) return;
      current.outstanding -= msg.n;
      if (current.blocked && current.outstanding <= IN_FLIGHT_BYTES) {
        const go = current.blocked;
        current.blocked = null;
        go();
      }
      return;
    }
  }
});
