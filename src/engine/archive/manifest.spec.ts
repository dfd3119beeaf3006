import { createHash } from 'node:crypto';
import { canonicalize } from '../jcs';
import { ArchiveError } from './errors';
import { listParts, parseManifest, serializeManifest } from './manifest';
import { fakePart, sampleManifest } from './manifest.fixture';
import type { Manifest } from './manifest.types';

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
      (m: Manifest) => (m.tables[0].part.sha256 = 'c'.repeat(64)),
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

  it.each(['parts/../../etc/passwd', '/parts/x', 'parts/', 'parts//x', 'manifest.json', 'parts/a\\b', 'parts/./x', 'x'])(
    'rejects a part named %j even with a valid checksum',
    (name) => {
      const m = sampleManifest();
      m.tables[0].part = part(name);
      expect(() => parseManifest(serializeManifest(m))).toThrow(/unsafe or invalid part name/);
    },
  );

  it('rejects a part listed twice', () => {
    const m = sampleManifest({ files: { count: 1, bytes: 1, roots: [], part: part('parts/0001.rows') } });
    expect(() => parseManifest(serializeManifest(m))).toThrow('manifest lists part parts/0001.rows twice');
  });

  it('lists parts in schema, tables, files order', () => {
    const m = sampleManifest({ files: { count: 1, bytes: 1, roots: [], part: part('parts/files.tar') } });
    expect(listParts(m).map((p) => p.name)).toEqual(['parts/schema.sql', 'parts/0001.rows', 'parts/files.tar']);
  });
});
