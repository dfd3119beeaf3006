/**
 * Signed checkpoints in the C2SP formats, so other transparency-log tools can read them:
 * - tlog-checkpoint body: `<origin>\n<tree size>\n<base64 root hash>\n` then extension lines;
 *   ours are `time <ISO-8601>` and `previous <base64 SHA-256 of the previous checkpoint's body>`,
 *   so checkpoints form a chain of their own and a missing or reordered one shows.
 * - signed-note: the body, a blank line, then `— <key name> <base64(key id ‖ signature)>`
 *   lines; Ed25519 key id = SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[0:4].
 * The key name is the origin. Plain TypeScript: shared by the server and the offline CLI.
 */
import { createHash, createPrivateKey, createPublicKey, KeyObject, randomBytes, sign, verify } from 'node:crypto';

const SIG_PREFIX = '\u2014 ';
const ED25519_ALG = 0x01;
// DER prefixes that wrap a raw 32-byte Ed25519 seed (PKCS#8) and public key (SPKI).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

export interface SigningKey {
  name: string;
  privateKey: KeyObject;
  publicKey: Buffer;
}

export interface CheckpointFields {
  origin: string;
  treeSize: number;
  rootHash: Buffer;
  time: string;
  /** SHA-256 of the previous checkpoint's body, or null for the first one. */
  previous: Buffer | null;
}

export interface Checkpoint extends CheckpointFields {
  /** The signed text: exactly the bytes the signature covers. */
  body: string;
  signatures: { name: string; keyId: Buffer; signature: Buffer }[];
  /** The whole signed note as stored and exchanged. */
  text: string;
}

export class CheckpointFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointFormatError';
  }
}

/** A new random Ed25519 seed, base64: the form AUDIT_SIGNING_KEY takes. */
export function generateSigningSeed(): string {
  return randomBytes(32).toString('base64');
}

export function signingKeyFromSeed(seedBase64: string, name: string): SigningKey {
  const seed = Buffer.from(seedBase64.trim(), 'base64');
  if (seed.length !== 32 || seed.toString('base64') !== seedBase64.trim()) {
    throw new Error('an Ed25519 signing key is 32 bytes, base64');
  }
  checkKeyName(name);
  const privateKey = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { name, privateKey, publicKey: Buffer.from(spki.subarray(spki.length - 32)) };
}

export function publicKeyObject(raw: Buffer): KeyObject {
  if (raw.length !== 32) throw new Error('an Ed25519 public key is 32 bytes');
  return createPublicKey({ key: Buffer.concat([SPKI_PREFIX, raw]), format: 'der', type: 'spki' });
}

export function keyId(name: string, publicKey: Buffer): Buffer {
  return createHash('sha256')
    .update(name, 'utf8')
    .update(Buffer.of(0x0a, ED25519_ALG))
    .update(publicKey)
    .digest()
    .subarray(0, 4);
}

/** The signed-note verifier key string (`<name>+<hex key id>+<base64(0x01 ‖ key)>`), as other tools take it. */
export function verifierKey(name: string, publicKey: Buffer): string {
  return `${name}+${keyId(name, publicKey).toString('hex')}+${Buffer.concat([Buffer.of(ED25519_ALG), publicKey]).toString('base64')}`;
}

/**
 * A public key as an auditor may hold it: raw base64 (32 bytes), a signed-note verifier key,
 * or the JSON `GET /api/audit/public-key` answers.
 */
export function parsePublicKey(input: string): Buffer {
  const text = input.trim();
  if (text.startsWith('{')) {
    const json = JSON.parse(text) as { publicKey?: unknown };
    if (typeof json.publicKey !== 'string') throw new Error('the JSON has no publicKey field');
    return parsePublicKey(json.publicKey);
  }
  const parts = text.split('+');
  if (parts.length === 3 && /^[0-9a-f]{8}$/.test(parts[1])) {
    const raw = Buffer.from(parts[2], 'base64');
    if (raw.length !== 33 || raw[0] !== ED25519_ALG) throw new Error('the verifier key is not an Ed25519 key');
    const key = raw.subarray(1);
    if (!keyId(parts[0], key).equals(Buffer.from(parts[1], 'hex')))
      throw new Error('the verifier key id does not match');
    return Buffer.from(key);
  }
  const raw = Buffer.from(text, 'base64');
  if (raw.length !== 32) throw new Error('a public key is 32 bytes, base64');
  return raw;
}

function checkKeyName(name: string): void {
  if (!name || /[\s+]/.test(name))
    throw new Error('a checkpoint origin / key name must be non-empty, without spaces or "+"');
}

export function checkpointBody(f: CheckpointFields): string {
  checkKeyName(f.origin);
  if (!Number.isSafeInteger(f.treeSize) || f.treeSize < 0) throw new Error('treeSize must be a non-negative integer');
  if (f.rootHash.length !== 32) throw new Error('rootHash must be 32 bytes');
  const lines = [f.origin, String(f.treeSize), f.rootHash.toString('base64'), `time ${f.time}`];
  if (f.previous) lines.push(`previous ${f.previous.toString('base64')}`);
  return `${lines.join('\n')}\n`;
}

export function bodyDigest(body: string): Buffer {
  return createHash('sha256').update(body, 'utf8').digest();
}

export function signCheckpoint(f: CheckpointFields, key: SigningKey): Checkpoint {
  const body = checkpointBody(f);
  const signature = sign(null, Buffer.from(body, 'utf8'), key.privateKey);
  const id = keyId(key.name, key.publicKey);
  const text = `${body}\n${SIG_PREFIX}${key.name} ${Buffer.concat([id, signature]).toString('base64')}\n`;
  return { ...f, body, signatures: [{ name: key.name, keyId: id, signature }], text };
}

/** Parses a signed note; a malformed one throws CheckpointFormatError naming what is wrong. Does not check signatures. */
export function parseCheckpoint(text: string): Checkpoint {
  const split = text.lastIndexOf('\n\n');
  if (split < 0 || !text.endsWith('\n'))
    throw new CheckpointFormatError('not a signed note (no blank line before the signatures)');
  const body = text.slice(0, split + 1);
  const sigLines = text.slice(split + 2, -1).split('\n');
  const lines = body.slice(0, -1).split('\n');
  if (lines.length < 3) throw new CheckpointFormatError('a checkpoint has an origin, a size and a root hash');
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (!/^(0|[1-9][0-9]{0,15})$/.test(sizeText) || !Number.isSafeInteger(Number(sizeText))) {
    throw new CheckpointFormatError('the tree size is not a decimal integer');
  }
  const rootHash = Buffer.from(rootText, 'base64');
  if (rootHash.length !== 32 || rootHash.toString('base64') !== rootText) {
    throw new CheckpointFormatError('the root hash is not 32 bytes of base64');
  }
  let time: string | null = null;
  let previous: Buffer | null = null;
  for (const ext of extensions) {
    if (ext.startsWith('time ')) time = ext.slice(5);
    else if (ext.startsWith('previous ')) previous = Buffer.from(ext.slice(9), 'base64');
    else if (!ext) throw new CheckpointFormatError('an empty extension line');
  }
  if (!time || Number.isNaN(Date.parse(time)))
    throw new CheckpointFormatError('the time extension line is missing or not a time');
  if (previous && previous.length !== 32) throw new CheckpointFormatError('the previous extension is not a SHA-256');
  const signatures = sigLines.map((line) => {
    const m = /^\u2014 (\S+) ([A-Za-z0-9+/=]+)$/.exec(line);
    if (!m) throw new CheckpointFormatError('a signature line is malformed');
    const raw = Buffer.from(m[2], 'base64');
    if (raw.length < 5) throw new CheckpointFormatError('a signature is too short');
    return { name: m[1], keyId: raw.subarray(0, 4), signature: raw.subarray(4) };
  });
  if (!signatures.length) throw new CheckpointFormatError('no signature');
  return { origin, treeSize: Number(sizeText), rootHash, time, previous, body, signatures, text };
}

/** True when a signature by `name` with `publicKey` covers the body (other cosignatures are ignored). */
export function checkpointSignedBy(cp: Checkpoint, name: string, publicKey: Buffer): boolean {
  const id = keyId(name, publicKey);
  const key = publicKeyObject(publicKey);
  return cp.signatures.some(
    (s) =>
      s.name === name &&
      s.keyId.equals(id) &&
      s.signature.length === 64 &&
      verify(null, Buffer.from(cp.body, 'utf8'), key, s.signature),
  );
}
