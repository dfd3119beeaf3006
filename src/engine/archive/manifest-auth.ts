/**
 * Manifest authentication. The checksum only proves that a manifest is intact; anyone who can
 * write to storage (or upload an import) can compute a fresh one for a manifest of their own.
 * A MAC under a key only the service holds proves that the service wrote it:
 *
 *   mac key = HKDF-SHA256(master key, salt = "", info = "strongroom manifest mac v1\0" ‖ keyId)
 *   value   = HMAC-SHA256(mac key, JCS(manifest without `checksum` and without `mac.value`))
 *
 * The key id is in the HKDF info, so a MAC never verifies under another key id; the MAC key is
 * separate from the frame keys of encryption.ts (another HKDF info). The checksum is computed
 * after the MAC and covers it, so older readers still check the whole file.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { canonicalize } from '../jcs';
import type { KdfInfo, Manifest, ManifestMac } from './manifest.types';

const HKDF_INFO = 'strongroom manifest mac v1';
const MAC_KEY_BYTES = 32;

export interface MacSeal {
  keyId: string;
  /** The keyring key, or the key derived from the passphrase with `kdf`. */
  master: Buffer;
  kdf?: KdfInfo;
}

function macKey(master: Buffer, keyId: string): Buffer {
  return Buffer.from(
    hkdfSync('sha256', master, Buffer.alloc(0), Buffer.from(`${HKDF_INFO}\0${keyId}`, 'utf8'), MAC_KEY_BYTES),
  );
}

/** The exact bytes the MAC covers. */
function macInput(m: Omit<Manifest, 'checksum'> | Manifest): string {
  const rest: Record<string, unknown> = { ...m };
  delete rest.checksum;
  if (rest.mac) {
    const { value: _value, ...unsigned } = rest.mac as ManifestMac;
    rest.mac = unsigned;
  }
  return canonicalize(rest);
}

function macValue(m: Omit<Manifest, 'checksum'> | Manifest, master: Buffer, keyId: string): Buffer {
  return createHmac('sha256', macKey(master, keyId)).update(macInput(m), 'utf8').digest();
}

/** The manifest body with its `mac` filled in; serializeManifest then adds the checksum. */
export function sealManifest<T extends Omit<Manifest, 'checksum'>>(body: T, seal: MacSeal): T {
  const unsigned: ManifestMac = {
    algorithm: 'HMAC-SHA256',
    keyId: seal.keyId,
    ...(seal.kdf ? { kdf: seal.kdf } : {}),
    value: '',
  };
  const withMac = { ...body, mac: unsigned };
  return { ...withMac, mac: { ...unsigned, value: macValue(withMac, seal.master, seal.keyId).toString('hex') } };
}

/** Constant-time comparison of the recorded MAC with the one `master` gives. */
export function manifestMacMatches(m: Manifest, master: Buffer): boolean {
  if (!m.mac) return false;
  const recorded = Buffer.from(m.mac.value, 'hex');
  const expected = macValue(m, master, m.mac.keyId);
  return recorded.length === expected.length && timingSafeEqual(recorded, expected);
}
