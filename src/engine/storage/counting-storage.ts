/**
 * A view of a storage that reports every byte read through it, so a restore can say how much
 * of the backup it has read (progress in bytes) without the engine knowing about progress.
 */
import { Transform } from 'node:stream';
import type { BackupStorage } from './storage';
import { ReadViewStorage } from './read-view-storage';

export class CountingStorage extends ReadViewStorage {
  constructor(
    inner: BackupStorage,
    private readonly onRead: (bytes: number) => void,
  ) {
    super(inner);
  }

  protected readStep(): Transform {
    const onRead = this.onRead;
    return new Transform({
      transform(chunk: Buffer, _enc, done) {
        onRead(chunk.length);
        done(null, chunk);
      },
    });
  }
}
