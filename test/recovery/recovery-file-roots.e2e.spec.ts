/**
 * The server restores file artefacts only into the directories BACKUP_FILE_PATHS lists: a
 * backup naming others (the configuration changed, or its manifest was rewritten in storage)
 * is refused with a 409 naming them, and nothing is written there.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, tempDir } from '../support/databases';
import { createTestApp } from '../support/test-app';
import { waitForRecovery } from './recovery-helpers';

describe('file artefacts are restored only into configured directories', () => {
  it('refuses files of a directory BACKUP_FILE_PATHS no longer lists, and restores the rest without them', async () => {
    const db = await createTestDatabase('sqlite');
    const store = tempDir();
    const uploads = tempDir();
    const elsewhere = tempDir();
    mkdirSync(join(uploads.path, 'docs'));
    writeFileSync(join(uploads.path, 'docs', 'a.txt'), 'original');
    const env = { BACKUP_DIR: store.path, ADMIN_API_KEY: `roots-admin-${Date.now()}-0123456789abcdef` };
    try {
      const first = await createTestApp('sqlite', { ...env, BACKUP_FILE_PATHS: uploads.path }, { db });
      let backupId: string;
      try {
        backupId = (await createBackup(first)).id as string;
      } finally {
        await first.close();
      }

      const t = await createTestApp('sqlite', { ...env, BACKUP_FILE_PATHS: elsewhere.path }, { db });
      try {
        const admin = { 'X-API-Key': t.adminKey };
        const refused = await request(t.http)
          .post('/api/recoveries')
          .set(admin)
          .send({ backupId, confirm: `RESTORE ${backupId}` })
          .expect(409);
        expect(refused.body.message).toContain(
          `files of ${uploads.path}, which BACKUP_FILE_PATHS does not list (${elsewhere.path})`,
        );
        const explicit = await request(t.http)
          .post('/api/recoveries')
          .set(admin)
          .send({ backupId, confirm: `RESTORE ${backupId}`, files: true })
          .expect(409);
        expect(explicit.body.message).toMatch(/"files": false/);

        writeFileSync(join(uploads.path, 'docs', 'a.txt'), 'changed');
        const res = await request(t.http)
          .post('/api/recoveries')
          .set(admin)
          .send({ backupId, confirm: `RESTORE ${backupId}`, files: false, safetyBackup: false })
          .expect(202);
        expect(await waitForRecovery(t, res.body.id)).toMatchObject({ status: 'completed', options: { files: false } });
        expect(readdirSync(elsewhere.path)).toEqual([]);
        expect(existsSync(join(uploads.path, 'docs', 'a.txt'))).toBe(true);
      } finally {
        await t.close();
      }
    } finally {
      await db.drop();
      store.remove();
      uploads.remove();
      elsewhere.remove();
    }
  });
});
