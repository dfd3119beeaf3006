/**
 * The data path of every backup part: plaintext -> compression -> framed AEAD -> storage,
 * hashed on both sides on the way in, and every one of those checked on the way out. The
 * transforms (part-stages.ts) run on a worker thread (part-worker-pool.ts), so the CPU they
 * need overlaps with the database's and with the main thread's protocol work.
 */
import {
  addAbortSignal,
  pipeline,
  Readable,
  Transform,
  Writable,
  type Duplex,
  type TransformCallback,
} from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { availableParallelism } from 'node:os';
import { StorageNotFoundError, type BackupStorage } from '../storage/storage';
import type { KeyLookup } from './encryption';
import { ArchiveError, errorForPart } from './errors';
import { pacingStep, type Pacer } from './pacing';
import type { Compression, Manifest, PartInfo } from './manifest.types';
import { buildStages, type StagesSpec, type WriteDigests } from './part-stages';
import { partWorkers, WorkerStages } from './part-worker-pool';
import { WorkerSourceError, type WorkerSource } from './part-worker-protocol';

export interface WritePartOptions {
  compression: Compression;
  /** Compression level; defaults to 1 for zstd and gzip. */
  level?: number;
  /** zstd as independent frames of this many input bytes (CompressOptions.frameBytes). */
  frameBytes?: number;
  encryption?: { keyId: string; key: Buffer; frameSize?: number } | null;
  signal?: AbortSignal;
  /** Run the steps on the calling thread even where workers are on: a second lane beside a busy worker. */
  inline?: boolean;
  /** Asked before each chunk of the source moves on (see pacing.ts): lets API requests go first. */
  pacer?: Pacer | null;
}

/** What a reader needs to know about how a backup's parts were written: its manifest has it. */
export type PartFormat = Pick<Manifest, 'compression' | 'encryption'>;

/** Below this many stored bytes a part is read on the calling thread: a worker round trip would cost more than it saves. */
const INLINE_BELOW_BYTES = 256 * 1024;
/**
 * Where the part steps run. 'auto' (the default): writes on a worker; reads (restores,
 * verification) on a worker only with more than two cores. Measured on two (docs/benchmarks.md,
 * 2026-11-30): a `replace` restore took 19.0 s with the read steps on the pool's one worker and
 * 17.3 s on the main thread, because the database's two backends already want both cores and
 * the worker round trips only add CPU; a backup's main thread parses COPY while the worker
 * compresses, so writes gain. `true` puts both on workers, `false` neither.
 */
let partWorkersMode: boolean | 'auto' = 'auto';
const manyCores = availableParallelism() > 2;

/**
 * Sets where the part pipeline runs for this process (see partWorkersMode). The benchmark uses it
 * to show what the workers change; tests use it to run both paths on any machine.
 */
export function usePartWorkers(mode: boolean | 'auto'): void {
  partWorkersMode = mode;
}

function workersFor(kind: 'read' | 'write'): boolean {
  if (partWorkersMode !== 'auto') return partWorkersMode;
  return kind === 'write' || manyCores;
}

/** A part's steps, on a worker thread or, `inline`, on this one: same steps, same checks. */
function chain(
  spec: StagesSpec,
  inline: boolean,
): { steps: Array<Transform | Duplex>; digests(): WriteDigests | null } {
  if (inline) {
    const s = buildStages(spec);
    return { steps: s.stages, digests: s.digests };
  }
  const w = new WorkerStages(spec);
  return { steps: [w], digests: () => w.digests };
}

export function partKey(dir: string, name: string): string {
  const base = dir.replace(/\/+$/, '');
  return base === '' ? name : `${base}/${name}`;
}

/**
 * Streams `source` into `<dir>/<name>` and returns the part's description for the manifest.
 * If the source, a transform or storage fails, or `signal` aborts, nothing is left at the key.
 */
export async function writePart(
  storage: BackupStorage,
  dir: string,
  name: string,
  source: Readable,
  opts: WritePartOptions,
): Promise<PartInfo> {
  // The source (a database export) failing shows up downstream as a storage write error too;
  // remembered here so the error names what actually failed.
  let sourceError: Error | null = null;
  source.once('error', (e: Error) => (sourceError ??= e));
  // Compression, encryption and both digests, on a worker thread unless turned off.
  const work = chain(writeSpec(opts), !workersFor('write') || opts.inline === true);
  const pace = opts.pacer ? [pacingStep(opts.pacer)] : [];
  return storeSteps(storage, dir, name, [source, ...pace, ...work.steps], work.digests, opts, () => sourceError);
}

/** Starts a part worker now if writes will use one (PartWorkerPool.warm): called as a backup begins. */
export function warmPartWorkers(): void {
  if (workersFor('write')) partWorkers.warm();
}

/** Whether a part worker is running now (started by an earlier backup or a warm). */
export function partWorkersRunning(): boolean {
  return partWorkers.size > 0;
}

/**
 * Whether a backup's database reads can run on part workers (writeSourcedPart): where writes run
 * on workers at all (see partWorkersMode).
 */
export function sourcedPartsOn(): boolean {
  return workersFor('write');
}

/**
 * Like writePart, but a part worker reads the data itself from `source` (a PostgreSQL table's
 * COPY at the backup's snapshot, pg-copy-out.ts, or a range of a file, file-range.ts) and only
 * the stored bytes come back to this thread. Also returns the rows the worker read (a table's;
 * null for a file range). The pacer paces the worker's reads when it shares its state
 * (Pacer.shared).
 */
export async function writeSourcedPart(
  storage: BackupStorage,
  dir: string,
  name: string,
  source: WorkerSource,
  opts: WritePartOptions,
): Promise<{ part: PartInfo; rows: number | null }> {
  const work = new WorkerStages(writeSpec(opts), { source, pacing: opts.pacer?.shared ?? null });
  // Nothing is sent to the worker: its input side ends at once.
  work.end();
  let sourceError: Error | null = null;
  work.once('error', (e: Error) => {
    if (e instanceof WorkerSourceError) sourceError ??= e.cause as Error;
  });
  const part = await storeSteps(
    storage,
    dir,
    name,
    [work],
    () => work.digests,
    opts,
    () => sourceError,
  );
  if (source.kind === 'pg-copy' && work.rows === null)
    throw new Error(`the part worker finished ${name} without its row count`);
  return { part, rows: work.rows };
}

function writeSpec(opts: WritePartOptions): StagesSpec {
  return {
    kind: 'write',
    compression: opts.compression,
    level: opts.level,
    frameBytes: opts.frameBytes,
    encryption: opts.encryption ?? null,
  };
}

/** Runs `steps` into storage at the part's key and checks what arrived; on any failure removes the key. */
async function storeSteps(
  storage: BackupStorage,
  dir: string,
  name: string,
  steps: Array<Readable | Transform | Duplex>,
  digestsOf: () => WriteDigests | null,
  opts: WritePartOptions,
  sourceFailure: () => Error | null,
): Promise<PartInfo> {
  const key = partKey(dir, name);
  const stored = new ByteCounter();
  if (opts.signal) addAbortSignal(opts.signal, stored);
  const piped = new Promise<Error | null>((resolve) => {
    pipeline([...steps, stored], (err) => resolve(err ?? null));
  });
  try {
    const { size } = await storage.put(key, stored, { signal: opts.signal });
    const pipeError = await piped;
    if (pipeError) throw pipeError;
    const digests = digestsOf();
    if (!digests) throw new Error(`the part pipeline finished ${name} without its digests`);
    const { raw: rawDigest, stored: storedDigest } = digests;
    if (size !== storedDigest.bytes || stored.bytes !== storedDigest.bytes) {
      throw new ArchiveError(
        'size-mismatch',
        `storage reports ${size} bytes written, ${storedDigest.bytes} were sent`,
        name,
      );
    }
    return { name, size, sha256: storedDigest.sha256, rawBytes: rawDigest.bytes, rawSha256: rawDigest.sha256 };
  } catch (err) {
    stored.destroy();
    await piped;
    await storage.delete(key).catch(() => undefined);
    const sourceError = sourceFailure();
    if (sourceError && !opts.signal?.aborted) throw new PartSourceError(name, sourceError);
    throw err;
  }
}

/** Counts the stored bytes on their way to storage: the worker hashed them, this checks none went missing in between. */
class ByteCounter extends Transform {
  bytes = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

/** Reading the data of a part failed (not storage): the message says so and names the part. */
export class PartSourceError extends Error {
  constructor(
    readonly part: string,
    cause: Error,
  ) {
    super(`reading the data for ${part} failed (the source, not storage): ${cause.message}`, { cause });
    this.name = 'PartSourceError';
  }
}

async function* relabelErrors(source: Readable, part: string): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of source) yield chunk as Buffer;
  } catch (err) {
    throw errorForPart(err, part);
  }
}

export interface OpenPartOptions {
  /**
   * Check the plaintext's SHA-256 as well as its length (default true). The bulk readers of rows
   * (restores) turn it off: the stored bytes' SHA-256 already pins down every byte of the part,
   * so hashing the three times larger plaintext again only re-checks the same bytes; what it
   * would add, a check of the writer's compression, deep verification still does (verifyPart).
   * See ReadStagesSpec.plaintextSha256.
   */
  plaintextSha256?: boolean;
}

/**
 * Opens a part as verified plaintext. The stream errors (naming the part) instead of ending if
 * the stored size or SHA-256, any frame's authentication, the compressed data, or the plaintext
 * size or SHA-256 (unless turned off) is not as recorded. Frames are authenticated before they are emitted; the
 * whole-part checks can only fail at the end, so consumers must treat an error as "discard
 * everything read" (restores do: they run in one transaction).
 */
export async function openPart(
  storage: BackupStorage,
  dir: string,
  part: PartInfo,
  format: PartFormat,
  keyring?: KeyLookup | null,
  opts: OpenPartOptions = {},
): Promise<Readable> {
  const key = partKey(dir, part.name);
  if (format.encryption && !keyring) {
    throw new ArchiveError(
      'unknown-key',
      `backup is encrypted with key id "${format.encryption.keyId}" but no keyring is configured`,
      part.name,
    );
  }
  const info = await storage.stat(key);
  if (!info) throw new ArchiveError('missing-part', 'is missing from storage', part.name);
  if (info.size !== part.size) {
    throw new ArchiveError(
      'size-mismatch',
      `stored size is ${info.size} bytes, the manifest records ${part.size}`,
      part.name,
    );
  }
  let body: Readable;
  try {
    body = await storage.get(key);
  } catch (err) {
    if (err instanceof StorageNotFoundError)
      throw new ArchiveError('missing-part', 'is missing from storage', part.name);
    throw err;
  }
  // Hash checks, decryption and decompression, on a worker thread for all but small parts. Only
  // the key the manifest names goes to it; the decrypt step reports a missing or different key
  // exactly as it would here.
  const expectedKeyId = format.encryption?.keyId;
  const secret = expectedKeyId === undefined ? undefined : (keyring as KeyLookup).get(expectedKeyId);
  const work = chain(
    {
      kind: 'read',
      compression: format.compression,
      stored: { bytes: part.size, sha256: part.sha256 },
      plaintext: { bytes: part.rawBytes, sha256: part.rawSha256 },
      plaintextSha256: opts.plaintextSha256 !== false,
      encryption: expectedKeyId === undefined ? null : { expectedKeyId, keys: secret ? [[expectedKeyId, secret]] : [] },
    },
    !workersFor('read') || part.size < INLINE_BELOW_BYTES,
  );
  const last = pipeline([body, ...work.steps], () => undefined) as unknown as Readable;
  const out = Readable.from(relabelErrors(last, part.name), { objectMode: false });
  // Destroying `out` before its first read ends the generator without running it, which would
  // leave the pipeline and the storage stream (an open file, an HTTP body) open until collected.
  out.once('close', () => last.destroy());
  return out;
}

export interface PartCheck {
  ok: boolean;
  detail: string;
  code?: ArchiveError['code'];
}

/** Reads every byte of a part through every check; never throws for a bad part. */
export async function verifyPart(
  storage: BackupStorage,
  dir: string,
  part: PartInfo,
  format: PartFormat,
  keyring?: KeyLookup | null,
): Promise<PartCheck> {
  try {
    // Every check, the plaintext's SHA-256 included: this is the end-to-end proof of the writer too.
    const stream = await openPart(storage, dir, part, format, keyring, { plaintextSha256: true });
    await pipelineAsync(stream, new Writable({ write: (_chunk, _enc, done) => done() }));
    return {
      ok: true,
      detail: `${part.name}: ${part.size} stored bytes and ${part.rawBytes} plaintext bytes verified`,
    };
  } catch (err) {
    if (err instanceof ArchiveError) return { ok: false, detail: err.message, code: err.code };
    return { ok: false, detail: `${part.name}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
