/**
 * GET /api/backups/:id shows what the manifest records about the database at the snapshot:
 * its inventory and, for whole PostgreSQL databases, what configuration left out. Lists leave
 * both out (the inventory grows with the database). Both engines, real databases and storage.
 */
import request from 'supertest';
import { BACKUP_STORAGE } from '../../src/backup/storage.provider';
import { readManifest } from '../../src/engine/backup/read-backup';
import type { BackupStorage } from '../../src/engine/storage/storage';
import { createBackup } from '../support/backup-helpers';
import { ENGINES } from '../support/databases';
import { execSql, seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';

describe.each(ENGINES)('a backup shows its inventory and exclusions on %s', (engine) => {
  let t: TestApp;
  const auditor = () => ({ 'X-API-Key': t.keys.auditor });

  beforeAll(async () => {
    // A table whose rows configuration leaves out (PostgreSQL full backups record it in `excluded`).
    t = await createTestApp(engine, engine === 'postgres' ? { BACKUP_EXCLUDE_TABLES: 'scratch_*' } : {});
    await seedSample(t.db);
    await execSql(t.db, [
      `CREATE TABLE scratch_cache (k INTEGER PRIMARY KEY, v TEXT)`,
      `INSERT INTO scratch_cache VALUES (1, 'x')`,
    ]);
  });
  afterAll(() => t.close());

  it('GET /api/backups/:id carries the manifest inventory and exclusions; the list does not', async () => {
    const b = await createBackup(t);
    expect(b.status).toBe('completed');
    const one = await request(t.http)
      .get(`/api/backups/${b.id as string}`)
      .set(auditor())
      .expect(200);
    const manifest = await readManifest(t.app.get<BackupStorage>(BACKUP_STORAGE), `backups/${b.id as string}`);
    expect(manifest.inventory).toBeDefined();
    expect(one.body.inventory).toEqual(manifest.inventory);
    // What it says is the database's: tables counted, and each archived table's rows.
    const schema = engine === 'postgres' ? 'public' : 'main';
    expect(one.body.inventory.schemas[schema].table.count).toBeGreaterThanOrEqual(3);
    const rows = one.body.inventory.rows as Record<string, number>;
    const rowsOf = (name: string) => rows[name] ?? rows[`${schema}.${name}`];
    expect(rowsOf('tasks')).toBe(500);
    expect(rowsOf('projects')).toBe(20);
    if (engine === 'postgres') {
      expect(one.body.excluded).toEqual(manifest.excluded);
      expect(one.body.excluded).toEqual(
        expect.arrayContaining([
          { kind: 'table-data', name: 'scratch_cache', reason: expect.stringMatching(/BACKUP_EXCLUDE_TABLES/) },
        ]),
      );
    } else {
      // A SQLite backup keeps no list of exclusions: null says "not recorded", not "nothing left out".
      expect(manifest.excluded).toBeUndefined();
      expect(one.body.excluded).toBeNull();
    }

    const list = await request(t.http).get('/api/backups').set(auditor()).expect(200);
    const item = (list.body.items as Record<string, unknown>[]).find((x) => x.id === b.id);
    expect(item).toBeDefined();
    expect(item).not.toHaveProperty('inventory');
    expect(item).not.toHaveProperty('excluded');
  });

  it('a catalog row rebuilt from storage by a rescan carries them too', async () => {
    const b = await createBackup(t, { type: 'tables', tables: ['tasks'] });
    // The catalog is an index over storage: a rescan rebuilds the row, inventory included.
    await t.dataSource.query(`DELETE FROM strongroom_backups WHERE id = '${b.id as string}'`);
    await request(t.http)
      .get(`/api/backups/${b.id as string}`)
      .set(auditor())
      .expect(404);
    const rescan = await request(t.http).post('/api/backups/rescan').set('X-API-Key', t.adminKey).expect(201);
    expect(rescan.body.added).toContain(b.id);
    const again = await request(t.http)
      .get(`/api/backups/${b.id as string}`)
      .set(auditor())
      .expect(200);
    const manifest = await readManifest(t.app.get<BackupStorage>(BACKUP_STORAGE), `backups/${b.id as string}`);
    expect(again.body.inventory).toEqual(manifest.inventory ?? null);
    expect(again.body.excluded).toEqual(manifest.excluded ?? null);
  });
});
