import { Transform } from 'node:stream';

/**
 * Lets background data work (a backup's rows on their way to storage) give way to foreground
 * work (API requests) without stopping. `wait()` answers null when the data may flow now, or a
 * promise that resolves when it may flow again; the implementation bounds every wait, so a
 * busy API slows a backup down but never stalls it.
 */
export interface Pacer {
  wait(): Promise<void> | null;
}

/**
 * A pass-through step that asks the pacer before handing each chunk on. While it waits, stream
 * backpressure pauses the source: for a PostgreSQL export that is the COPY socket, so the
 * server's COPY backend blocks too and leaves the CPU to the catalog's queries.
 */
export function pacingStep(pacer: Pacer): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const wait = pacer.wait();
      if (!wait) return cb(null, chunk);
      wait.then(
        () => cb(null, chunk),
        (err: Error) => cb(err),
      );
    },
  });
}
