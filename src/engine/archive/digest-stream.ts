/**
 * Pass-through steps that count and hash bytes on their way: used on the plaintext side and
 * the stored side of every part, when writing (to record) and when reading (to check).
 */
import { createHash, type Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArchiveError } from './errors';

export interface Digest {
  bytes: number;
  sha256: string;
}

export class DigestStream extends Transform {
  private readonly hash: Hash = createHash('sha256');
  private count = 0;
  private result: Digest | null = null;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.count += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.result = { bytes: this.count, sha256: this.hash.digest('hex') };
    done();
  }

  /** Bytes seen so far; available at any time. */
  get bytes(): number {
    return this.count;
  }

  /** The final count and SHA-256; only once every byte went through. */
  digest(): Digest {
    if (!this.result) throw new Error('DigestStream.digest() called before the stream finished');
    return this.result;
  }
}

/**
 * Passes bytes through and fails instead of ending when the count or SHA-256 differs from what
 * was recorded. It also fails as soon as more bytes than expected arrive, so a hostile input
 * cannot stream on forever. `hash: false` checks the count only: for bytes that another check
 * already pins down (see ReadStagesSpec.plaintextSha256).
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash | null;
  private count = 0;

  constructor(
    private readonly expected: Digest,
    private readonly what: string,
    opts: { hash?: boolean } = {},
  ) {
    super();
    this.hash = opts.hash === false ? null : createHash('sha256');
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.count += chunk.length;
    if (this.count > this.expected.bytes) {
      done(new ArchiveError('size-mismatch', `${this.what} is larger than the ${this.expected.bytes} bytes recorded`));
      return;
    }
    this.hash?.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.count !== this.expected.bytes) {
      done(new ArchiveError('size-mismatch', `${this.what} has ${this.count} bytes, ${this.expected.bytes} recorded`));
      return;
    }
    if (!this.hash) {
      done();
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== this.expected.sha256.toLowerCase()) {
      done(
        new ArchiveError('checksum-mismatch', `${this.what} SHA-256 is ${actual}, ${this.expected.sha256} recorded`),
      );
      return;
    }
    done();
  }
}
