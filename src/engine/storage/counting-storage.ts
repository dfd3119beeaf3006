/**
 * A view of a storage that reports every byte read through it, so a restore can say how much
 * of the backup it has read (progress in bytes) without the engine knowing about progress.
 */
import { Transform, type Readable } from 'node:stream';
import type { BackupStorage, StoredObject } from './storage';

export class CountingStorage implements BackupStorage {
  constructor(
    private readonly inner: BackupStorage,
    private readonly onRead: (bytes: number) => void,
  ) {}

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
    const onRead = this.onRead;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        onRead(chunk.length);
        done(null, chunk);
      },
    });
    // Errors of the source reach the reader; destroying the reader releases the source.
    source.once('error', (e) => counter.destroy(e));
    counter.once('close', () => source.destroy());
    return source.pipe(counter);
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
