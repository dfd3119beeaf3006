import { createHash } from 'node:crypto';
import { canonicalize } from '../jcs';
import { ArchiveError } from './errors';
import { listParts, parseManifest, serializeManifest } from './manifest';
import { fakePart, sampleManifest } from './manifest.fixture';
import type { Manifest, PartInfo } from './manifest.types';

const part = fakePart;

function reserialize(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(obj));
}

describe('manifest', () => {
  it('round-trips, readable for people, with the checksum over the canonical form', () => {
    const m = sampleManifest();
    const bytes = serializeManifest(m);
    expect(bytes.toString()).toContain('\n  "format": "strongroom-backup"');
    const parsed = parseManifest(bytes);
    const { checksum, ...rest } = parsed;
    expect(rest).toEqual(m);
    expect(checksum).toBe(createHash('sha256').update(canonicalize(m)).digest('hex'));
  });

  it('is independent of formatting and key order', () => {
    const parsed = parseManifest(serializeManifest(sampleManifest()));
    const reordered = Object.fromEntries(Object.entries(parsed).reverse());
    expect(parseManifest(reserialize(reordered))).toEqual(parsed);
  });

  it('detects any changed field', () => {
    const parsed = parseManifest(serializeManifest(sampleManifest()));
    for (const tamper of [
      (m: Manifest) => (m.tables[0].rows = 3),
      (m: Manifest) => ((m.tables[0].part as PartInfo).sha256 = 'c'.repeat(64)),
      (m: Manifest) => (m.description = 'x'),
      (m: Manifest) => (m.encryption = null),
    ]) {
      const copy = structuredClone(parsed);
      tamper(copy);
      expect(() => parseManifest(reserialize(copy))).toThrow('manifest checksum mismatch');
    }
    const copy = structuredClone(parsed) as Manifest & { extra?: number };
    copy.extra = 1;
    expect(() => parseManifest(reserialize(copy))).toThrow(expect.objectContaining({ code: 'checksum-mismatch' }));
  });

  it('names foreign and future files', () => {
    expect(() => parseManifest(Buffer.from('{"hello":1}'))).toThrow('not a Strongroom manifest');
    expect(() => parseManifest(Buffer.from('\x00\x01binary'))).toThrow(/not a Strongroom manifest: invalid JSON/);
    const future = { ...parseManifest(serializeManifest(sampleManifest())), formatVersion: 2 };
    let err: unknown;
    try {
      parseManifest(reserialize(future));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ArchiveError);
    expect((err as ArchiveError).code).toBe('unsupported-format');
    expect((err as ArchiveError).message).toMatch(/unsupported manifest format version 2/);
  });

  it.each([
    'parts/../../etc/passwd',
    '/parts/x',
    'parts/',
    'parts//x',
    'manifest.json',
    'parts/a\\b',
    'parts/./x',
    'x',
  ])('rejects a part named %j even with a valid checksum', (name) => {
    const m = sampleManifest();
    m.tables[0].part = part(name);
    expect(() => parseManifest(serializeManifest(m))).toThrow(/unsafe or invalid part name/);
  });

  it('reads a table in binary COPY form and refuses a row format it does not know', () => {
    const m = sampleManifest();
    const binary = { ...m, tables: m.tables.map((t) => ({ ...t, rowFormat: 'pg-copy-binary' as const })) };
    expect(parseManifest(serializeManifest(binary)).tables[0].rowFormat).toBe('pg-copy-binary');
    const unknown = { ...m, tables: m.tables.map((t) => ({ ...t, rowFormat: 'pg-copy-csv' })) } as unknown as Manifest;
    expect(() => parseManifest(serializeManifest(unknown))).toThrow(/unknown row format "pg-copy-csv"/);
  });

  it('rejects a part listed twice', () => {
    const m = sampleManifest({ files: { count: 1, bytes: 1, roots: [], part: part('parts/0001.rows') } });
    expect(() => parseManifest(serializeManifest(m))).toThrow('manifest lists part parts/0001.rows twice');
  });

  it('lists parts in schema, tables, files order', () => {
    const m = sampleManifest({ files: { count: 1, bytes: 1, roots: [], part: part('parts/files.tar') } });
    expect(listParts(m).map((p) => p.name)).toEqual(['parts/schema.sql', 'parts/0001.rows', 'parts/files.tar']);
  });

  describe('ids and other catalog fields', () => {
    it.each([
      '..',
      '../../etc',
      'x'.repeat(300),
      '6F1C2A8E-0000-4000-8000-000000000001',
      '',
      'backups/6f1c2a8e-0000-4000-8000-000000000001',
    ])('refuses the id %j with a checksum that matches', (id) => {
      let err: unknown;
      try {
        parseManifest(serializeManifest(sampleManifest({ id })));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ArchiveError);
      expect((err as ArchiveError).code).toBe('corrupt-manifest');
      expect((err as ArchiveError).message).toMatch(/is not a backup id \(a lowercase UUID\)/);
    });

    it('refuses a schedule id, type, trigger, description or tags the catalog could not hold', () => {
      const cases: Array<[Partial<Manifest>, RegExp]> = [
        [{ scheduleId: '../x' }, /scheduleId/],
        [{ type: 'everything' as Manifest['type'] }, /unknown type/],
        [{ trigger: 'import; drop' as Manifest['trigger'] }, /unknown trigger/],
        [{ description: 'd'.repeat(1001) }, /description/],
        [{ tags: ['t'.repeat(65)] }, /tags/],
        [{ encryption: { algorithm: 'AES-256-GCM', keyId: 'k/../1', frameSize: 65536 } }, /encryption description/],
      ];
      for (const [override, message] of cases) {
        expect(() => parseManifest(serializeManifest(sampleManifest(override)))).toThrow(message);
      }
    });
  });

  describe('key-derivation parameters', () => {
    const kdf = (over: Record<string, unknown>) => ({
      name: 'scrypt',
      salt: Buffer.alloc(16, 7).toString('base64'),
      N: 2 ** 15,
      r: 8,
      p: 1,
      ...over,
    });

    it.each([
      [{ N: 2 ** 30 }, /scrypt N must be a power of two from 2\^14 to 2\^17/],
      [{ N: 2 ** 18 }, /scrypt N/],
      [{ N: 3 }, /scrypt N/],
      [{ r: 1024 }, /scrypt r must be 8/],
      [{ p: 64 }, /scrypt p must be 1/],
    ])('refuses %j in encryption.kdf at parse time, before any key is derived', (over, message) => {
      const m = sampleManifest({
        encryption: { algorithm: 'AES-256-GCM', keyId: 'passphrase', frameSize: 65536, kdf: kdf(over) as never },
      });
      let err: unknown;
      try {
        parseManifest(serializeManifest(m));
      } catch (e) {
        err = e;
      }
      expect((err as ArchiveError).code).toBe('unsupported-format');
      expect((err as Error).message).toMatch(message);
    });

    it('refuses the same in a MAC, and a salt that is too short or too long', () => {
      const mac = (k: Record<string, unknown>) => ({
        algorithm: 'HMAC-SHA256' as const,
        keyId: 'passphrase',
        kdf: k as never,
        value: 'c'.repeat(64),
      });
      expect(() => parseManifest(serializeManifest(sampleManifest({ mac: mac(kdf({ N: 2 ** 31 })) })))).toThrow(
        /mac.kdf: scrypt N/,
      );
      expect(() => parseManifest(serializeManifest(sampleManifest({ mac: mac(kdf({ salt: 'AAAA' })) })))).toThrow(
        /salt/,
      );
      expect(() =>
        parseManifest(
          serializeManifest(sampleManifest({ mac: mac(kdf({ salt: Buffer.alloc(65).toString('base64') })) })),
        ),
      ).toThrow(/salt/);
      expect(parseManifest(serializeManifest(sampleManifest({ mac: mac(kdf({})) }))).mac?.kdf?.N).toBe(2 ** 15);
    });

    it('refuses a malformed MAC', () => {
      const m = sampleManifest({ mac: { algorithm: 'HMAC-MD5' as 'HMAC-SHA256', keyId: 'k1', value: 'c'.repeat(64) } });
      expect(() => parseManifest(serializeManifest(m))).toThrow(/invalid mac/);
    });
  });
});
