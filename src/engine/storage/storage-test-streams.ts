/**
 * Streams for storage tests: large random bodies that are generated as they are read (so the
 * test itself stays in bounded memory), bodies that fail or stall part-way, and a hashing sink.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 64 * 1024;

/** Random bytes of a given size; `sha256()` is available once the stream has ended. */
export function randomStream(size: number): Readable & { sha256(): string } {
  const hash = createHash('sha256');
  let remaining = size;
  let digest: string | undefined;
  const stream = new Readable({
    read() {
      if (remaining === 0) {
        digest = hash.digest('hex');
        this.push(null);
        return;
      }
      const chunk = randomBytes(Math.min(CHUNK, remaining));
      remaining -= chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
  return Object.assign(stream, {
    sha256(): string {
      if (digest === undefined) throw new Error('randomStream: sha256() called before the stream ended');
      return digest;
    },
  });
}

/** Emits `bytesBeforeError` random bytes, then fails with `message`. */
export function failingStream(bytesBeforeError: number, message: string): Readable {
  let sent = 0;
  return new Readable({
    read() {
      if (sent >= bytesBeforeError) {
        this.destroy(new Error(message));
        return;
      }
      const chunk = randomBytes(Math.min(CHUNK, bytesBeforeError - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
}

/**
 * Emits `bytesBeforeStall` bytes and then neither ends nor errors, like a slow database
 * export; `stalled` resolves once every byte has been handed out and the consumer asks for more.
 */
export function stallingStream(bytesBeforeStall: number): { stream: Readable; stalled: Promise<void> } {
  let sent = 0;
  let markStalled: () => void = () => undefined;
  const stalled = new Promise<void>((resolve) => (markStalled = resolve));
  const stream = new Readable({
    read() {
      if (sent >= bytesBeforeStall) {
        markStalled();
        return;
      }
      const chunk = randomBytes(Math.min(CHUNK, bytesBeforeStall - sent));
      sent += chunk.length;
      this.push(chunk);
    },
  });
  return { stream, stalled };
}

export function bufferStream(data: Buffer | string): Readable {
  return Readable.from([Buffer.from(data)]);
}

export async function sha256Of(stream: Readable): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
