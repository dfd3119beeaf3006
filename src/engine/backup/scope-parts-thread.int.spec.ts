/**
 * Where a scoped backup's parts are written (write-backup.ts, SMALL_SCOPE_ROWS): a scope of few
 * rows on the calling thread rather than start a part worker, but on one already running; a
 * larger one, and any scope's file artefacts, on part workers. All must verify like any backup.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createDialect } from '../dialects/create-dialect';
import type { Dialect } from '../dialects/dialect';
import { LocalStorage } from '../storage/local-storage';
import { partWorkers } from '../archive/part-worker-pool';
import { usePartWorkers, warmPartWorkers } from '../archive/part-io';
import { createTestDatabase, ENGINES, pgQuery, tempDir, type TestDatabase } from '../../../test/support/databases';
import { keySourceFromConfig } from './backup-keys';
import { fullBackupSpec } from './write-backup.fixture';
import { SMALL_SCOPE_ROWS, writeBackup } from './write-backup';
import { verifyBackup } from './verify-backup';

const keys = keySourceFromConfig({ keys: `k:${randomBytes(32).toString('base64')}` });
/** Project 1 has more rows than a small scope may; project 2 a handful. */
const LARGE = SMALL_SCOPE_ROWS + 50;

function schemaSql(engine: string): string[] {
  const series =
    engine === 'postgres'
      ? `SELECT g, 1, 'task ' || g, NULL FROM generate_series(1, ${LARGE}) g`
      : `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${LARGE}) SELECT g, 1, 'task ' || g, NULL FROM s`;
  return [
    'CREATE TABLE projects (id integer PRIMARY KEY, name text NOT NULL)',
    'CREATE TABLE tasks (id integer PRIMARY KEY, project_id integer NOT NULL REFERENCES projects (id), title text, attachment text)',
    "INSERT INTO projects VALUES (1, 'large'), (2, 'small')",
    `INSERT INTO tasks ${series}`,
    `INSERT INTO tasks VALUES (${LARGE + 1}, 2, 'a', 'a.txt'), (${LARGE + 2}, 2, 'b', NULL), (${LARGE + 3}, 2, 'c', NULL)`,
  ];
}

describe.each(ENGINES)('where a scoped backup writes its parts, on %s', (engine) => {
  let db: TestDatabase;
  let dialect: Dialect;
  let dir: ReturnType<typeof tempDir>;
  let storage: LocalStorage;
  let files: string;

  beforeAll(async () => {
    usePartWorkers(true);
    db = await createTestDatabase(engine);
    if (engine === 'postgres') await pgQuery(db.url, schemaSql(engine).join(';\n'));
    else {
      const d = new Database(db.url.slice('sqlite:'.length));
      for (const s of schemaSql(engine)) d.exec(s);
      d.close();
    }
    dialect = createDialect(db.url);
    dir = tempDir();
    storage = new LocalStorage(join(dir.path, 'store'));
    files = join(dir.path, 'files');
    mkdirSync(files);
    writeFileSync(join(files, 'a.txt'), 'attachment of task a\n');
  });
  // Each test starts with no part worker running, as a process that has not backed up yet.
  beforeEach(() => partWorkers.terminateAll());
  afterAll(async () => {
    usePartWorkers('auto');
    await dialect.close();
    await db.drop();
    dir.remove();
  });

  const backupProject = async (id: number, withFiles = false) => {
    const tables = (await dialect.listTables()).map((t) => t.name);
    const spec = fullBackupSpec(tables, keys, {
      type: 'scope',
      scope: { table: 'projects', keys: [{ id }], ...(withFiles ? { filesColumn: 'tasks.attachment' } : {}) },
      fileRoots: withFiles ? [files] : [],
    });
    const jobs = partWorkers.jobs;
    const manifest = await writeBackup(dialect, storage, spec);
    // Counted before the verify, which may read on workers too.
    const workerJobs = partWorkers.jobs - jobs;
    const verified = await verifyBackup(storage, spec.dir, keys);
    return { manifest, workerJobs, failed: verified.checks.filter((c) => !c.ok) };
  };

  it('writes a small scope on this thread, without a part worker', async () => {
    const b = await backupProject(2);
    expect(b.manifest.scope?.members).toEqual({ projects: 1, tasks: 3 });
    expect(b.workerJobs).toBe(0);
    expect(b.failed).toEqual([]);
  });

  it('writes a small scope on a part worker that is already running', async () => {
    warmPartWorkers();
    const b = await backupProject(2);
    expect(b.manifest.scope?.members).toEqual({ projects: 1, tasks: 3 });
    // The two tables' rows at least; the schema and scope-key parts go there too.
    expect(b.workerJobs).toBeGreaterThanOrEqual(2);
    expect(b.failed).toEqual([]);
  });

  it('writes a scope of more than SMALL_SCOPE_ROWS rows on part workers', async () => {
    const b = await backupProject(1);
    expect(b.manifest.scope?.members).toEqual({ projects: 1, tasks: LARGE });
    // The two tables' rows at least; the schema and scope-key parts go there too.
    expect(b.workerJobs).toBeGreaterThanOrEqual(2);
    expect(b.failed).toEqual([]);
  });

  it("compresses a small scope's file artefacts on a part worker all the same", async () => {
    const b = await backupProject(2, true);
    expect(b.manifest.files.count).toBe(1);
    expect(b.workerJobs).toBe(1);
    expect(b.failed).toEqual([]);
  });
});
