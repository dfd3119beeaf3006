/**
 * Encryption keys. A keyring holds every key that may still be needed to read old backups;
 * one of them is active for new backups, and each manifest records the id it used, so
 * rotating the active key never strands an existing backup. Key bytes never appear in
 * errors, logs or JSON: only ids do.
 */
import { randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import { inspect } from 'node:util';
import type { EncryptionInfo } from './manifest.types';

export const KEY_BYTES = 32;
const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

export interface ActiveKey {
  keyId: string;
  key: Buffer;
}

export class Keyring {
  private readonly keys: ReadonlyMap<string, Buffer>;
  readonly activeId: string;

  constructor(entries: Iterable<readonly [string, Buffer]>, activeId?: string) {
    const keys = new Map<string, Buffer>();
    for (const [id, key] of entries) {
      assertKeyId(id);
      if (key.length !== KEY_BYTES) throw new Error(`key "${id}" must be ${KEY_BYTES} bytes, got ${key.length}`);
      if (keys.has(id)) throw new Error(`key id "${id}" appears twice in the keyring`);
      keys.set(id, Buffer.from(key));
    }
    if (keys.size === 0) throw new Error('the keyring is empty');
    const ids = [...keys.keys()];
    const active = activeId ?? ids[ids.length - 1];
    if (!keys.has(active)) throw new Error(`active key id "${active}" is not in the keyring (ids: ${ids.join(', ')})`);
    this.keys = keys;
    this.activeId = active;
  }

  get(id: string): Buffer | undefined {
    return this.keys.get(id);
  }

  has(id: string): boolean {
    return this.keys.has(id);
  }

  ids(): string[] {
    return [...this.keys.keys()];
  }

  active(): ActiveKey {
    return { keyId: this.activeId, key: this.keys.get(this.activeId) as Buffer };
  }

  toJSON(): { activeId: string; ids: string[] } {
    return { activeId: this.activeId, ids: this.ids() };
  }

  [inspect.custom](): string {
    return `Keyring { activeId: ${JSON.stringify(this.activeId)}, ids: ${JSON.stringify(this.ids())} }`;
  }
}

function assertKeyId(id: string): void {
  if (!KEY_ID_PATTERN.test(id)) {
    throw new Error(`key id ${JSON.stringify(id.slice(0, 80))} is invalid: use 1-64 characters from A-Z a-z 0-9 . _ -`);
  }
}

/**
 * Parses `BACKUP_ENCRYPTION_KEYS` (`id:base64,id:base64`, each key 32 bytes) with the active id
 * from `BACKUP_ENCRYPTION_KEY_ID` (default: the last entry). Errors name the entry by position
 * and id, never by its key material.
 */
export function parseKeyring(spec: string, activeId?: string): Keyring {
  const entries = spec.split(',').map((s) => s.trim());
  if (entries.every((e) => e === '')) throw new Error('BACKUP_ENCRYPTION_KEYS is empty');
  const parsed: Array<[string, Buffer]> = [];
  entries.forEach((entry, index) => {
    const where = `BACKUP_ENCRYPTION_KEYS entry ${index + 1}`;
    if (entry === '') throw new Error(`${where} is empty (stray comma?)`);
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new Error(`${where} is not in id:base64 form`);
    const id = entry.slice(0, colon).trim();
    const b64 = entry.slice(colon + 1).trim();
    if (!KEY_ID_PATTERN.test(id)) {
      throw new Error(`${where} has an invalid key id: use 1-64 characters from A-Z a-z 0-9 . _ -`);
    }
    if (!BASE64_PATTERN.test(b64) || b64.length % 4 !== 0) {
      throw new Error(`${where} (id "${id}"): key is not valid base64`);
    }
    const key = Buffer.from(b64, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new Error(`${where} (id "${id}"): key must decode to ${KEY_BYTES} bytes, got ${key.length}`);
    }
    if (parsed.some(([other]) => other === id)) throw new Error(`${where}: key id "${id}" appears more than once`);
    parsed.push([id, key]);
  });
  const active = activeId?.trim() || undefined;
  if (active !== undefined && !parsed.some(([id]) => id === active)) {
    throw new Error(
      `BACKUP_ENCRYPTION_KEY_ID "${active.slice(0, 80)}" is not in BACKUP_ENCRYPTION_KEYS (ids: ${parsed.map(([id]) => id).join(', ')})`,
    );
  }
  return new Keyring(parsed, active);
}

export type ScryptParams = { N: number; r: number; p: number };
/** What this service writes: N = 2^15, r = 8, p = 1 (32 MiB, about 0.1 s here). */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
/**
 * What it accepts back. The parameters are read from a manifest, which whoever can write to
 * storage or upload an import controls: unbounded, one crafted archive cost 4.2 GB and 34 s.
 * So the bound is tight (N from 2^14 to 2^17, r and p exactly as written), every check runs
 * before any derivation, and scrypt gets an explicit memory cap just above what N allows.
 */
export const SCRYPT_LIMITS = { minLogN: 14, maxLogN: 17, r: 8, p: 1, saltBytes: { min: 16, max: 64 } } as const;
const SCRYPT_MAXMEM = 128 * 2 ** SCRYPT_LIMITS.maxLogN * SCRYPT_LIMITS.r + 1024 * 1024;
type Kdf = NonNullable<EncryptionInfo['kdf']>;

/** Why these parameters are refused, or null when they are within the bound. */
export function scryptParamsProblem({ N, r, p }: { N: unknown; r: unknown; p: unknown }): string | null {
  const { minLogN, maxLogN } = SCRYPT_LIMITS;
  const powerOfTwo = typeof N === 'number' && Number.isInteger(N) && N >= 2 && (N & (N - 1)) === 0;
  if (!powerOfTwo || (N as number) < 2 ** minLogN || (N as number) > 2 ** maxLogN) {
    return `scrypt N must be a power of two from 2^${minLogN} to 2^${maxLogN}, got ${String(N).slice(0, 40)}`;
  }
  if (r !== SCRYPT_LIMITS.r) return `scrypt r must be ${SCRYPT_LIMITS.r}, got ${String(r).slice(0, 40)}`;
  if (p !== SCRYPT_LIMITS.p) return `scrypt p must be ${SCRYPT_LIMITS.p}, got ${String(p).slice(0, 40)}`;
  return null;
}

function assertScryptParams(params: ScryptParams): void {
  const problem = scryptParamsProblem(params);
  if (problem) throw new Error(problem);
}

export async function deriveKeyFromPassphrase(
  passphrase: string,
  salt: Buffer,
  params: ScryptParams = DEFAULT_SCRYPT,
): Promise<Buffer> {
  if (passphrase.length === 0) throw new Error('the encryption passphrase is empty');
  const { min, max } = SCRYPT_LIMITS.saltBytes;
  if (salt.length < min || salt.length > max)
    throw new Error(`scrypt salt must be ${min} to ${max} bytes, got ${salt.length}`);
  assertScryptParams(params);
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT_MAXMEM };
  return new Promise((resolve, reject) => {
    scryptCallback(passphrase.normalize('NFC'), salt, KEY_BYTES, options, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** Fresh KDF parameters (random salt) to record in a new manifest's `encryption.kdf`. */
export function newKdf(params: ScryptParams = DEFAULT_SCRYPT): Kdf {
  assertScryptParams(params);
  return { name: 'scrypt', salt: randomBytes(16).toString('base64'), N: params.N, r: params.r, p: params.p };
}

/** Re-derives the key a manifest's `encryption.kdf` describes. */
export async function deriveKeyFromKdf(passphrase: string, kdf: Kdf): Promise<Buffer> {
  if (kdf.name !== 'scrypt') throw new Error(`unsupported key derivation "${String(kdf.name)}"`);
  return deriveKeyFromPassphrase(passphrase, Buffer.from(kdf.salt, 'base64'), { N: kdf.N, r: kdf.r, p: kdf.p });
}
