/**
 * Manifest authentication policy: what is accepted with and without a configured key, and that
 * every alteration of a sealed manifest (field, key id, MAC) is refused.
 */
import { randomBytes } from 'node:crypto';
import { parseManifest, serializeManifest } from '../archive/manifest';
import { sealManifest } from '../archive/manifest-auth';
import { sampleManifest } from '../archive/manifest.fixture';
import type { Manifest } from '../archive/manifest.types';
import {
  authenticateManifest,
  keysForManifest,
  keySourceFromConfig,
  PASSPHRASE_KEY_ID,
  sealForNewBackup,
} from './backup-keys';

const K1 = randomBytes(32);
const K2 = randomBytes(32);
const ring = (spec: string, extra: { allowUnauthenticated?: boolean } = {}) =>
  keySourceFromConfig({ keys: spec, ...extra });
const both = `k1:${K1.toString('base64')},k2:${K2.toString('base64')}`;

/** A manifest as read back from storage: sealed (or not), serialized with its checksum, parsed. */
function stored(body: Omit<Manifest, 'checksum'>): Manifest {
  return parseManifest(serializeManifest(body));
}

/** Re-serializing gives a fresh, valid checksum: what anyone with write access to storage can do. */
function tampered(m: Manifest, change: (copy: Manifest) => void): Manifest {
  const copy = structuredClone(m);
  change(copy);
  const { checksum: _c, ...body } = copy;
  return stored(body);
}

describe('manifest authentication', () => {
  const sealed = stored(sealManifest(sampleManifest(), { keyId: 'k1', master: K1 }));

  it('accepts a manifest sealed with a key of the ring, and says so', async () => {
    await expect(authenticateManifest(ring(both), sealed)).resolves.toBe('MAC verified with key id "k1"');
    expect(sealed.mac).toMatchObject({ algorithm: 'HMAC-SHA256', keyId: 'k1' });
    expect(sealed.mac?.value).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses any change made after sealing, even with a recomputed checksum', async () => {
    const changes: Array<(m: Manifest) => void> = [
      (m) => (m.trigger = 'scheduled'),
      (m) => (m.tables[0].name = 'strongroom_api_keys'),
      (m) => (m.encryption = null),
      (m) => (m.files.roots = ['/etc']),
      (m) => (m.mac!.value = 'd'.repeat(64)),
      (m) => (m.mac!.keyId = 'k2'),
    ];
    for (const change of changes) {
      const m = tampered(sealed, change);
      await expect(authenticateManifest(ring(both), m)).rejects.toMatchObject({ code: 'not-authenticated' });
      await expect(keysForManifest(ring(both), m)).rejects.toMatchObject({ code: 'not-authenticated' });
    }
  });

  it('does not verify under another key of the same id', async () => {
    await expect(authenticateManifest(ring(`k1:${K2.toString('base64')}`), sealed)).rejects.toThrow(
      /does not verify with key id "k1": a wrong key/,
    );
    await expect(authenticateManifest(ring(`k2:${K2.toString('base64')}`), sealed)).rejects.toThrow(
      /key id "k1", which is not in the keyring/,
    );
  });

  it('with a key configured, refuses a manifest without a MAC unless ALLOW_UNAUTHENTICATED_ARCHIVES is set', async () => {
    const plain = stored(sampleManifest({ encryption: null }));
    await expect(authenticateManifest(ring(both), plain)).rejects.toThrow(
      /carries no MAC.*ALLOW_UNAUTHENTICATED_ARCHIVES=true/,
    );
    await expect(authenticateManifest(ring(both, { allowUnauthenticated: true }), plain)).resolves.toMatch(
      /accepted because ALLOW_UNAUTHENTICATED_ARCHIVES=true/,
    );
    // The flag never excuses a MAC that is present and wrong.
    const forged = tampered(sealed, (m) => (m.description = 'changed'));
    await expect(authenticateManifest(ring(both, { allowUnauthenticated: true }), forged)).rejects.toMatchObject({
      code: 'not-authenticated',
    });
  });

  it('without a key, checks the checksum only and says so', async () => {
    const none = keySourceFromConfig({});
    await expect(authenticateManifest(none, stored(sampleManifest({ encryption: null })))).resolves.toMatch(
      /no key is configured; checksum only/,
    );
    await expect(authenticateManifest(none, sealed)).resolves.toMatch(/not checked: no key is configured/);
  });

  it('seals with a passphrase-derived key that the same passphrase verifies and another does not', async () => {
    const src = keySourceFromConfig({ passphrase: 'correct horse battery staple' });
    const seal = await sealForNewBackup(src, null);
    expect(seal).toMatchObject({ keyId: PASSPHRASE_KEY_ID, kdf: { name: 'scrypt', N: 2 ** 15, r: 8, p: 1 } });
    const m = stored(sealManifest(sampleManifest({ encryption: null }), seal!));
    await expect(authenticateManifest(src, m)).resolves.toBe('MAC verified with key id "passphrase"');
    await expect(
      authenticateManifest(keySourceFromConfig({ passphrase: 'wrong horse battery staple' }), m),
    ).rejects.toMatchObject({ code: 'not-authenticated' });
    await expect(authenticateManifest(ring(both), m)).rejects.toThrow(/BACKUP_ENCRYPTION_PASSPHRASE is not set/);
  });

  it('seals with the active key of the ring', async () => {
    const seal = await sealForNewBackup(keySourceFromConfig({ keys: both, activeId: 'k1' }), null);
    expect(seal?.keyId).toBe('k1');
    expect(seal?.master.equals(K1)).toBe(true);
    expect(await sealForNewBackup(keySourceFromConfig({}), null)).toBeNull();
  });
});
