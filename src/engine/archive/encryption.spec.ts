import { randomBytes } from 'node:crypto';
import { Readable, type Transform } from 'node:stream';
import { createDecryptStream, createEncryptStream, DEFAULT_FRAME_SIZE, type KeyLookup } from './encryption';
import { ArchiveError } from './errors';
import { Keyring } from './keyring';

const KEY_A = randomBytes(32);
const KEY_B = randomBytes(32);
const ring = new Keyring([
  ['a', KEY_A],
  ['b', KEY_B],
]);
const FRAME = 64;
const TAG = 16;

function chunked(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** Feeds `input` through `stream` in chunks; returns everything emitted and the error, if any. */
async function run(stream: Transform, input: Buffer, chunkSize = 1000): Promise<{ out: Buffer; err: unknown }> {
  const out: Buffer[] = [];
  let err: unknown = null;
  try {
    for await (const chunk of Readable.from(chunked(input, chunkSize)).pipe(stream)) out.push(chunk as Buffer);
  } catch (e) {
    err = e;
  }
  return { out: Buffer.concat(out), err };
}

async function encrypt(plain: Buffer, keyId = 'a', frameSize = FRAME): Promise<Buffer> {
  const { out, err } = await run(createEncryptStream({ keyId, key: ring.get(keyId) as Buffer, frameSize }), plain, 777);
  if (err) throw err;
  return out;
}

async function decrypt(
  sealed: Buffer,
  keys: KeyLookup = ring,
  chunkSize = 1000,
): Promise<{ out: Buffer; err: unknown }> {
  return run(createDecryptStream(keys), sealed, chunkSize);
}

async function expectFailure(sealed: Buffer, code?: ArchiveError['code'], message?: RegExp): Promise<ArchiveError> {
  const { err } = await decrypt(sealed);
  expect(err).toBeInstanceOf(ArchiveError);
  if (code) expect((err as ArchiveError).code).toBe(code);
  if (message) expect((err as ArchiveError).message).toMatch(message);
  return err as ArchiveError;
}

// Header for key id "a": 6 magic + 1 version + 4 frame size + 1 id length + 1 id + 16 salt + 7 prefix.
const HEADER = 36;

describe('framed AES-256-GCM', () => {
  it.each([0, 1, FRAME - 1, FRAME, FRAME + 1, 2 * FRAME, 5 * FRAME + 3])(
    'round-trips %i bytes whatever the input chunking',
    async (size) => {
      const plain = randomBytes(size);
      const sealed = await encrypt(plain);
      const frames = Math.max(1, Math.ceil(size / FRAME));
      expect(sealed.length).toBe(HEADER + size + frames * TAG);
      for (const chunkSize of [1, 7, FRAME + TAG, 100000]) {
        const { out, err } = await decrypt(sealed, ring, chunkSize);
        expect(err).toBeNull();
        expect(out.equals(plain)).toBe(true);
      }
    },
  );

  it('round-trips several MB with the default 64 KiB frame', async () => {
    const plain = randomBytes(3 * 1024 * 1024 + 5);
    const { out: sealed } = await run(createEncryptStream({ keyId: 'a', key: KEY_A }), plain, 100_000);
    expect(sealed.readUInt32BE(7)).toBe(DEFAULT_FRAME_SIZE);
    const { out, err } = await decrypt(sealed, ring, 65_536);
    expect(err).toBeNull();
    expect(out.equals(plain)).toBe(true);
  });

  it('never encrypts the same plaintext to the same bytes', async () => {
    const plain = Buffer.alloc(100, 1);
    expect((await encrypt(plain)).equals(await encrypt(plain))).toBe(false);
  });

  it('detects a flipped bit at every position, emitting no plaintext of a failed frame', async () => {
    const plain = randomBytes(3 * FRAME + 10);
    const sealed = await encrypt(plain);
    for (let pos = 0; pos < sealed.length; pos++) {
      const bad = Buffer.from(sealed);
      bad[pos] ^= 0x01;
      const { out, err } = await decrypt(bad);
      expect(err).toBeInstanceOf(ArchiveError);
      // Whatever came out before the failure is authentic plaintext of earlier, intact frames.
      expect(out.length % FRAME).toBe(0);
      expect(out.equals(plain.subarray(0, out.length))).toBe(true);
      const failedFrame = Math.floor(Math.max(0, pos - HEADER) / (FRAME + TAG));
      if (pos >= HEADER) expect(out.length).toBeLessThanOrEqual(failedFrame * FRAME);
    }
  });

  it('detects truncation at every length', async () => {
    const sealed = await encrypt(randomBytes(3 * FRAME + 10));
    for (let len = 0; len < sealed.length; len++) {
      const { err } = await decrypt(sealed.subarray(0, len));
      expect(err).toBeInstanceOf(ArchiveError);
    }
  });

  it('names truncation at a frame boundary as truncated, and an empty input too', async () => {
    const sealed = await encrypt(randomBytes(3 * FRAME));
    await expectFailure(sealed.subarray(0, HEADER + 2 * (FRAME + TAG)), 'truncated', /frame 1 is not the final frame/);
    await expectFailure(sealed.subarray(0, HEADER), 'truncated', /no final frame/);
    await expectFailure(Buffer.alloc(0), 'truncated', /inside its header/);
  });

  it('rejects data appended after the final frame', async () => {
    // A full final frame is recognised exactly; after a short one the junk is indistinguishable
    // from a damaged final frame, and the error says so.
    const full = await encrypt(randomBytes(3 * FRAME));
    await expectFailure(Buffer.concat([full, Buffer.from('x')]), 'trailing-data', /after its final frame \(frame 2\)/);
    await expectFailure(Buffer.concat([full, full]), 'trailing-data');
    const short = await encrypt(randomBytes(2 * FRAME + 5));
    await expectFailure(Buffer.concat([short, Buffer.from('x')]), 'auth-failed', /final frame 2 .*trailing data/);
    await expectFailure(Buffer.concat([short, randomBytes(FRAME + TAG + 1)]), 'auth-failed', /trailing data/);
  });

  it('rejects two frames swapped', async () => {
    const sealed = await encrypt(randomBytes(3 * FRAME + 10));
    const f0 = sealed.subarray(HEADER, HEADER + FRAME + TAG);
    const f1 = sealed.subarray(HEADER + FRAME + TAG, HEADER + 2 * (FRAME + TAG));
    const swapped = Buffer.concat([sealed.subarray(0, HEADER), f1, f0, sealed.subarray(HEADER + 2 * (FRAME + TAG))]);
    await expectFailure(swapped, 'auth-failed');
  });

  it('rejects a frame spliced in from another part under the same key, at the same index', async () => {
    const one = await encrypt(randomBytes(3 * FRAME));
    const two = await encrypt(randomBytes(3 * FRAME));
    const at = HEADER + FRAME + TAG;
    const spliced = Buffer.concat([
      one.subarray(0, at),
      two.subarray(at, at + FRAME + TAG),
      one.subarray(at + FRAME + TAG),
    ]);
    await expectFailure(spliced, 'auth-failed', /frame 1 failed authentication/);
    const otherHeader = Buffer.concat([two.subarray(0, HEADER), one.subarray(HEADER)]);
    await expectFailure(otherHeader, 'auth-failed', /wrong key or corrupted part/);
  });

  it('says "wrong key" when frame 0 does not authenticate', async () => {
    const sealed = await encrypt(randomBytes(10));
    const impostor: KeyLookup = { get: (id) => (id === 'a' ? KEY_B : undefined) };
    const { out, err } = await decrypt(sealed, impostor);
    expect(out.length).toBe(0);
    expect((err as ArchiveError).code).toBe('auth-failed');
    expect((err as ArchiveError).message).toMatch(/wrong key or corrupted part/);
  });

  it('names an unknown key id', async () => {
    const sealed = await encrypt(randomBytes(10), 'b');
    const { err } = await decrypt(sealed, new Keyring([['a', KEY_A]]));
    expect((err as ArchiveError).code).toBe('unknown-key');
    expect((err as ArchiveError).message).toBe('key id "b" is not in the keyring');
  });

  it('decrypts parts under every key in the ring (rotation)', async () => {
    const plain = randomBytes(200);
    for (const id of ['a', 'b']) {
      const { out, err } = await decrypt(await encrypt(plain, id));
      expect(err).toBeNull();
      expect(out.equals(plain)).toBe(true);
    }
  });

  it('rejects a part that is not encrypted, or from an unknown format version', async () => {
    await expectFailure(Buffer.from('plain text, not a part'), 'unsupported-format', /bad header magic/);
    const sealed = await encrypt(randomBytes(10));
    const v2 = Buffer.from(sealed);
    v2[6] = 2;
    await expectFailure(v2, 'unsupported-format', /version 2/);
  });

  it('refuses a part encrypted under a different key id than the manifest names', async () => {
    const sealed = await encrypt(randomBytes(10), 'b');
    const { err } = await run(createDecryptStream(ring, { expectedKeyId: 'a' }), sealed);
    expect((err as ArchiveError).code).toBe('auth-failed');
    expect((err as ArchiveError).message).toMatch(/key id "b" but the manifest says "a"/);
  });

  it('rejects frame sizes outside the supported range', () => {
    expect(() => createEncryptStream({ keyId: 'a', key: KEY_A, frameSize: 8 })).toThrow(/frame size/);
  });
});
