/**
 * The command line's disaster restore (no Strongroom database: src/cli/engine-restore.ts) keeps
 * tables and file artefacts one commit too. Killed (SIGKILL) with the files staged, before the
 * commit, or after the commit, before the swap, it leaves a prepared journal naming its
 * transaction; the recovery the next file restore runs (asking that target) makes tables and
 * files all old or all new, with nothing staged left, and a restore then runs to its end.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { snapshotTree } from '../../src/engine/backup/file-archive.fixture';
import { recoverInterruptedFileRestores } from '../../src/engine/backup/file-restore-journal';
import { engineRestore, openStored } from '../../src/cli/engine-restore';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { commitResolver } from '../../src/recovery/file-commit';
import { createBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { execSql, queryRows, seedSample } from '../support/sample-data';
import { createTestApp } from '../support/test-app';
import { builtPath, ROOT } from '../support/transpile';

const ROOTS = ['uploads', 'reports'];
const TABLES = 'projects,tasks';

function runKilled(
  args: string[],
  killAt: string,
): Promise<{ signal: NodeJS.Signals | null; out: string; err: string }> {
  const child = spawn(process.execPath, [builtPath('test/support/engine-restore-kill-child.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', KILL_AT: killAt },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((res) => child.on('close', (_code, signal) => res({ signal, out, err })));
}

describe.each(ENGINES)(
  'a command-line disaster restore of tables and files killed around its commit on %s',
  (engine) => {
    let catalog: TestDatabase;
    let target: TestDatabase;
    let base: ReturnType<typeof tempDir>;
    let dirs: string[];
    let store: string;
    let backupId: string;
    let atBackup: Awaited<ReturnType<typeof state>>;

    async function state(): Promise<{ tasks: number; files: Array<Record<string, string>> }> {
      const n = Number((await queryRows<{ n: number | string }>(target, 'SELECT count(*) AS n FROM tasks'))[0].n);
      return { tasks: n, files: dirs.map((d) => snapshotTree(d)) };
    }

    async function diverge(): Promise<Awaited<ReturnType<typeof state>>> {
      await execSql(target, [`DELETE FROM tasks WHERE id % 3 = 0`]);
      for (const d of dirs) {
        rmSync(d, { recursive: true, force: true });
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'version.txt'), 'current');
      }
      return state();
    }

    beforeAll(async () => {
      catalog = await createTestDatabase(engine);
      target = await createTestDatabase(engine);
      base = tempDir();
      store = join(base.path, 'backups');
      dirs = ROOTS.map((r) => join(base.path, 'files', r));
      for (const d of dirs) {
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, 'version.txt'), 'backed-up');
      }
      await seedSample(target, 300);
      const t = await createTestApp(
        engine,
        { TARGET_DATABASE_URL: target.url, BACKUP_DIR: store, BACKUP_FILE_PATHS: dirs.join(',') },
        { db: catalog },
      );
      try {
        backupId = (await createBackup(t)).id as string;
      } finally {
        await t.close();
      }
      atBackup = await state();
    }, 240_000);
    afterAll(async () => {
      await catalog.drop();
      await target.drop();
      base.remove();
    });

    it.each([
      ['staged', 'old'],
      ['committed', 'new'],
    ] as const)(
      'killed at "%s": the next file restore settles it all %s, nothing staged left',
      async (at, outcome) => {
        const before = await diverge();
        const killed = await runKilled([store, backupId, target.url, TABLES], at);
        expect({ signal: killed.signal, err: killed.err }).toEqual({ signal: 'SIGKILL', err: '' });
        const atKill = await state();
        expect(atKill).toEqual({ tasks: outcome === 'new' ? atBackup.tasks : before.tasks, files: before.files });
        expect(readdirSync(join(base.path, 'files')).some((n) => n.endsWith('.strongroom-journal'))).toBe(true);

        // What the next file restore (CLI or service) runs first, asking the journal's target.
        const report = await recoverInterruptedFileRestores(dirs, {
          strict: true,
          committed: commitResolver([target.url]),
        });
        expect(report.settled).toEqual([{ commitId: expect.any(String), committed: outcome === 'new' }]);
        expect(await state()).toEqual(outcome === 'new' ? atBackup : before);
        expect(readdirSync(join(base.path, 'files')).sort()).toEqual([...ROOTS].sort());

        // And a restore now runs to its end.
        const opened = await openStored(new LocalStorage(store), backupId);
        await engineRestore(
          { ...opened, keys: keySourceFromConfig({}) },
          {
            url: target.url,
            mode: 'replace',
            tables: TABLES.split(','),
            createSchema: false,
            files: true,
            allowSchemaMismatch: false,
          },
        );
        expect(await state()).toEqual(atBackup);
        expect(readdirSync(join(base.path, 'files')).sort()).toEqual([...ROOTS].sort());
      },
      240_000,
    );
  },
);
