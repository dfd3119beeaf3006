/** POST /api/backups/import refuses an archive larger than IMPORT_MAX_BYTES with a 413, and keeps nothing of it. */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

const LIMIT = 64 * 1024;

describe('import size limit', () => {
  let t: TestApp;
  // Uploads wait in a directory of this test's own, so "nothing kept" can be checked exactly.
  const uploads = mkdtempSync(join(tmpdir(), 'strongroom-uploads-'));
  beforeAll(async () => {
    t = await createTestApp('sqlite', { IMPORT_MAX_BYTES: String(LIMIT), IMPORT_TMP_DIR: uploads });
  });
  afterAll(async () => {
    await t.close();
    rmSync(uploads, { recursive: true, force: true });
  });

  const admin = () => ({ 'X-API-Key': t.adminKey });
  const listing = () => readdirSync(uploads).sort();
  /** Names of files that appeared in the upload directory while `work` ran (inotify, not polling). */
  const watchingUploads = async (work: () => Promise<unknown>): Promise<string[]> => {
    const names: string[] = [];
    const watcher = watch(uploads, (_event, name) => name && names.push(String(name)));
    try {
      await work();
      // Let events already queued by the kernel reach the callback.
      await new Promise((r) => setImmediate(r));
    } finally {
      watcher.close();
    }
    return names;
  };
  const storedFiles = () =>
    existsSync(t.config.BACKUP_DIR) ? readdirSync(t.config.BACKUP_DIR, { recursive: true }).map(String).sort() : [];

  it('answers 413 naming the limit, and leaves no temporary file, catalog row or stored part', async () => {
    const before = { tmp: listing(), stored: storedFiles() };
    let res!: request.Response;
    const created = await watchingUploads(async () => {
      res = await request(t.http)
        .post('/api/backups/import')
        .set(admin())
        .attach('file', randomBytes(LIMIT * 4), 'big.tar');
    });
    expect(res.status).toBe(413);
    // The upload did start in IMPORT_TMP_DIR (so the listing below means something), and is gone.
    expect(created.length).toBeGreaterThan(0);
    expect(JSON.stringify(res.body.message)).toMatch(/IMPORT_MAX_BYTES/);
    expect(listing()).toEqual(before.tmp);
    expect(storedFiles()).toEqual(before.stored);
    const catalog = await request(t.http).get('/api/backups?trigger=import').set(admin()).expect(200);
    expect(catalog.body.items).toEqual([]);
  });

  it('still reads an upload within the limit (a foreign file: 422), and removes it afterwards', async () => {
    const before = listing();
    const created = await watchingUploads(() =>
      request(t.http)
        .post('/api/backups/import')
        .set(admin())
        .attach('file', randomBytes(LIMIT - 1024), 'small.tar')
        .expect(422),
    );
    expect(created.length).toBeGreaterThan(0);
    expect(listing()).toEqual(before);
  });
});
