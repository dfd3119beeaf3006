import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import {
  DEFAULT_SCRYPT,
  deriveKeyFromKdf,
  deriveKeyFromPassphrase,
  Keyring,
  newKdf,
  parseKeyring,
  scryptParamsProblem,
} from './keyring';

const k1 = randomBytes(32).toString('base64');
const k2 = randomBytes(32).toString('base64');

describe('parseKeyring', () => {
  it('reads id:base64 pairs; the last one is active unless an id is chosen', () => {
    const ring = parseKeyring(` old:${k1} , new:${k2} `);
    expect(ring.ids()).toEqual(['old', 'new']);
    expect(ring.activeId).toBe('new');
    expect(ring.active().key.equals(Buffer.from(k2, 'base64'))).toBe(true);
    expect(parseKeyring(`old:${k1},new:${k2}`, 'old').active().keyId).toBe('old');
    expect(ring.get('old')?.equals(Buffer.from(k1, 'base64'))).toBe(true);
    expect(ring.get('missing')).toBeUndefined();
  });

  it.each([
    ['', /is empty/],
    [`a:${k1},`, /entry 2 is empty/],
    [k1, /entry 1 is not in id:base64 form/],
    [`a b:${k1}`, /entry 1 has an invalid key id/],
    [`a:${k1},b:not*base64`, /entry 2 \(id "b"\): key is not valid base64/],
    [`a:${randomBytes(31).toString('base64')}`, /entry 1 \(id "a"\): key must decode to 32 bytes, got 31/],
    [`a:${k1},a:${k2}`, /entry 2: key id "a" appears more than once/],
  ])('rejects %j clearly without echoing key bytes', (spec, message) => {
    let error: Error | undefined;
    try {
      parseKeyring(spec);
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).toMatch(message);
    for (const secret of [k1, k2, k1.slice(0, 12), k2.slice(0, 12)]) expect(error?.message).not.toContain(secret);
  });

  it('rejects an active id that is not in the ring, listing the ids it has', () => {
    expect(() => parseKeyring(`a:${k1}`, 'zz')).toThrow(
      'BACKUP_ENCRYPTION_KEY_ID "zz" is not in BACKUP_ENCRYPTION_KEYS (ids: a)',
    );
  });

  it('never shows key bytes when logged or serialised', () => {
    const ring = parseKeyring(`a:${k1},b:${k2}`);
    const shown = `${inspect(ring)} ${JSON.stringify(ring)} ${inspect({ nested: ring })}`;
    expect(shown).toContain('"b"');
    for (const key of [k1, k2, Buffer.from(k1, 'base64').toString('hex')]) expect(shown).not.toContain(key);
  });

  it('copies keys so later changes to the caller buffer do not alter the ring', () => {
    const key = randomBytes(32);
    const ring = new Keyring([['x', key]]);
    const before = Buffer.from(key);
    key.fill(0);
    expect(ring.get('x')?.equals(before)).toBe(true);
  });
});

describe('passphrase keys', () => {
  it('derives the same 32-byte key from the recorded parameters, and a different one for another salt or passphrase', async () => {
    const kdf = newKdf({ N: 2 ** 14, r: 8, p: 1 });
    const a = await deriveKeyFromKdf('correct horse', kdf);
    expect(a).toHaveLength(32);
    expect((await deriveKeyFromKdf('correct horse', kdf)).equals(a)).toBe(true);
    expect((await deriveKeyFromKdf('correct horse', newKdf({ N: 2 ** 14, r: 8, p: 1 }))).equals(a)).toBe(false);
    expect((await deriveKeyFromKdf('correct horsf', kdf)).equals(a)).toBe(false);
  });

  it('refuses a crafted huge N without ever calling scrypt', async () => {
    // The module object itself (an `import * as` namespace is a frozen copy keyring.ts does not call through).
    const scrypt = jest.spyOn(require('node:crypto') as typeof import('node:crypto'), 'scrypt');
    try {
      const kdf = { name: 'scrypt' as const, salt: randomBytes(16).toString('base64'), N: 2 ** 30, r: 8, p: 1 };
      await expect(deriveKeyFromKdf('correct horse', kdf)).rejects.toThrow(
        /scrypt N must be a power of two from 2\^14 to 2\^17/,
      );
      await expect(deriveKeyFromKdf('correct horse', { ...kdf, N: 2 ** 15, r: 1 << 20 })).rejects.toThrow(
        /scrypt r must be 8/,
      );
      expect(scrypt).not.toHaveBeenCalled();
      // The spy does see a derivation within the bound, so its silence above means something.
      await deriveKeyFromKdf('correct horse', { ...kdf, N: 2 ** 14 });
      expect(scrypt).toHaveBeenCalledTimes(1);
    } finally {
      scrypt.mockRestore();
    }
  });

  it('accepts the upper bound N=2^17 and its own defaults', async () => {
    expect(scryptParamsProblem(DEFAULT_SCRYPT)).toBeNull();
    expect(await deriveKeyFromPassphrase('pass', randomBytes(16), { N: 2 ** 17, r: 8, p: 1 })).toHaveLength(32);
  });

  it("works with the default N=2^15, r=8 (which exceeds Node's default scrypt memory cap)", async () => {
    const key = await deriveKeyFromPassphrase('pass', randomBytes(16));
    expect(key).toHaveLength(32);
  });

  it('refuses hostile or weak parameters', async () => {
    await expect(deriveKeyFromPassphrase('p', randomBytes(16), { N: 2 ** 24, r: 8, p: 1 })).rejects.toThrow(/scrypt N/);
    await expect(deriveKeyFromPassphrase('p', randomBytes(16), { N: 2 ** 18, r: 8, p: 1 })).rejects.toThrow(
      /2\^14 to 2\^17/,
    );
    await expect(deriveKeyFromPassphrase('p', randomBytes(16), { N: 2 ** 10, r: 8, p: 1 })).rejects.toThrow(/scrypt N/);
    await expect(deriveKeyFromPassphrase('p', randomBytes(16), { N: 2 ** 15, r: 16, p: 1 })).rejects.toThrow(
      /scrypt r must be 8/,
    );
    await expect(deriveKeyFromPassphrase('p', randomBytes(16), { N: 2 ** 15, r: 8, p: 4 })).rejects.toThrow(
      /scrypt p must be 1/,
    );
    await expect(deriveKeyFromPassphrase('p', randomBytes(65))).rejects.toThrow(/salt/);
    await expect(deriveKeyFromPassphrase('p', randomBytes(16), { N: 1000, r: 8, p: 1 })).rejects.toThrow(
      /power of two/,
    );
    await expect(deriveKeyFromPassphrase('p', randomBytes(4))).rejects.toThrow(/salt/);
    await expect(deriveKeyFromPassphrase('', randomBytes(16))).rejects.toThrow(/passphrase is empty/);
  });
});
