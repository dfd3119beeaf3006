import { Injectable } from '@nestjs/common';

/**
 * One background verification at a time in this process: the rolling verifier's copies and
 * the restore drill queue behind each other instead of competing for the disk, the link to
 * the storage and the CPU (decompression, decryption, hashing) that backups and restores need.
 */
@Injectable()
export class VerificationGate {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.tail.then(work, work);
    // The next caller waits for this one whatever its outcome.
    this.tail = turn.catch(() => undefined);
    return turn;
  }
}
