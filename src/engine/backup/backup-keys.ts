/**
 * How backups get their encryption key: a keyring (`id:base64` pairs, one active), or a
 * passphrase from which each backup derives its own key with scrypt (salt in the manifest).
 * The same key authenticates each manifest (manifest-auth.ts); this file also holds the policy
 * for manifests that cannot be authenticated.
 */
import { deriveKeyFromKdf, Keyring, newKdf, parseKeyring } from '../archive/keyring';
import type { KeyLookup } from '../archive/encryption';
import { ArchiveError } from '../archive/errors';
import { manifestMacMatches, type MacSeal } from '../archive/manifest-auth';
import type { EncryptionInfo, KdfInfo, Manifest } from '../archive/manifest.types';

export const PASSPHRASE_KEY_ID = 'passphrase';
const ALLOW_UNAUTHENTICATED_VARIABLE = 'ALLOW_UNAUTHENTICATED_ARCHIVES';
const MAX_DERIVED_KEYS = 64;

export interface KeySource {
  keyring: Keyring | null;
  passphrase: string | null;
  /**
   * With a key configured, accept manifests that carry no MAC (written before manifests were
   * authenticated, or by an installation without a key). A MAC that is present must always verify.
   */
  allowUnauthenticated?: boolean;
  /** Passphrase keys derived so far, by KDF parameters: one scrypt run per backup, not per part. */
  derived?: Map<string, Promise<Buffer>>;
}

export function keySourceFromConfig(cfg: {
  keys?: string;
  activeId?: string;
  passphrase?: string;
  allowUnauthenticated?: boolean;
}): KeySource {
  return {
    keyring: cfg.keys ? parseKeyring(cfg.keys, cfg.activeId) : null,
    passphrase: cfg.passphrase ?? null,
    allowUnauthenticated: cfg.allowUnauthenticated ?? false,
    derived: new Map(),
  };
}

function encryptionConfigured(src: KeySource): boolean {
  return !!src.keyring || !!src.passphrase;
}

function derive(src: KeySource, passphrase: string, kdf: KdfInfo): Promise<Buffer> {
  const id = `${kdf.salt}:${kdf.N}:${kdf.r}:${kdf.p}`;
  const known = src.derived?.get(id);
  if (known) return known;
  const pending = deriveKeyFromKdf(passphrase, kdf);
  // Imports bring salts of their own: keep the cache small rather than let them grow it.
  if (src.derived && src.derived.size >= MAX_DERIVED_KEYS)
    src.derived.delete(src.derived.keys().next().value as string);
  src.derived?.set(id, pending);
  pending.catch(() => src.derived?.delete(id));
  return pending;
}

/** The key and manifest entry for a new backup; null when no key is configured. */
export async function keyForNewBackup(
  src: KeySource,
): Promise<{ keyId: string; key: Buffer; info: Omit<EncryptionInfo, 'frameSize'> } | null> {
  if (src.keyring) {
    const { keyId, key } = src.keyring.active();
    return { keyId, key, info: { algorithm: 'AES-256-GCM', keyId } };
  }
  if (src.passphrase) {
    const kdf = newKdf();
    const key = await deriveKeyFromKdf(src.passphrase, kdf);
    return { keyId: PASSPHRASE_KEY_ID, key, info: { algorithm: 'AES-256-GCM', keyId: PASSPHRASE_KEY_ID, kdf } };
  }
  return null;
}

/**
 * What a new manifest is sealed with: the active key, or for a passphrase the key the backup
 * was encrypted with (or a freshly derived one when it was not encrypted). Null without a key.
 */
export async function sealForNewBackup(
  src: KeySource,
  encryption: { key: Buffer; info: Omit<EncryptionInfo, 'frameSize'> } | null,
): Promise<MacSeal | null> {
  if (src.keyring) {
    const { keyId, key } = src.keyring.active();
    return { keyId, master: key };
  }
  if (src.passphrase) {
    if (encryption?.info.kdf) return { keyId: PASSPHRASE_KEY_ID, master: encryption.key, kdf: encryption.info.kdf };
    const kdf = newKdf();
    return { keyId: PASSPHRASE_KEY_ID, master: await deriveKeyFromKdf(src.passphrase, kdf), kdf };
  }
  return null;
}

function unauthenticated(message: string): ArchiveError {
  return new ArchiveError('not-authenticated', message);
}

/**
 * Decides whether a manifest can be trusted, before anything else in it is used, and says how
 * it was established (verify shows it). With a key configured: the MAC must verify, and a
 * manifest without one is refused unless ALLOW_UNAUTHENTICATED_ARCHIVES is set. Without a key
 * nothing can be authenticated, so the checksum is all there is. Throws ArchiveError
 * 'not-authenticated'.
 */
export async function authenticateManifest(src: KeySource, m: Manifest): Promise<string> {
  if (!encryptionConfigured(src)) {
    return m.mac
      ? `MAC (key id "${m.mac.keyId}") not checked: no key is configured; checksum only`
      : 'not authenticated: no key is configured; checksum only';
  }
  if (!m.mac) {
    if (src.allowUnauthenticated)
      return `not authenticated (no MAC): accepted because ${ALLOW_UNAUTHENTICATED_VARIABLE}=true`;
    throw unauthenticated(
      `manifest of backup ${m.id} carries no MAC, so nothing shows it was written with the configured key ` +
        `(it was made without a key, by a version before manifests were authenticated, or by someone else); refused. ` +
        `Set ${ALLOW_UNAUTHENTICATED_VARIABLE}=true to accept such archives.`,
    );
  }
  const { keyId, kdf } = m.mac;
  let master: Buffer | undefined;
  if (kdf) {
    if (!src.passphrase)
      throw unauthenticated(
        `manifest MAC of backup ${m.id} was made with a passphrase, but BACKUP_ENCRYPTION_PASSPHRASE is not set`,
      );
    if (keyId !== PASSPHRASE_KEY_ID)
      throw unauthenticated(`manifest MAC of backup ${m.id} names key id "${keyId}" with passphrase parameters`);
    master = await derive(src, src.passphrase, kdf);
  } else {
    master = src.keyring?.get(keyId);
    if (!master)
      throw unauthenticated(
        `manifest MAC of backup ${m.id} was made with key id "${keyId}", which is not in the keyring`,
      );
  }
  if (!manifestMacMatches(m, master)) {
    throw unauthenticated(
      `manifest MAC of backup ${m.id} does not verify with key id "${keyId}": a wrong key, or the manifest was altered`,
    );
  }
  return `MAC verified with key id "${keyId}"`;
}

/**
 * A key lookup able to open this manifest's parts, or null when it is not encrypted. The
 * manifest is authenticated first, so no part is opened on the word of a forged manifest.
 */
export async function keysForManifest(src: KeySource, manifest: Manifest): Promise<KeyLookup | null> {
  await authenticateManifest(src, manifest);
  const enc = manifest.encryption;
  if (!enc) return null;
  if (enc.kdf) {
    if (!src.passphrase)
      throw new Error('backup was encrypted with a passphrase, but BACKUP_ENCRYPTION_PASSPHRASE is not set');
    const key = await derive(src, src.passphrase, enc.kdf);
    return { get: (id: string) => (id === enc.keyId ? key : undefined) };
  }
  if (!src.keyring)
    throw new Error(`backup is encrypted with key id "${enc.keyId}", but BACKUP_ENCRYPTION_KEYS is not set`);
  if (!src.keyring.has(enc.keyId)) {
    throw new Error(
      `backup is encrypted with key id "${enc.keyId}", which is not in the keyring (ids: ${src.keyring.ids().join(', ')})`,
    );
  }
  return src.keyring;
}
