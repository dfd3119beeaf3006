/**
 * A view of a storage that passes every read through a step of its own (counting, pacing) and
 * everything else straight to the storage underneath. Subclasses supply the step.
 */
import type { Readable, Transform } from 'node:stream';
import type { BackupStorage, StoredObject } from './storage';

export abstract class ReadViewStorage implements BackupStorage {
  constructor(protected readonly inner: BackupStorage) {}

  /** A fresh transform for one read; it sees every chunk read, in order. */
  protected abstract readStep(): Transform;

  get kind(): string {
    return this.inner.kind;
  }

  get location(): string {
    return this.inner.location;
  }

  put(key: string, body: Readable, opts?: { signal?: AbortSignal }): Promise<{ size: number }> {
    return this.inner.put(key, body, opts);
  }

  async get(key: string): Promise<Readable> {
    const source = await this.inner.get(key);
    const step = this.readStep();
    // Errors of the source reach the reader; destroying the reader releases the source.
    source.once('error', (e) => step.destroy(e));
    step.once('close', () => source.destroy());
    return source.pipe(step);
  }

  stat(key: string): Promise<StoredObject | null> {
    return this.inner.stat(key);
  }

  list(prefix: string): Promise<StoredObject[]> {
    return this.inner.list(prefix);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }

  deletePrefix(prefix: string): Promise<void> {
    return this.inner.deletePrefix(prefix);
  }

  check(): Promise<void> {
    return this.inner.check();
  }
}
