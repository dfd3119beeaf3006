/**
 * The data path of every backup part: plaintext -> compression -> framed AEAD -> storage,
 * hashed on both sides on the way in, and every one of those checked on the way out.
 */
import { addAbortSignal, pipeline, Readable, Writable, type Transform } from 'node:stream';
import { pipeline as pipelineAsync } from 'node:stream/promises';
import { StorageNotFoundError, type BackupStorage } from '../storage/storage';
import { createCompressStream, createDecompressStream } from './compression';
import { DigestStream, VerifyingStream } from './digest-stream';
import { createDecryptStream, createEncryptStream, type KeyLookup } from './encryption';
import { ArchiveError, errorForPart } from './errors';
import type { Compression, Manifest, PartInfo } from './manifest.types';

export interface WritePartOptions {
  compression: Compression;
  /** Compression level; defaults to 1 for zstd and gzip. */
  level?: number;
  encryption?: { keyId: string; key: Buffer; frameSize?: number } | null;
  signal?: AbortSignal;
}

/** What a reader needs to know about how a backup's parts were written: its manifest has it. */
export type PartFormat = Pick<Manifest, 'compression' | 'encryption'>;

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
  const key = partKey(dir, name);
  // The source (a database export) failing shows up downstream as a storage write error too;
  // remembered here so the error names what actually failed.
  let sourceError: Error | null = null;
  source.once('error', (e: Error) => (sourceError ??= e));
  const raw = new DigestStream();
  const stored = new DigestStream();
  const stages: Array<Readable | Transform> = [source, raw, createCompressStream(opts.compression, opts.level)];
  if (opts.encryption) stages.push(createEncryptStream(opts.encryption));
  stages.push(stored);
  if (opts.signal) addAbortSignal(opts.signal, stored);

  const piped = new Promise<Error | null>((resolve) => {
    pipeline(stages, (err) => resolve(err ?? null));
  });
  try {
    const { size } = await storage.put(key, stored, { signal: opts.signal });
    const pipeError = await piped;
    if (pipeError) throw pipeError;
    const rawDigest = raw.digest();
    const storedDigest = stored.digest();
    if (size !== storedDigest.bytes) {
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
    if (sourceError && !opts.signal?.aborted) throw new PartSourceError(name, sourceError);
    throw err;
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

/**
 * Opens a part as verified plaintext. The stream errors (naming the part) instead of ending if
 * the stored size or SHA-256, any frame's authentication, the compressed data, or the plaintext
 * size or SHA-256 is not as recorded. Frames are authenticated before they are emitted; the
 * whole-part checks can only fail at the end, so consumers must treat an error as "discard
 * everything read" (restores do: they run in one transaction).
 */
export async function openPart(
  storage: BackupStorage,
  dir: string,
  part: PartInfo,
  format: PartFormat,
  keyring?: KeyLookup | null,
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
  const stages: Array<Readable | Transform> = [
    body,
    new VerifyingStream({ bytes: part.size, sha256: part.sha256 }, 'stored part'),
  ];
  if (format.encryption)
    stages.push(createDecryptStream(keyring as KeyLookup, { expectedKeyId: format.encryption.keyId }));
  stages.push(createDecompressStream(format.compression));
  stages.push(new VerifyingStream({ bytes: part.rawBytes, sha256: part.rawSha256 }, 'plaintext'));
  const last = pipeline(stages, () => undefined) as unknown as Readable;
  return Readable.from(relabelErrors(last, part.name), { objectMode: false });
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
    const stream = await openPart(storage, dir, part, format, keyring);
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
