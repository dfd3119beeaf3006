import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { tempDir } from '../../../test/support/databases';
import { serializeManifest } from '../archive/manifest';
import { sampleManifest } from '../archive/manifest.fixture';
import type { PartInfo } from '../archive/manifest.types';
import { LocalStorage } from '../storage/local-storage';
import { checkCopy, copyBackup, CopyCheckError } from './backup-copy';
import { readAll } from '../storage/read-all';

const DIR = 'backups/6f1c2a8e-0000-4000-8000-000000000001';

function part(name: string, body: Buffer): PartInfo {
  const sha256 = createHash('sha256').update(body).digest('hex');
  return { name, size: body.length, sha256, rawBytes: body.length, rawSha256: sha256 };
}

/** A stored backup whose parts are arbitrary bytes with true checksums (the copy never decrypts). */
async function storeBackup(storage: LocalStorage): Promise<Record<string, Buffer>> {
  const bodies = {
    'parts/schema.sql': Buffer.from('CREATE TABLE users (id INTEGER)'),
    'parts/0001.rows': Buffer.alloc(70_000, 3),
  };
  const base = sampleManifest();
  const m = sampleManifest({
    schema: { ...base.schema, part: part('parts/schema.sql', bodies['parts/schema.sql']) },
    tables: [{ ...base.tables[0], part: part('parts/0001.rows', bodies['parts/0001.rows']) }],
  });
  for (const [name, body] of Object.entries(bodies)) await storage.put(`${DIR}/${name}`, Readable.from([body]));
  await storage.put(`${DIR}/manifest.json`, Readable.from([serializeManifest(m)]));
  return bodies;
}

describe('copyBackup and checkCopy', () => {
  const root = tempDir();
  afterAll(() => root.remove());
  let n = 0;
  const pair = () => {
    n++;
    return [new LocalStorage(`${root.path}/from-${n}`), new LocalStorage(`${root.path}/to-${n}`)] as const;
  };

  it('copies every part and then the manifest, byte for byte, and the copy checks out', async () => {
    const [from, to] = pair();
    const bodies = await storeBackup(from);
    const r = await copyBackup(from, to, DIR);
    expect(r.parts).toBe(2);
    for (const [name, body] of Object.entries(bodies))
      expect((await readAll(await to.get(`${DIR}/${name}`))).equals(body)).toBe(true);
    expect(
      (await readAll(await to.get(`${DIR}/manifest.json`))).equals(
        await readAll(await from.get(`${DIR}/manifest.json`)),
      ),
    ).toBe(true);
    expect(await checkCopy(to, DIR)).toMatchObject({ ok: true });
    expect(await checkCopy(to, DIR, { sizesOnly: true })).toMatchObject({ ok: true });
  });

  it('refuses a source part that does not match its manifest, and leaves no manifest behind', async () => {
    const [from, to] = pair();
    await storeBackup(from);
    const bad = Buffer.alloc(70_000, 3);
    bad[100] = 9; // same size, other bytes
    await from.put(`${DIR}/parts/0001.rows`, Readable.from([bad]));
    await expect(copyBackup(from, to, DIR)).rejects.toThrow(CopyCheckError);
    await expect(copyBackup(from, to, DIR)).rejects.toThrow(/parts\/0001\.rows: SHA-256 .* differs/);
    expect(await to.stat(`${DIR}/manifest.json`)).toBeNull();
    // A size-only check cannot see altered bytes; the full one does.
    expect(await checkCopy(from, DIR, { sizesOnly: true })).toMatchObject({ ok: true });
    expect(await checkCopy(from, DIR)).toMatchObject({
      ok: false,
      problem: expect.stringContaining('parts/0001.rows'),
    });
  });

  it('names a missing manifest or part', async () => {
    const [from, to] = pair();
    expect(await checkCopy(from, DIR)).toMatchObject({ ok: false, problem: expect.stringContaining('manifest') });
    await storeBackup(from);
    await from.delete(`${DIR}/parts/schema.sql`);
    expect(await checkCopy(from, DIR, { sizesOnly: true })).toEqual({
      ok: false,
      problem: 'part parts/schema.sql: missing',
    });
    await expect(copyBackup(from, to, DIR)).rejects.toThrow(/not found/);
    expect(await to.stat(`${DIR}/manifest.json`)).toBeNull();
  });
});
