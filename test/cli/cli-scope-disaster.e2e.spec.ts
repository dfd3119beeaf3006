/**
 * A scoped backup restored with the command line's disaster path into another database, while no
 * Strongroom database exists: into an empty one with --create-schema (the whole schema, then the
 * scope's context rows, then its members), then a second engagement into the now populated one,
 * whose context rows it lacks are inserted and whose existing ones are left exactly as they are.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sampleData, sampleSchemaSql, sampleTables } from '../../scripts/sample-app';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { writeBackup } from '../../src/engine/backup/write-backup';
import { createDialect } from '../../src/engine/dialects/create-dialect';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { createTestDatabase, ENGINES, tempDir, type TestDatabase } from '../support/databases';
import { execSql, queryRows } from '../support/sample-data';
import { runCli } from './cli-process';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;

describe.each(ENGINES)('CLI disaster restore of a scope on %s', (engine) => {
  let source: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  const users = sampleTables(engine).users;
  const env = () => ({
    DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
    BACKUP_DIR: dir.path,
    BACKUP_ENCRYPTION_KEYS: KEYRING,
  });

  beforeAll(async () => {
    dir = tempDir();
    source = await createTestDatabase(engine);
    const sql = sampleSchemaSql(engine) + sampleData(engine, { engagements: 4 }).sql;
    await execSql(source, engine === 'postgres' ? [sql] : sql.split(/;\s*\n/).filter((s) => s.trim()));
    // A user only the fourth engagement references: missing from a database holding the first one.
    await execSql(source, [
      `INSERT INTO ${users} VALUES (7, 'newcomer@example.com', 'Newcomer')`,
      `UPDATE engagements SET owner_id = 7 WHERE id = 'eng-0004'`,
    ]);
  });
  afterAll(async () => {
    await source.drop();
    dir.remove();
  });

  /** A scoped backup of one engagement, written where the CLI's configuration finds it. */
  async function backup(engagement: string): Promise<string> {
    const dialect = createDialect(source.url);
    try {
      const id = randomUUID();
      await writeBackup(dialect, new LocalStorage(dir.path), {
        id,
        dir: `backups/${id}`,
        type: 'scope',
        trigger: 'manual',
        description: null,
        tags: [],
        scheduleId: null,
        tables: (await dialect.listTables()).map((t) => t.name),
        fileRoots: [],
        scope: { table: 'engagements', keys: [{ id: engagement }], exclude: ['app_audit_log'] },
        compression: 'zstd',
        keys: keySourceFromConfig({ keys: KEYRING }),
        appVersion: 'test',
        migrations: [],
        auditHead: null,
        parallel: 1,
      });
      return id;
    } finally {
      await dialect.close();
    }
  }

  /** Users an engagement's rows reference, found by plain joins on the source. */
  async function referencedUsers(engagement: string): Promise<number[]> {
    const e = `'${engagement}'`;
    const rows = await queryRows<{ id: number }>(
      source,
      `SELECT id FROM ${users} WHERE id IN (SELECT owner_id FROM engagements WHERE id = ${e})
         OR id IN (SELECT user_id FROM sessions WHERE engagement_id = ${e})
         OR id IN (SELECT m.author_id FROM chat_messages m JOIN sessions s ON s.id = m.session_id WHERE s.engagement_id = ${e})
         OR id IN (SELECT p.approver_id FROM approvals p JOIN artefacts a ON a.id = p.artefact_id
                   JOIN workflow_runs r ON r.id = a.run_id WHERE r.engagement_id = ${e})`,
    );
    return rows.map((r) => Number(r.id));
  }

  it('creates the schema, inserts the missing context rows first and leaves existing ones alone', async () => {
    const first = await backup('eng-0001');
    const second = await backup('eng-0004');
    const fresh = await createTestDatabase(engine);
    const count = async (table: string) =>
      Number((await queryRows<{ n: number }>(fresh, `SELECT count(*) AS n FROM ${table}`))[0].n);
    try {
      const one = await runCli(
        ['restore', first, '--database-url', fresh.url, '--create-schema', '--scope', 'engagements=eng-0001', '--yes'],
        env(),
      );
      expect(one.stderr).toMatch(/restored \d+ tables/);
      expect(one.code).toBe(0);
      // The whole schema (the excluded audit log too), the scope's rows and the users they reference.
      expect(await count('app_audit_log')).toBe(0);
      expect(await count('engagements')).toBe(1);
      expect(await count('sessions')).toBe(3);
      const firstUsers = await referencedUsers('eng-0001');
      expect(
        (await queryRows<{ id: number }>(fresh, `SELECT id FROM ${users} ORDER BY id`)).map((r) => Number(r.id)),
      ).toEqual([...firstUsers].sort((a, b) => a - b));

      // A context row that differs in this database stays as it is; the second scope's missing ones come in.
      await execSql(fresh, [`UPDATE ${users} SET name = 'kept as it is' WHERE id = ${firstUsers[0]}`]);
      const two = await runCli(
        ['restore', second, '--database-url', fresh.url, '--scope', 'engagements=eng-0004', '--yes'],
        env(),
      );
      expect(two.stderr).toMatch(/restored \d+ tables/);
      expect(two.code).toBe(0);
      const all = new Set([...firstUsers, ...(await referencedUsers('eng-0004'))]);
      expect(all.size).toBeGreaterThan(firstUsers.length); // some were missing, so the case is real
      expect(await count(users)).toBe(all.size);
      expect(
        (await queryRows<{ name: string }>(fresh, `SELECT name FROM ${users} WHERE id = ${firstUsers[0]}`))[0].name,
      ).toBe('kept as it is');
      expect(await count('engagements')).toBe(2);
      expect(await count('chat_messages')).toBe(24);
    } finally {
      await fresh.drop();
    }
  });
});
