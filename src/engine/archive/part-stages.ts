/**
 * The transform chains of a part, in one place so the worker thread (part-worker.ts) and the
 * in-process path build exactly the same steps: writing is plaintext digest -> compression ->
 * framed AEAD -> stored digest; reading checks each of those in reverse.
 */
import type { Transform } from 'node:stream';
import { createCompressStream, createDecompressStream } from './compression';
import { DigestStream, VerifyingStream, type Digest } from './digest-stream';
import { createDecryptStream, createEncryptStream } from './encryption';
import type { Compression } from './manifest.types';
import { timedStage } from './stage-stats';

/** Everything a worker needs to write a part; plain data, so it crosses a thread boundary. */
export interface WriteStagesSpec {
  kind: 'write';
  compression: Compression;
  level?: number;
  /** zstd as independent frames of this many input bytes (CompressOptions.frameBytes); absent = one stream. */
  frameBytes?: number;
  encryption: { keyId: string; key: Buffer; frameSize?: number } | null;
}

/**
 * Everything a worker needs to read a part. `keys` holds only the key the manifest names (or
 * nothing when the keyring lacks it), so the decrypt step says exactly what it says in-process.
 */
export interface ReadStagesSpec {
  kind: 'read';
  compression: Compression;
  stored: Digest;
  plaintext: Digest;
  /**
   * Whether the plaintext's SHA-256 is checked too, not only its length. Off, every byte is still
   * checked: the stored bytes' SHA-256 (from the authenticated manifest) pins down the whole part
   * in order, and the plaintext is a deterministic function of them; each encrypted frame is
   * authenticated before it is emitted. What the plaintext digest adds is a check of the writer
   * itself (that compression was faithful), which deep verification keeps (part-io.ts).
   */
  plaintextSha256: boolean;
  encryption: { expectedKeyId: string; keys: Array<[string, Buffer]> } | null;
}

export type StagesSpec = WriteStagesSpec | ReadStagesSpec;

/** What a write chain reports once every byte went through. */
export interface WriteDigests {
  raw: Digest;
  stored: Digest;
}

export interface Stages {
  stages: Transform[];
  /** Digests of a write chain; null for a read chain (its checks fail the stream instead). */
  digests(): WriteDigests | null;
}

export function buildStages(spec: StagesSpec): Stages {
  if (spec.kind === 'write') {
    // Each step is charged to its stage when STRONGROOM_STAGE_STATS is on (stage-stats.ts).
    const raw = timedStage('hashing', new DigestStream());
    const stored = timedStage('hashing', new DigestStream());
    const stages: Transform[] = [
      raw,
      timedStage('compressing', createCompressStream(spec.compression, spec.level, { frameBytes: spec.frameBytes })),
    ];
    if (spec.encryption) stages.push(timedStage('encrypting', createEncryptStream(spec.encryption)));
    stages.push(stored);
    return { stages, digests: () => ({ raw: raw.digest(), stored: stored.digest() }) };
  }
  const stages: Transform[] = [timedStage('hashing', new VerifyingStream(spec.stored, 'stored part'))];
  if (spec.encryption) {
    const keys = new Map(spec.encryption.keys);
    const decrypt = createDecryptStream(
      { get: (id) => keys.get(id) },
      { expectedKeyId: spec.encryption.expectedKeyId },
    );
    stages.push(timedStage('decrypting', decrypt));
  }
  stages.push(timedStage('decompressing', createDecompressStream(spec.compression)));
  const plain = new VerifyingStream(spec.plaintext, 'plaintext', { hash: spec.plaintextSha256 });
  stages.push(spec.plaintextSha256 ? timedStage('hashing', plain) : plain);
  return { stages, digests: () => null };
}
