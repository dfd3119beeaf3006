/**
 * Through the service: a backup whose stored file part was replaced with a crafted one (an
 * unencrypted backup can be rewritten by whoever can write storage) is unsound to verify and
 * fails to restore, naming the entry, with the file directories untouched and nothing written
 * outside them. And a file restore killed mid-swap is finished at the next service start.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { packArchive } from '../../src/engine/archive/archive-tar';
import { serializeManifest } from '../../src/engine/archive/manifest';
import type { Manifest } from '../../src/engine/archive/manifest.types';
import { partKey, writePart } from '../../src/engine/archive/part-io';
import { craftTar, snapshotTree } from '../../src/engine/backup/file-archive.fixture';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, tempDir } from '../support/databases';
import { createTestApp } from '../support/test-app';
import { builtPath, ROOT } from '../support/transpile';
import { waitForRecovery } from './recovery-helpers';

describe('file restores through the service', () => {
  it('refuses a stored backup whose file part holds a symlink: verify unsound, restore failed, nothing written', async () => {
    const db = await createTestDatabase('sqlite');
    const store = tempDir();
    const files = tempDir();
    const uploads = join(files.path, 'uploads');
    const outside = join(files.path, 'outside');
    mkdirSync(uploads);
    mkdirSync(outside);
    writeFileSync(join(uploads, 'a.txt'), 'original');
    const t = await createTestApp('sqlite', { BACKUP_DIR: store.path, BACKUP_FILE_PATHS: uploads }, { db });
    try {
      const admin = { 'X-API-Key': t.adminKey };
      const backupId = (await createBackup(t)).id as string;
      // Rewrite the file part and the manifest as an attacker with storage access would.
      const storage = new LocalStorage(store.path);
      const dir = `backups/${backupId}`;
      const m = JSON.parse(readFileSync(join(store.path, dir, 'manifest.json'), 'utf8')) as Manifest;
      expect(m.encryption).toBeNull();
      const crafted = await craftTar([
        { header: { name: '0/', type: 'directory' } },
        { header: { name: '0/escape', type: 'symlink', linkname: outside } },
        { header: { name: '0/escape/planted.txt', type: 'file' }, body: 'planted' },
      ]);
      const part = await writePart(storage, dir, 'parts/files.tar', Readable.from([crafted]), {
        compression: m.compression,
      });
      const { checksum: _old, ...body } = { ...m, files: { ...m.files, count: 1, bytes: 7, part } };
      await storage.put(partKey(dir, 'manifest.json'), Readable.from([serializeManifest(body)]));

      const v = await request(t.http).post(`/api/backups/${backupId}/verify`).set(admin).send({}).expect(200);
      expect(v.body.ok).toBe(false);
      expect(v.body.checks).toContainEqual(
        expect.objectContaining({
          name: 'part parts/files.tar',
          ok: false,
          detail: expect.stringContaining('"0/escape" is a symlink'),
        }),
      );

      // The same backup as a download-style archive, imported: refused as a whole.
      const chunks: Buffer[] = [];
      for await (const c of packArchive(storage, dir)) chunks.push(c as Buffer);
      const tarBytes = Buffer.concat(chunks);
      const imported = await request(t.http)
        .post('/api/backups/import')
        .set(admin)
        .attach('file', tarBytes, 'crafted.tar')
        .expect(422);
      expect(imported.body.message).toContain('"0/escape" is a symlink');

      writeFileSync(join(uploads, 'a.txt'), 'current');
      const res = await request(t.http)
        .post('/api/recoveries')
        .set(admin)
        .send({ backupId, confirm: `RESTORE ${backupId}`, safetyBackup: false })
        .expect(202);
      const done = await waitForRecovery(t, res.body.id);
      expect(done.status).toBe('failed');
      expect(done.error).toContain('"0/escape" is a symlink');
      // Checked before the tables, so the database was not restored either.
      expect(done.error).not.toContain('tables were restored');
      expect(snapshotTree(uploads)).toEqual({ 'a.txt': 'current' });
      expect(snapshotTree(outside)).toEqual({});
      expect(readdirSync(files.path).sort()).toEqual(['outside', 'uploads']);
    } finally {
      await t.close();
      await db.drop();
      store.remove();
      files.remove();
    }
  });

  it('finishes a file restore killed mid-swap when the service starts', async () => {
    const db = await createTestDatabase('sqlite');
    const files = tempDir();
    const roots = [join(files.path, 'uploads'), join(files.path, 'reports')];
    roots.forEach((r) => {
      mkdirSync(r);
      writeFileSync(join(r, 'version.txt'), 'old');
    });
    const scratch = tempDir();
    const tarFile = join(scratch.path, 'new.tar');
    writeFileSync(
      tarFile,
      await craftTar([
        { header: { name: '0/version.txt', type: 'file' }, body: 'new' },
        { header: { name: '1/version.txt', type: 'file' }, body: 'new' },
      ]),
    );
    const child = spawn(
      process.execPath,
      [builtPath('src/engine/backup/file-restore-crash.child.ts'), tarFile, JSON.stringify(roots), 'swapped-in', '0'],
      { cwd: ROOT, stdio: 'ignore' },
    );
    const signal = await new Promise((resolve) => child.on('close', (_code, s) => resolve(s)));
    expect(signal).toBe('SIGKILL');
    expect(readFileSync(join(roots[0], 'version.txt'), 'utf8')).toBe('new');
    expect(readFileSync(join(roots[1], 'version.txt'), 'utf8')).toBe('old');

    const t = await createTestApp('sqlite', { BACKUP_FILE_PATHS: roots.join(',') }, { db });
    try {
      for (const r of roots) expect(snapshotTree(r)).toEqual({ 'version.txt': 'new' });
      expect(readdirSync(files.path).sort()).toEqual(['reports', 'uploads']);
    } finally {
      await t.close();
      await db.drop();
      files.remove();
      scratch.remove();
    }
  });
});
