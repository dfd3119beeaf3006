/**
 * Backup storage in an S3-compatible bucket, optionally under a key prefix.
 *
 * Uploads stream through lib-storage's multipart Upload, so memory is bounded by
 * partSize × queueSize whatever the object size. A single PUT or a completed multipart upload
 * is atomic in S3, which gives put() its all-or-nothing contract; on failure the multipart
 * upload is aborted here (not by lib-storage) so the original error is what the caller sees.
 */
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { StorageNotFoundError, type BackupStorage, type StoredObject } from './storage';
import { checkPrefix, compareKeys, directoryPrefix, parseKey } from './storage-keys';

export interface S3StorageOptions {
  bucket: string;
  /** Keys live under this prefix; a trailing '/' is implied. */
  prefix?: string;
  region?: string;
  /** For S3-compatible services (MinIO, s3rver, ...); AWS itself needs none. */
  endpoint?: string;
  forcePathStyle?: boolean;
  /** When both are absent the SDK's default credential chain applies (env, profile, IAM role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Multipart part size in bytes; S3 requires at least 5 MiB. Default 8 MiB. */
  partSize?: number;
  /** Parts uploaded concurrently; memory use is about partSize × (queueSize + 1). Default 4. */
  queueSize?: number;
  /**
   * 'when_required' (default) sends checksums only where S3 demands them. The SDK's newer
   * default ('when_supported') sends aws-chunked trailing CRC32s that many S3-compatible
   * servers (s3rver, older MinIO/Ceph) store verbatim or reject. Integrity does not depend on
   * it: every part's SHA-256 is in the backup manifest and verified on restore.
   */
  checksums?: 'when_required' | 'when_supported';
}

const DEFAULT_PART_SIZE = 8 * 1024 * 1024;
const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_QUEUE_SIZE = 4;
/** S3's limit for one DeleteObjects request. */
const DELETE_BATCH = 1000;

export class S3StorageError extends Error {
  constructor(
    message: string,
    readonly key: string,
    /** The S3 error name (e.g. NoSuchBucket, AccessDenied), when S3 gave one. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'S3StorageError';
  }
}

interface SdkError {
  name?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
}

function asSdkError(err: unknown): SdkError {
  return typeof err === 'object' && err !== null ? (err as SdkError) : { message: String(err) };
}

function isNotFound(err: unknown): boolean {
  const e = asSdkError(err);
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

export class S3Storage implements BackupStorage {
  readonly kind = 's3';
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly secrets: string[];

  constructor(options: S3StorageOptions) {
    if (!options.bucket) throw new Error('s3 storage: bucket is not set');
    this.bucket = options.bucket;
    this.prefix = options.prefix && options.prefix.replace(/\/+$/, '') !== '' ? directoryPrefix(options.prefix) : '';
    this.partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (!Number.isInteger(this.partSize) || this.partSize < MIN_PART_SIZE) {
      throw new Error(
        `s3 storage: partSize must be an integer of at least ${MIN_PART_SIZE} bytes (5 MiB), got ${options.partSize}`,
      );
    }
    this.queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
    if (!Number.isInteger(this.queueSize) || this.queueSize < 1) {
      throw new Error(`s3 storage: queueSize must be a positive integer, got ${options.queueSize}`);
    }
    if (Boolean(options.accessKeyId) !== Boolean(options.secretAccessKey)) {
      throw new Error(
        's3 storage: set both accessKeyId and secretAccessKey, or neither (to use the default credential chain)',
      );
    }
    this.secrets = [options.accessKeyId, options.secretAccessKey, options.sessionToken].filter(
      (s): s is string => typeof s === 'string' && s.length > 0,
    );
    const checksums = options.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
    const config: S3ClientConfig = {
      region: options.region ?? 'us-east-1',
      forcePathStyle: options.forcePathStyle ?? false,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
    };
    if (options.endpoint) config.endpoint = options.endpoint;
    if (options.accessKeyId && options.secretAccessKey) {
      config.credentials = {
        accessKeyId: options.accessKeyId,
        secretAccessKey: options.secretAccessKey,
        ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
      };
    }
    this.client = new S3Client(config);
    const where = options.endpoint ? ` at ${safeEndpoint(options.endpoint)}` : '';
    this.location = `s3://${this.bucket}/${this.prefix}${where}`;
  }

  async put(key: string, body: Readable, opts: { signal?: AbortSignal } = {}): Promise<{ size: number }> {
    parseKey(key);
    const { signal } = opts;
    if (signal?.aborted) {
      body.destroy();
      throw this.abortError(key, signal);
    }
    let size = 0;
    // Counting happens as lib-storage pulls, so the source keeps its own backpressure.
    const counted = Readable.from(
      (async function* () {
        for await (const chunk of body) {
          const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
          size += buf.length;
          yield buf;
        }
      })(),
    );
    // Aborting ends the source rather than calling Upload.abort(): that one rejects at once while
    // parts are still in flight, so the object could still appear after put() has failed.
    const onAbort = () => body.destroy(this.abortError(key, signal as AbortSignal));
    signal?.addEventListener('abort', onAbort, { once: true });
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: counted },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: true,
    });
    try {
      await upload.done();
      return { size };
    } catch (err) {
      const abortNote = await this.abortMultipart(key, upload.uploadId);
      if (signal?.aborted) throw this.abortError(key, signal);
      throw this.wrap(err, key, 'write', abortNote);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!body.destroyed) body.destroy();
    }
  }

  async get(key: string): Promise<Readable> {
    parseKey(key);
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      const stream = out.Body;
      if (stream instanceof Readable) return stream;
      throw new Error('response body is not a Node.js stream');
    } catch (err) {
      if (isNotFound(err)) throw new StorageNotFoundError(key);
      throw this.wrap(err, key, 'read');
    }
  }

  async stat(key: string): Promise<StoredObject | null> {
    parseKey(key);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, size: out.ContentLength ?? 0, modifiedAt: out.LastModified ?? new Date(0) };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw this.wrap(err, key, 'stat');
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    checkPrefix(prefix);
    const result: StoredObject[] = [];
    try {
      for await (const page of this.pages(prefix)) {
        for (const obj of page) {
          const key = obj.Key.slice(this.prefix.length);
          // Zero-byte "folder" markers made by consoles are not objects of ours.
          if (key === '' || key.endsWith('/')) continue;
          result.push({ key, size: obj.Size ?? 0, modifiedAt: obj.LastModified ?? new Date(0) });
        }
      }
    } catch (err) {
      throw this.wrap(err, prefix, 'list');
    }
    return result.sort((a, b) => compareKeys(a.key, b.key));
  }

  async delete(key: string): Promise<void> {
    parseKey(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (isNotFound(err)) return;
      throw this.wrap(err, key, 'delete');
    }
  }

  async deletePrefix(prefix: string): Promise<void> {
    const dir = directoryPrefix(prefix);
    try {
      // Page by page, so a huge backup never needs all its keys in memory.
      for await (const page of this.pages(dir)) {
        for (let i = 0; i < page.length; i += DELETE_BATCH) {
          const batch = page.slice(i, i + DELETE_BATCH).map((o) => ({ Key: o.Key }));
          const out = await this.client.send(
            new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch, Quiet: true } }),
          );
          const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
          if (failed.length > 0) {
            const first = failed[0];
            throw new S3StorageError(
              `s3 storage: failed to delete ${failed.length} object(s) under "${prefix}" in ${this.location}; first: "${first.Key}": ${first.Code} ${first.Message ?? ''}`.trim(),
              prefix,
              first.Code,
            );
          }
        }
      }
    } catch (err) {
      throw this.wrap(err, prefix, 'delete prefix');
    }
  }

  async check(): Promise<void> {
    try {
      // ListObjectsV2 needs only s3:ListBucket, which a prefix-scoped policy grants; HeadBucket
      // can be denied by such policies even though the store is perfectly usable.
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
    } catch (err) {
      throw this.wrap(err, '', 'reach');
    }
  }

  /** Releases the HTTP agent's sockets; call when the storage is no longer used. */
  destroy(): void {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    return this.prefix + key;
  }

  private async *pages(prefix: string): AsyncGenerator<{ Key: string; Size?: number; LastModified?: Date }[]> {
    let token: string | undefined;
    do {
      const out = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
      );
      yield (out.Contents ?? []).filter((o): o is typeof o & { Key: string } => typeof o.Key === 'string');
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
  }

  /** Returns a note for the error message when the abort itself failed; parts would linger. */
  private async abortMultipart(key: string, uploadId: string | undefined): Promise<string> {
    if (!uploadId) return '';
    try {
      await this.client.send(
        new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.objectKey(key), UploadId: uploadId }),
      );
      return '';
    } catch (err) {
      const e = asSdkError(err);
      return `; aborting multipart upload ${uploadId} also failed (${e.name ?? 'Error'}: ${this.redact(e.message ?? '')}), its parts may remain until a bucket lifecycle rule removes them`;
    }
  }

  private abortError(key: string, signal: AbortSignal): S3StorageError {
    const err = new S3StorageError(`s3 storage: write of "${key}" to ${this.location} was aborted`, key);
    err.name = 'AbortError';
    if (signal.reason !== undefined) Object.assign(err, { cause: signal.reason as unknown });
    return err;
  }

  /**
   * SDK errors carry the signed request in their metadata, so they are not attached as a cause;
   * only their name, status and (redacted) message travel on.
   */
  private wrap(err: unknown, key: string, action: string, note = ''): Error {
    if (err instanceof S3StorageError || err instanceof StorageNotFoundError) return err;
    const e = asSdkError(err);
    const status = e.$metadata?.httpStatusCode ? ` (HTTP ${e.$metadata.httpStatusCode})` : '';
    const what = key === '' ? '' : ` "${key}"`;
    return new S3StorageError(
      `s3 storage: failed to ${action}${what} in ${this.location}: ${e.name ?? 'Error'}${status}: ${this.redact(e.message ?? '')}${note}`,
      key,
      e.name,
    );
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join('[redacted]');
    return out;
  }
}

/** The endpoint as shown in status output: no userinfo, which could hold credentials. */
function safeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint);
    url.username = '';
    url.password = '';
    return url.toString().replace(/\/$/, '');
  } catch {
    return '(invalid endpoint URL)';
  }
}
