/**
 * Where backup parts live. Keys are relative POSIX paths such as
 * `backups/<id>/parts/0001.rows`. Implementations: a local directory and an
 * S3-compatible object store; both pass the same conformance tests.
 */
import type { Readable } from 'node:stream';

export interface StoredObject {
  key: string;
  size: number;
  modifiedAt: Date;
}

export class StorageNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`storage object not found: ${key}`);
    this.name = 'StorageNotFoundError';
  }
}

export interface BackupStorage {
  /** 'local' or 's3', for status output and logs. */
  readonly kind: string;
  /** Human-readable location (directory or bucket/prefix); never contains credentials. */
  readonly location: string;

  /**
   * Streams `body` to `key`. Atomic: the object is visible under `key` only once the whole
   * stream was written (and, on local disk, fsynced); a failed or aborted write leaves no
   * object at `key`. Rejects if `body` errors. Overwrites an existing object.
   */
  put(key: string, body: Readable, opts?: { signal?: AbortSignal }): Promise<{ size: number }>;

  /** Reads an object as a stream. Rejects with StorageNotFoundError when absent. */
  get(key: string): Promise<Readable>;

  /** Size and time of an object, or null when absent. */
  stat(key: string): Promise<StoredObject | null>;

  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;

  /** Removes one object; absent objects are not an error. */
  delete(key: string): Promise<void>;

  /** Removes every object under `prefix` (a "directory"); absent is not an error. */
  deletePrefix(prefix: string): Promise<void>;

  /** Cheap reachability check for health endpoints: throws when storage is unusable. */
  check(): Promise<void>;
}
