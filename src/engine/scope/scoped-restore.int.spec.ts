/**
 * The scoped protection proof on both engines, with the sample application: back up one
 * engagement, damage it (an update, a delete that cascades, an insert), see that the dry run
 * announces exactly the change the restore then makes, that `replace` brings the engagement back
 * exactly while every other engagement stays byte for byte as it was, and that restoring the
 * safety backup taken before undoes it (rollback). Moved rows are refused unless allowed.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { createDialect } from '../dialects/create-dialect';
import type { Dialect, RestoreMode } from '../dialects/dialect';
import { LocalStorage } from '../storage/local-storage';
import { createTestDatabase, ENGINES, tempDir, type TestDatabase } from '../../../test/support/databases';
import { keysForManifest, keySourceFromConfig } from '../backup/backup-keys';
import { writeBackup } from '../backup/write-backup';
import { verifyBackup } from '../backup/verify-backup';
import { dryRunTables, restoreTables } from '../restore/restore-backup';
import type { Manifest } from '../archive/manifest.types';
import { engagementId, sampleData, sampleSchemaSql, sampleTables, writeSampleFiles } from '../../../scripts/sample-app';
import { RestoreError } from '../restore/restore-error';
import { existsSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { snapshotTree } from '../backup/file-archive.fixture';
import {
  commitStaged,
  discardStaged,
  leaveStaged,
  prepareStaged,
  recordStagedRemovals,
  recordStagedToken,
  stageFileArtefacts,
} from '../backup/file-artefacts';
import { recoverInterruptedFileRestores } from '../backup/file-restore-journal';
import { precheckPerFile } from '../backup/per-file-restore';
import { openPart } from '../archive/part-io';
import { fullBackupSpec } from '../backup/write-backup.fixture';

const ENGAGEMENTS = 4;
/** Every foreign key as PostgreSQL holds it: a key dropped and re-added comes back with another oid. */
const FOREIGN_KEYS = `SELECT conrelid::regclass::text AS t, conname, oid::text AS oid, condeferrable, condeferred, convalidated
  FROM pg_constraint WHERE contype = 'f' ORDER BY 1, 2`;
const keys = keySourceFromConfig({ keys: `a:${randomBytes(32).toString('base64')}` });

describe.each(ENGINES)('scoped backup and restore on %s', (engine) => {
  let db: TestDatabase;
  let dialect: Dialect;
  let store: ReturnType<typeof tempDir>;
  let files: ReturnType<typeof tempDir>;
  let storage: LocalStorage;
  let exec: (sql: string) => Promise<Record<string, unknown>[]>;
  let close: () => Promise<void>;
  const users = sampleTables(engine).users;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    store = tempDir();
    files = tempDir();
    storage = new LocalStorage(join(store.path, 'store'));
    const data = sampleData(engine, { engagements: ENGAGEMENTS });
    writeSampleFiles(files.path, data.files);
    if (engine === 'postgres') {
      const c = new Client({ connectionString: db.url });
      await c.connect();
      exec = async (sql) => (await c.query<Record<string, unknown>>(sql)).rows;
      close = () => c.end();
    } else {
      const d = new Database(db.url.slice('sqlite:'.length));
      d.pragma('foreign_keys = ON');
      exec = async (sql) => {
        const stmt = d.prepare(sql);
        if (stmt.reader) return stmt.all() as Record<string, unknown>[];
        stmt.run();
        return [];
      };
      close = async () => void d.close();
    }
    if (engine === 'postgres') await exec(sampleSchemaSql(engine) + data.sql);
    else for (const s of (sampleSchemaSql(engine) + data.sql).split(/;\s*\n/).filter((x) => x.trim())) await exec(s);
    dialect = createDialect(db.url);
  });
  afterAll(async () => {
    await dialect.close();
    await close();
    await db.drop();
    store.remove();
    files.remove();
  });

  /** Every row of one engagement, found by plain joins (not by the code under test), hashed. */
  const digest = async (id: string): Promise<string> => {
    const e = `'${id}'`;
    const parts = [
      `SELECT * FROM engagements WHERE id = ${e}`,
      `SELECT * FROM sessions WHERE engagement_id = ${e} ORDER BY id`,
      `SELECT m.* FROM chat_messages m JOIN sessions s ON s.id = m.session_id WHERE s.engagement_id = ${e} ORDER BY m.session_id, m.seq`,
      `SELECT * FROM workflow_runs WHERE engagement_id = ${e} ORDER BY id`,
      `SELECT a.* FROM artefacts a JOIN workflow_runs r ON r.id = a.run_id WHERE r.engagement_id = ${e} ORDER BY a.id`,
      `SELECT p.* FROM approvals p JOIN artefacts a ON a.id = p.artefact_id JOIN workflow_runs r ON r.id = a.run_id WHERE r.engagement_id = ${e} ORDER BY p.id`,
    ];
    const h = createHash('sha256');
    for (const q of parts) h.update(JSON.stringify(await exec(q)));
    return h.digest('hex');
  };
  const digests = async () => {
    const out: Record<string, string> = {};
    for (let i = 0; i < ENGAGEMENTS; i++) out[engagementId(i)] = await digest(engagementId(i));
    out.users = createHash('sha256')
      .update(JSON.stringify(await exec(`SELECT * FROM ${users} ORDER BY id`)))
      .digest('hex');
    out.audit = createHash('sha256')
      .update(JSON.stringify(await exec(`SELECT * FROM app_audit_log ORDER BY id`)))
      .digest('hex');
    return out;
  };

  const backupScope = async (id: string): Promise<{ manifest: Manifest; dir: string }> => {
    const tables = (await dialect.listTables()).map((t) => t.name);
    const spec = fullBackupSpec(tables, keys, {
      type: 'scope',
      fileRoots: [files.path],
      scope: {
        table: 'engagements',
        keys: [{ id }],
        exclude: ['app_audit_log'],
        filesColumn: 'artefacts.storage_path',
      },
    });
    const manifest = await writeBackup(dialect, storage, spec);
    return { manifest, dir: spec.dir };
  };
  const spec = (b: { manifest: Manifest; dir: string }, mode: RestoreMode, allowScopeMoves = false) => ({
    storage,
    dir: b.dir,
    manifest: b.manifest,
    keys,
    mode,
    tables: b.manifest.tables.map((t) => t.name),
    allowScopeMoves,
  });

  it('archives exactly the engagement, its context and its files, verifiably', async () => {
    const b = await backupScope('eng-0002');
    expect(b.manifest.type).toBe('scope');
    expect(b.manifest.scope?.members).toEqual({
      engagements: 1,
      sessions: 3,
      chat_messages: 12,
      workflow_runs: 2,
      artefacts: 4,
      approvals: 4,
    });
    expect(b.manifest.scope?.context.map((t) => t.name)).toEqual([users]);
    expect(b.manifest.files.count).toBe(4);
    const v = await verifyBackup(storage, b.dir, keys);
    expect(v.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('fails on a scope it cannot compute and leaves nothing in storage, though its schema was being written', async () => {
    const tables = (await dialect.listTables()).map((t) => t.name);
    // The schema starts before the scope's closure is computed (write-backup.ts): its part is
    // in flight when the closure fails, and must not land after the backup's cleanup.
    const failing = fullBackupSpec(tables, keys, {
      type: 'scope',
      scope: { table: 'engagements', keys: [{ id: 'eng-0001' }], exclude: ['no_such_table'] },
    });
    await expect(writeBackup(dialect, storage, failing)).rejects.toThrow(/scope\.exclude: table "no_such_table"/);
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(join(store.path, 'store', failing.dir))).toBe(false);
  });

  it('replace brings a damaged engagement back exactly, touches no other, and the dry run foretells it', async () => {
    const b = await backupScope('eng-0002');
    const atBackup = await digests();
    // Damage: an update, a delete that cascades (a session and its messages), an insert.
    await exec(`UPDATE chat_messages SET body = 'tampered' WHERE session_id = 4 AND seq = 2`);
    await exec(`DELETE FROM sessions WHERE id = 5`);
    await exec(`INSERT INTO workflow_runs VALUES (900, 'eng-0002', 'late run', 'running')`);
    await exec(`INSERT INTO artefacts VALUES (900, 900, 'artefacts/eng-0002/late.txt', 3)`);
    // A legitimate change elsewhere after the backup: it must survive the restore.
    await exec(`UPDATE engagements SET name = 'Renamed after the backup' WHERE id = 'eng-0003'`);
    const damaged = await digests();
    expect(damaged['eng-0002']).not.toBe(atBackup['eng-0002']);

    const safety = await backupScope('eng-0002');
    const plan = await dryRunTables(dialect, spec(b, 'replace'));
    expect(plan.blockers).toEqual([]);
    const after = await digests();
    expect(after).toEqual(damaged);
    const keysBefore = engine === 'postgres' ? await exec(FOREIGN_KEYS) : [];
    const results = await restoreTables(dialect, spec(b, 'replace'));
    // PostgreSQL: the keys stay on and check the rows written; none was dropped and re-added (which validates whole tables).
    if (engine === 'postgres') expect(await exec(FOREIGN_KEYS)).toEqual(keysBefore);
    const planned = Object.fromEntries(plan.tables.map((t) => [t.name, t.insert + t.update + t.delete]));
    const written = Object.fromEntries(results.map((r) => [r.name, r.rowsWritten]));
    expect(written).toEqual(planned);
    expect(planned).toMatchObject({ chat_messages: 5, sessions: 1, workflow_runs: 1, artefacts: 1 });

    const restored = await digests();
    expect(restored['eng-0002']).toBe(atBackup['eng-0002']);
    for (const [k, v] of Object.entries(damaged)) if (k !== 'eng-0002') expect(restored[k]).toBe(v);

    // Rollback: the safety backup of the scope, restored the same way, gives the damaged state back.
    await restoreTables(dialect, spec(safety, 'replace'));
    expect(await digests()).toEqual(damaged);
    await restoreTables(dialect, spec(b, 'replace'));
    expect((await digests())['eng-0002']).toBe(atBackup['eng-0002']);
  });

  it('refuses rows that moved to another engagement unless allowed, all or nothing', async () => {
    const b = await backupScope('eng-0001');
    await exec(`UPDATE sessions SET engagement_id = 'eng-0004' WHERE id = 1`);
    const before = await digests();
    const err = await restoreTables(dialect, spec(b, 'replace')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RestoreError);
    expect((err as RestoreError).code).toBe('scope-moves');
    expect((err as RestoreError).details?.moved).toEqual(
      expect.arrayContaining([{ table: 'sessions', key: expect.stringContaining('1') }]),
    );
    await expect(dryRunTables(dialect, spec(b, 'replace'))).rejects.toThrow(/allowScopeMoves/);
    expect(await digests()).toEqual(before);
    await restoreTables(dialect, spec(b, 'replace', true));
    const now = await digests();
    expect(now['eng-0001']).not.toBe(before['eng-0001']);
    expect((await exec(`SELECT engagement_id FROM sessions WHERE id = 1`))[0].engagement_id).toBe('eng-0001');
  });

  it("restores the scope's files one by one with its rows, drops only files no row names, and finishes after a crash", async () => {
    const root = files.path;
    const file = (p: string) => join(root, p);
    const others = () =>
      Object.fromEntries(Object.entries(snapshotTree(root)).filter(([p]) => !p.startsWith('artefacts/eng-0003')));
    // A file two rows name, one of them of another engagement: a replace must keep it.
    writeFileSync(file('artefacts/eng-0003/shared.txt'), 'shared');
    await exec(`INSERT INTO artefacts VALUES (903, 5, 'artefacts/eng-0003/shared.txt', 6)`);
    await exec(`INSERT INTO artefacts VALUES (904, 7, 'artefacts/eng-0003/shared.txt', 6)`);
    const b = await backupScope('eng-0003');
    const atBackup = snapshotTree(join(root, 'artefacts/eng-0003'));
    // Damage: a file changed, one deleted, a late row with its file.
    writeFileSync(file('artefacts/eng-0003/report-9.txt'), 'tampered');
    rmSync(file('artefacts/eng-0003/report-10.txt'));
    await exec(`INSERT INTO workflow_runs VALUES (901, 'eng-0003', 'late run', 'running')`);
    await exec(`INSERT INTO artefacts VALUES (901, 901, 'artefacts/eng-0003/late.txt', 4)`);
    writeFileSync(file('artefacts/eng-0003/late.txt'), 'late');
    // Another engagement's file changed after the backup: never touched.
    writeFileSync(file('artefacts/eng-0001/report-1.txt'), 'changed elsewhere');
    const elsewhere = others();

    const plan = await dryRunTables(dialect, { ...spec(b, 'replace'), scopeFiles: { roots: [root] } });
    expect(plan.files).toEqual({
      write: [9, 10, 11, 12]
        .map((n) => `artefacts/eng-0003/report-${n}.txt`)
        .concat('artefacts/eng-0003/shared.txt')
        .sort(),
      remove: ['artefacts/eng-0003/late.txt'],
    });

    // A crash right after the commit: the journal alone finishes the files, asking the target.
    const stageAndCommit = async (backup: typeof b) => {
      const keysOf = await keysForManifest(keys, backup.manifest);
      const staged = await stageFileArtefacts(
        await openPart(storage, backup.dir, backup.manifest.files.part!, backup.manifest, keysOf),
        [root],
        { perFile: { mode: 'replace', remove: [] } },
      );
      await prepareStaged(staged, { id: randomUUID(), target: 'test' });
      await restoreTables(dialect, {
        ...spec(backup, 'replace'),
        commitMarker: { id: staged.plan.commit!.id, onToken: (t) => recordStagedToken(staged, t) },
        scopeFiles: { roots: [root], onRemovals: (p) => recordStagedRemovals(staged, p) },
      });
      leaveStaged(staged); // killed here: tables committed, no file moved yet
      return staged;
    };
    await stageAndCommit(b);
    expect(readFileSync(file('artefacts/eng-0003/report-9.txt'), 'utf8')).toBe('tampered');
    const report = await recoverInterruptedFileRestores([root], {
      committed: (c) => dialect.restoreCommitted({ id: c.id, token: c.token }),
    });
    expect(report.completed).toHaveLength(1);
    expect(snapshotTree(join(root, 'artefacts/eng-0003'))).toEqual(atBackup);
    expect(existsSync(file('artefacts/eng-0003/late.txt'))).toBe(false);
    expect(others()).toEqual(elsewhere);
    const leftovers = () => readdirSync(dirname(root)).filter((n) => n.startsWith(`${basename(root)}.strongroom-`));
    expect(leftovers()).toEqual([]);

    // A link planted where a file goes is found before the commit: the restore would stop whole.
    rmSync(file('artefacts/eng-0003/report-11.txt'));
    symlinkSync('/etc/hostname', file('artefacts/eng-0003/report-11.txt'));
    const stage = async () =>
      stageFileArtefacts(
        await openPart(storage, b.dir, b.manifest.files.part!, b.manifest, await keysForManifest(keys, b.manifest)),
        [root],
        { perFile: { mode: 'replace', remove: [] } },
      );
    const refused = await stage();
    expect(await precheckPerFile(refused.plan.roots, [])).toEqual([
      expect.stringMatching(/report-11\.txt is a symbolic link$/),
    ]);
    await discardStaged(refused);
    expect(leftovers()).toEqual([]);
    rmSync(file('artefacts/eng-0003/report-11.txt'));
    // Without a crash: moved in right after the commit.
    await exec(`UPDATE artefacts SET bytes = 1 WHERE id = 9`);
    const staged = await stage();
    expect(await precheckPerFile(staged.plan.roots, [])).toEqual([]);
    await prepareStaged(staged, { id: randomUUID(), target: 'test' });
    await restoreTables(dialect, {
      ...spec(b, 'replace'),
      commitMarker: { id: staged.plan.commit!.id, onToken: (t) => recordStagedToken(staged, t) },
      scopeFiles: { roots: [root], onRemovals: (p) => recordStagedRemovals(staged, p) },
    });
    expect(await commitStaged(staged)).toMatchObject({ count: 5, removed: 0 });
    expect(snapshotTree(join(root, 'artefacts/eng-0003'))).toEqual(atBackup);
    expect(others()).toEqual(elsewhere);
    expect(leftovers()).toEqual([]);
  });
});
