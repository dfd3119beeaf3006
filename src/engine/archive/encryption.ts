/**
 * Framed AES-256-GCM for backup parts (the STREAM construction).
 *
 * Layout: header, then frames. Every frame but the last holds exactly `frameSize` plaintext
 * bytes; the last holds 0..frameSize. Each frame is ciphertext followed by a 16-byte tag.
 *
 *   header = "SRENC1" | u8 version | u32be frameSize | u8 idLen | keyId | salt[16] | prefix[7]
 *   frame key = HKDF-SHA256(master key, salt, "strongroom part frames v1")
 *   nonce(i)  = prefix[7] | u32be(i) | u8(last ? 1 : 0)
 *   AAD       = the whole header
 *
 * The per-part key means nonces never repeat across parts whatever the random prefixes do; the
 * index and last flag in the nonce catch reordering, dropped frames and truncation at a frame
 * boundary; the header as AAD catches edits to it and splicing between parts.
 */
import { createCipheriv, createDecipheriv, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { ArchiveError } from './errors';
import { KEY_BYTES } from './keyring';

const ENCRYPTION_MAGIC = Buffer.from('SRENC1', 'ascii');
const ENCRYPTION_VERSION = 1;
export const DEFAULT_FRAME_SIZE = 64 * 1024;
const MIN_FRAME_SIZE = 16;
const MAX_FRAME_SIZE = 16 * 1024 * 1024;
const TAG_BYTES = 16;
const SALT_BYTES = 16;
const PREFIX_BYTES = 7;
const MAX_FRAMES = 2 ** 32;
const HKDF_INFO = Buffer.from('strongroom part frames v1', 'ascii');
const FIXED_HEADER = ENCRYPTION_MAGIC.length + 1 + 4 + 1;

export interface EncryptOptions {
  keyId: string;
  key: Buffer;
  frameSize?: number;
}

/** Looks a key up by id; a Keyring satisfies it. */
export interface KeyLookup {
  get(id: string): Buffer | undefined;
}

export interface DecryptOptions {
  /** When set, the part must have been encrypted under this key id (the manifest's). */
  expectedKeyId?: string;
}

interface Header {
  bytes: Buffer;
  frameSize: number;
  keyId: string;
  salt: Buffer;
  prefix: Buffer;
}

function assertFrameSize(frameSize: number): void {
  if (!Number.isInteger(frameSize) || frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) {
    throw new RangeError(`frame size must be an integer from ${MIN_FRAME_SIZE} to ${MAX_FRAME_SIZE}, got ${frameSize}`);
  }
}

/**
 * The part's frame key, as a KeyObject: every frame makes a cipher of its own, and a raw Buffer
 * key would be turned into a key object again for each one.
 */
function frameKey(master: Buffer, salt: Buffer): KeyObject {
  return createSecretKey(Buffer.from(hkdfSync('sha256', master, salt, HKDF_INFO, KEY_BYTES)));
}

function nonce(prefix: Buffer, index: number, last: boolean): Buffer {
  const n = Buffer.allocUnsafe(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(index, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
}

function buildHeader(keyId: string, frameSize: number): Header {
  const id = Buffer.from(keyId, 'utf8');
  if (id.length === 0 || id.length > 255) throw new RangeError(`key id must be 1-255 bytes, got ${id.length}`);
  const salt = randomBytes(SALT_BYTES);
  const prefix = randomBytes(PREFIX_BYTES);
  const fixed = Buffer.alloc(FIXED_HEADER);
  ENCRYPTION_MAGIC.copy(fixed, 0);
  fixed[ENCRYPTION_MAGIC.length] = ENCRYPTION_VERSION;
  fixed.writeUInt32BE(frameSize, ENCRYPTION_MAGIC.length + 1);
  fixed[FIXED_HEADER - 1] = id.length;
  return { bytes: Buffer.concat([fixed, id, salt, prefix]), frameSize, keyId, salt, prefix };
}

export class EncryptStream extends Transform {
  private readonly header: Header;
  private readonly key: KeyObject;
  private readonly plain: Buffer;
  private filled = 0;
  private index = 0;
  private headerSent = false;
  /** Sealed frames of the current input chunk, pushed together at its end. */
  private sealed: Buffer[] = [];

  constructor(opts: EncryptOptions) {
    super();
    const frameSize = opts.frameSize ?? DEFAULT_FRAME_SIZE;
    assertFrameSize(frameSize);
    if (opts.key.length !== KEY_BYTES)
      throw new RangeError(`encryption key "${opts.keyId}" must be ${KEY_BYTES} bytes`);
    this.header = buildHeader(opts.keyId, frameSize);
    this.key = frameKey(opts.key, this.header.salt);
    this.plain = Buffer.allocUnsafe(frameSize);
  }

  /**
   * Whole frames are sealed straight from the chunk, without a copy into the frame buffer, and
   * everything one chunk seals is pushed as one buffer. Why: a fresh buffer per frame (its
   * ciphertext and tag joined) cost about as much as the AES itself. Measured on one core of the
   * benchmark machine (2026-12-01), 256 MiB through this stream in 128 KiB chunks, best of five,
   * alternating processes: about 910 MB/s before, 1,290 MB/s after.
   */
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.sendHeader();
      const size = this.plain.length;
      let offset = 0;
      while (offset < chunk.length) {
        // A full frame is sealed only once a further byte shows it is not the last one.
        if (this.filled === size) this.seal(this.plain, false);
        if (this.filled === 0 && chunk.length - offset > size) {
          this.seal(chunk.subarray(offset, offset + size), false);
          offset += size;
          continue;
        }
        const n = chunk.copy(this.plain, this.filled, offset);
        this.filled += n;
        offset += n;
      }
      this.pushSealed();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.sendHeader();
      this.seal(this.plain.subarray(0, this.filled), true);
      this.pushSealed();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  private sendHeader(): void {
    if (this.headerSent) return;
    this.headerSent = true;
    this.push(this.header.bytes);
  }

  /** Seals one frame's plaintext (the frame buffer, or a whole frame of the input chunk). */
  private seal(plain: Buffer, last: boolean): void {
    if (this.index >= MAX_FRAMES) throw new RangeError('part is too large for one encrypted stream (2^32 frames)');
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce(this.header.prefix, this.index, last), {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(this.header.bytes);
    this.sealed.push(cipher.update(plain));
    cipher.final();
    this.sealed.push(cipher.getAuthTag());
    this.index += 1;
    if (plain === this.plain) this.filled = 0;
  }

  private pushSealed(): void {
    if (this.sealed.length === 0) return;
    const out = Buffer.concat(this.sealed);
    this.sealed = [];
    this.push(out);
  }
}

export function createEncryptStream(opts: EncryptOptions): Transform {
  return new EncryptStream(opts);
}

/** Collects chunks and hands back exact byte counts without copying more than needed. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  peek(n: number): Buffer {
    return this.take(n, false);
  }

  take(n: number, consume = true): Buffer {
    if (n > this.length) throw new RangeError('ByteQueue underflow');
    if (n === 0) return Buffer.alloc(0);
    const out =
      this.chunks[0].length >= n ? this.chunks[0].subarray(0, n) : Buffer.concat(this.chunks, n).subarray(0, n);
    if (consume) this.drop(n);
    return out;
  }

  private drop(n: number): void {
    this.length -= n;
    while (n > 0) {
      const head = this.chunks[0];
      if (head.length <= n) {
        this.chunks.shift();
        n -= head.length;
      } else {
        this.chunks[0] = head.subarray(n);
        n = 0;
      }
    }
  }
}

/**
 * Decrypts and authenticates a part. A frame's plaintext is pushed only after its tag
 * verified, so nothing unauthenticated ever leaves this stream.
 */
export class DecryptStream extends Transform {
  private readonly queue = new ByteQueue();
  private header: Header | null = null;
  private key: KeyObject | null = null;
  private index = 0;

  constructor(
    private readonly keys: KeyLookup,
    private readonly opts: DecryptOptions = {},
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.queue.push(chunk);
      if (!this.header && !this.readHeader()) {
        done();
        return;
      }
      const sealed = (this.header as Header).frameSize + TAG_BYTES;
      // Strictly more than one frame buffered means the first one is not the last.
      while (this.queue.length > sealed) this.open(this.queue.take(sealed), false);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (!this.header) {
        this.readHeader();
        throw new ArchiveError('truncated', 'encrypted part ends inside its header');
      }
      if (this.queue.length < TAG_BYTES) {
        throw new ArchiveError(
          'truncated',
          `encrypted part is truncated: no final frame after frame ${this.index - 1}`,
        );
      }
      this.open(this.queue.take(this.queue.length), true);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  /** Returns false while more bytes are needed to read the whole header. */
  private readHeader(): boolean {
    const available = Math.min(this.queue.length, FIXED_HEADER);
    const head = this.queue.peek(available);
    const magicBytes = Math.min(available, ENCRYPTION_MAGIC.length);
    if (!head.subarray(0, magicBytes).equals(ENCRYPTION_MAGIC.subarray(0, magicBytes))) {
      throw new ArchiveError('unsupported-format', 'not an encrypted Strongroom part (bad header magic)');
    }
    if (available < FIXED_HEADER) return false;
    const version = head[ENCRYPTION_MAGIC.length];
    if (version !== ENCRYPTION_VERSION) {
      throw new ArchiveError(
        'unsupported-format',
        `unsupported encrypted part version ${version} (this build reads ${ENCRYPTION_VERSION})`,
      );
    }
    const frameSize = head.readUInt32BE(ENCRYPTION_MAGIC.length + 1);
    if (frameSize < MIN_FRAME_SIZE || frameSize > MAX_FRAME_SIZE) {
      throw new ArchiveError('unsupported-format', `encrypted part header has an invalid frame size ${frameSize}`);
    }
    const idLength = head[FIXED_HEADER - 1];
    const total = FIXED_HEADER + idLength + SALT_BYTES + PREFIX_BYTES;
    if (this.queue.length < total) return false;
    const bytes = Buffer.from(this.queue.take(total));
    let at = FIXED_HEADER;
    const keyId = bytes.subarray(at, (at += idLength)).toString('utf8');
    const salt = bytes.subarray(at, (at += SALT_BYTES));
    const prefix = bytes.subarray(at, (at += PREFIX_BYTES));
    if (this.opts.expectedKeyId !== undefined && keyId !== this.opts.expectedKeyId) {
      throw new ArchiveError(
        'auth-failed',
        `part is encrypted with key id "${keyId}" but the manifest says "${this.opts.expectedKeyId}"`,
      );
    }
    const master = this.keys.get(keyId);
    if (!master) throw new ArchiveError('unknown-key', `key id "${keyId}" is not in the keyring`);
    this.header = { bytes, frameSize, keyId, salt, prefix };
    this.key = frameKey(master, salt);
    return true;
  }

  private tryOpen(sealed: Buffer, index: number, last: boolean): Buffer | null {
    const header = this.header as Header;
    const decipher = createDecipheriv('aes-256-gcm', this.key as KeyObject, nonce(header.prefix, index, last), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(header.bytes);
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    const plain = decipher.update(sealed.subarray(0, sealed.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      return null;
    }
    return plain;
  }

  private open(sealed: Buffer, last: boolean): void {
    if (this.index >= MAX_FRAMES) throw new ArchiveError('trailing-data', 'encrypted part has more than 2^32 frames');
    const plain = this.tryOpen(sealed, this.index, last);
    if (plain) {
      this.index += 1;
      if (plain.length > 0) this.push(plain);
      return;
    }
    throw this.diagnose(sealed, last);
  }

  /**
   * The frame failed; re-try it under the other last-flag to say *why* where that is knowable.
   * These re-tries only classify the error: their plaintext is never emitted.
   */
  private diagnose(sealed: Buffer, last: boolean): ArchiveError {
    const n = this.index;
    if (!last && this.tryOpen(sealed, n, true)) {
      return new ArchiveError('trailing-data', `encrypted part has data after its final frame (frame ${n})`);
    }
    const full = sealed.length === (this.header as Header).frameSize + TAG_BYTES;
    if (last && full && this.tryOpen(sealed, n, false)) {
      return new ArchiveError('truncated', `encrypted part is truncated: frame ${n} is not the final frame`);
    }
    if (n === 0) return new ArchiveError('auth-failed', 'wrong key or corrupted part (frame 0 failed authentication)');
    if (last) {
      // The last frame's length is only known from where the input ends, so bytes appended to
      // or cut from it look the same as a damaged frame.
      return new ArchiveError(
        'auth-failed',
        `final frame ${n} failed authentication: the part is corrupted, truncated or has trailing data`,
      );
    }
    return new ArchiveError(
      'auth-failed',
      `frame ${n} failed authentication: the part is corrupted, tampered with or has trailing data`,
    );
  }
}

export function createDecryptStream(keys: KeyLookup, opts?: DecryptOptions): Transform {
  return new DecryptStream(keys, opts);
}
