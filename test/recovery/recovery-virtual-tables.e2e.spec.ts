/**
 * Merge of SQLite full-text tables over HTTP: an own-content FTS5 table merges through its
 * module; a contentless index, which cannot be merged, is a 400 naming its tables and why,
 * before anything is written.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { execSql, queryRows } from '../support/sample-data';
import { createTestApp, type TestApp } from '../support/test-app';
import { recover } from './recovery-helpers';

describe('merge of SQLite full-text tables over HTTP', () => {
  let t: TestApp;
  const admin = () => ({ 'X-API-Key': t.adminKey });

  beforeAll(async () => {
    t = await createTestApp('sqlite', { BACKUP_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` });
    await execSql(t.db, [
      `CREATE VIRTUAL TABLE terms USING fts5(body, content = '', contentless_delete = 1)`,
      `INSERT INTO terms (rowid, body) VALUES (1, 'only the index keeps this')`,
      `CREATE VIRTUAL TABLE docs USING fts5(title, body)`,
      `INSERT INTO docs (rowid, title, body) VALUES (1, 'one', 'first words'), (2, 'two', 'second words')`,
    ]);
  });
  afterAll(() => t.close());

  it('merges an own-content index through its module, and refuses a contentless one with a 400 naming it', async () => {
    const backup = await createBackup(t);
    await execSql(t.db, [
      `UPDATE docs SET body = 'rewritten' WHERE rowid = 1`,
      `DELETE FROM docs WHERE rowid = 2`,
      `INSERT INTO terms (rowid, body) VALUES (5, 'later')`,
    ]);

    const refused = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: backup.id as string, mode: 'merge', confirm: `RESTORE ${backup.id as string}` })
      .expect(400);
    expect(refused.body.message).toMatch(/^mode: table\(s\) terms_\w+/);
    expect(refused.body.message).toContain('contentless full-text index terms');
    expect(await queryRows(t.db, `SELECT rowid AS id FROM terms WHERE terms MATCH 'later'`)).toEqual([{ id: 5 }]);

    const merged = await recover(t, { backupId: backup.id, mode: 'merge', tables: ['docs'], safetyBackup: false });
    expect(merged).toMatchObject({ status: 'completed', rowsWritten: 2 });
    expect(await queryRows(t.db, `SELECT rowid AS id FROM docs WHERE docs MATCH 'first' ORDER BY 1`)).toEqual([
      { id: 1 },
    ]);
    expect(await queryRows(t.db, `SELECT rowid AS id FROM docs WHERE docs MATCH 'rewritten'`)).toEqual([]);
    expect(await queryRows(t.db, `SELECT rowid AS id FROM docs WHERE docs MATCH 'second'`)).toEqual([{ id: 2 }]);
    await execSql(t.db, [`INSERT INTO docs (docs) VALUES ('integrity-check')`]);
  });
});
