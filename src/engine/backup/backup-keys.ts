/**
 * How backups get their encryption key: a keyring (`id:base64` pairs, one active), or a
 * passphrase from which each backup derives its own key with scrypt (salt in the manifest).
 */
import { deriveKeyFromKdf, Keyring, newKdf, parseKeyring } from '../archive/keyring';
import type { KeyLookup } from '../archive/encryption';
import type { EncryptionInfo, Manifest } from '../archive/manifest.types';

export const PASSPHRASE_KEY_ID = 'passphrase';

export interface KeySource {
  keyring: Keyring | null;
  passphrase: string | null;
}

export function keySourceFromConfig(cfg: { keys?: string; activeId?: string; passphrase?: string }): KeySource {
  return {
    keyring: cfg.keys ? parseKeyring(cfg.keys, cfg.activeId) : null,
    passphrase: cfg.passphrase ?? null,
  };
}

export function encryptionConfigured(src: KeySource): boolean {
  return !!src.keyring || !!src.passphrase;
}

/** The key and manifest entry for a new backup; null when no key is configured. */
export async function keyForNewBackup(src: KeySource): Promise<{ keyId: string; key: Buffer; info: Omit<EncryptionInfo, 'frameSize'> } | null> {
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

/** A key lookup able to open this manifest's parts, or null when it is not encrypted. */
export async function keysForManifest(src: KeySource, manifest: Pick<Manifest, 'encryption'>): Promise<KeyLookup | null> {
  const enc = manifest.encryption;
  if (!enc) return null;
  if (enc.kdf) {
    if (!src.passphrase) throw new Error('backup was encrypted with a passphrase, but BACKUP_ENCRYPTION_PASSPHRASE is not set');
    const key = await deriveKeyFromKdf(src.passphrase, enc.kdf);
    return { get: (id: string) => (id === enc.keyId ? key : undefined) };
  }
  if (!src.keyring) throw new Error(`backup is encrypted with key id "${enc.keyId}", but BACKUP_ENCRYPTION_KEYS is not set`);
  if (!src.keyring.has(enc.keyId)) {
    throw new Error(`backup is encrypted with key id "${enc.keyId}", which is not in the keyring (ids: ${src.keyring.ids().join(', ')})`);
  }
  return src.keyring;
}
