/**
 * Ctrl-C during a command-line restore: the restore is cancelled before its commit, rolled back
 * with its staged file artefacts removed, the command says so and exits 1; the target's tables
 * and files are exactly as they were.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotTree } from '../../src/engine/backup/file-archive.fixture';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { createTestApp } from '../support/test-app';
import { builtPath, ROOT } from '../support/transpile';

describe.each(ENGINES)('Ctrl-C during a command-line restore on %s', (engine) => {
  let catalog: TestDatabase;
  let target: TestDatabase;
  let base: ReturnType<typeof tempDir>;
  let dir: string;
  let store: string;
  let backupId: string;

  beforeAll(async () => {
    catalog = await createTestDatabase(engine);
    target = await createTestDatabase(engine);
    base = tempDir();
    store = join(base.path, 'backups');
    dir = join(base.path, 'files', 'uploads');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'version.txt'), 'backed-up');
    await seedSample(target, 100);
    const t = await createTestApp(
      engine,
      { TARGET_DATABASE_URL: target.url, BACKUP_DIR: store, BACKUP_FILE_PATHS: dir },
      { db: catalog },
    );
    try {
      backupId = (await createBackup(t)).id as string;
    } finally {
      await t.close();
    }
  });
  afterAll(async () => {
    await catalog?.drop();
    await target?.drop();
    base?.remove();
  });

  const state = async () => ({
    tasks: await queryRows(target, 'SELECT * FROM tasks ORDER BY id'),
    files: snapshotTree(dir),
    beside: readdirSync(join(base.path, 'files')).sort(),
  });

  it('rolls back, removes the staged files, says so and exits 1', async () => {
    await execSql(target, [`DELETE FROM tasks WHERE id % 3 = 0`]);
    writeFileSync(join(dir, 'version.txt'), 'current');
    const before = await state();
    const child = spawn(
      process.execPath,
      [
        builtPath('test/support/cli-interrupt-child.ts'),
        'restore',
        backupId,
        '--database-url',
        target.url,
        '--tables',
        'projects,tasks',
        '--files',
        '--yes',
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_ENV: 'test',
          LOG_LEVEL: 'silent',
          DATABASE_URL: catalog.url,
          BACKUP_DIR: store,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
    expect({ code, err }).toEqual({
      code: 1,
      err: expect.stringMatching(
        /interrupted \(Ctrl-C\): cancelling[\s\S]*was cancelled \(Ctrl-C\) before its commit: it was rolled back, the target is as it was and staged files were removed/,
      ),
    });
    expect(await state()).toEqual(before);
  });
});
