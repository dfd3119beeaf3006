/**
 * Messages between the main thread and a part worker (part-worker.ts, part-worker-pool.ts).
 * A worker runs several jobs at once, each named by `id`: `start`, then `data`... `end` in
 * (or `abort`); `data`... then `done` or `error` out. Each side acknowledges the bytes it has taken in, and a side with more than
 * IN_FLIGHT_BYTES unacknowledged stops sending: memory per job stays bounded whichever side is slower.
 */
import { ArchiveError, type ArchiveErrorCode } from './errors';
import type { StagesSpec, WriteDigests } from './part-stages';
import type { ThreadStats } from './stage-stats';
import type { PgCopySource } from '../dialects/postgres/pg-copy-out';
import type { FileRangeSource } from './file-range';

/** What a worker can read itself: a PostgreSQL table's COPY, or a range of a file. */
export type WorkerSource = PgCopySource | FileRangeSource;

/**
 * Data a worker reads itself instead of receiving it from the main thread (see pg-copy-out.ts
 * and file-range.ts for why): a job started with one takes no `data` or `end` messages and, for
 * a table, reports the rows it read in `done`. `pacing`: the backup's shared pacing state
 * (pacing.ts), if any.
 */
export interface SourcedJob {
  source: WorkerSource;
  pacing: SharedArrayBuffer | null;
}

export const IN_FLIGHT_BYTES = 1024 * 1024;

export type ToWorker = { id: number } & (
  | { t: 'start'; spec: StagesSpec; sourced?: SourcedJob }
  | { t: 'data'; buf: Uint8Array }
  | { t: 'end' }
  | { t: 'ack'; n: number }
  | { t: 'abort' }
  /** Not about a job (id 0): a backup closed its snapshot, so its connections on the worker end. */
  | { t: 'release-snapshot'; snapshotId: string }
);

export type FromWorker = { id: number } & (
  | { t: 'data'; buf: Uint8Array }
  | { t: 'ack'; n: number }
  /** `stats`: the worker's cumulative stage totals, only when STRONGROOM_STAGE_STATS is on. */
  | { t: 'done'; digests: WriteDigests | null; stats?: ThreadStats; rows?: number }
  | { t: 'error'; error: SerializedError }
);

export interface SerializedError {
  name: string;
  message: string;
  /** ArchiveError's code, or a Node error code such as zlib's Z_DATA_ERROR (errorForPart reads it). */
  code?: string;
  archive: boolean;
  part?: string;
  /** The job's own source (a sourced job's database read) failed, not the steps. */
  source?: boolean;
}

export function serializeError(err: unknown, fromSource = false): SerializedError {
  if (err instanceof ArchiveError) {
    const bare = err.part ? err.message.slice(err.part.length + 2) : err.message;
    return { name: err.name, message: bare, code: err.code, archive: true, part: err.part };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  return {
    name: e.name,
    message: e.message,
    code: typeof code === 'string' ? code : undefined,
    archive: false,
    ...(fromSource ? { source: true } : {}),
  };
}

/** The same error on this side of the boundary: an ArchiveError keeps its code, so callers classify it as before. */
export function deserializeError(s: SerializedError): Error {
  if (s.archive) return new ArchiveError(s.code as ArchiveErrorCode, s.message, s.part);
  const err = new Error(s.message) as Error & { code?: string };
  err.name = s.name;
  if (s.code !== undefined) err.code = s.code;
  return s.source ? new WorkerSourceError(err) : err;
}

/**
 * A buffer whose memory can be handed over (transferred) without a copy: only one that is the
 * whole of its ArrayBuffer and not from Node's shared pool. Anything else is copied once, so a
 * producer that keeps writing into its buffer (zlib does) never sees it vanish.
 */
export function transferable(buf: Buffer): { view: Uint8Array; transfer: ArrayBuffer } {
  const ab = buf.buffer;
  if (ab instanceof ArrayBuffer && buf.byteOffset === 0 && buf.byteLength === ab.byteLength && ab.byteLength > 4096) {
    return { view: buf, transfer: ab };
  }
  const copy = Buffer.allocUnsafeSlow(buf.length);
  buf.copy(copy);
  return { view: copy, transfer: copy.buffer as ArrayBuffer };
}

export function asBuffer(view: Uint8Array): Buffer {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}

/** A sourced job's own read failed (the database, not the steps or storage): part-io names it so. */
export class WorkerSourceError extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
    this.name = 'WorkerSourceError';
  }
}
