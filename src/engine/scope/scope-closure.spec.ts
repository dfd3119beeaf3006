import Database from 'better-sqlite3';
import { createSqliteDatabase, type TestDatabase } from '../../../test/support/databases';
import { sampleData, sampleSchemaSql } from '../../../scripts/sample-app';
import { createSqliteDialect, type SqliteDialect } from '../dialects/sqlite/sqlite.dialect';
import { sqlitePathFromUrl } from '../dialects/sqlite/sqlite-connection';
import { computeClosure, countRows, ScopeError } from './scope-closure';
import { sqliteScopeSql } from './scope-sql';

describe('scope closure (SQLite, live foreign keys)', () => {
  let db: TestDatabase;
  let dialect: SqliteDialect;
  let raw: Database.Database;

  beforeAll(async () => {
    db = createSqliteDatabase();
    raw = new Database(sqlitePathFromUrl(db.url));
    raw.exec(sampleSchemaSql('sqlite'));
    raw.exec(sampleData('sqlite', { engagements: 3 }).sql);
    // A fourth engagement whose owner nobody else references, to show context is only what members point at.
    raw.exec(
      `INSERT INTO users VALUES (99, 'solo@example.com', 'Solo'); INSERT INTO engagements VALUES ('eng-x', 'X', 'C', 99, NULL);`,
    );
    dialect = createSqliteDialect(db.url);
  });
  afterAll(async () => {
    raw.close();
    await dialect.close();
    await db.drop();
  });

  const closure = async (keys: Record<string, unknown>[], exclude?: string[]) => {
    const tables = await dialect.listTables();
    const query = async (sql: string) => raw.prepare(sql).all() as Record<string, unknown>[];
    return computeClosure(sqliteScopeSql, query, tables, { table: 'engagements', keys, exclude });
  };

  it('takes the engagement, its children and grandchildren, and the users they reference as context', async () => {
    const c = await closure([{ id: 'eng-0002' }]);
    expect(countRows(c.members)).toEqual({
      engagements: 1,
      sessions: 3,
      chat_messages: 12,
      workflow_runs: 2,
      artefacts: 4,
      approvals: 4,
    });
    // Users are referenced, never referencing: context. The audit log has no foreign key to engagements.
    expect([...c.context.keys()]).toEqual(['users']);
    const members = raw
      .prepare(
        `SELECT count(*) AS n FROM chat_messages m JOIN sessions s ON s.id = m.session_id WHERE s.engagement_id = 'eng-0002'`,
      )
      .get() as { n: number };
    expect(c.members.get('chat_messages')!.size).toBe(members.n);
    expect(c.missingRoots).toEqual([]);
  });

  it('follows a cycle and a self-reference without looping, and several roots at once', async () => {
    const c = await closure([{ id: 'eng-0001' }, { id: 'eng-0003' }, { id: 'nope' }]);
    expect(c.members.get('engagements')!.size).toBe(2);
    expect(c.members.get('workflow_runs')!.size).toBe(4);
    expect(c.missingRoots).toEqual([{ id: 'nope' }]);
  });

  it('leaves excluded tables out, and what lies only beyond them', async () => {
    const c = await closure([{ id: 'eng-0002' }], ['artefacts']);
    expect(c.members.has('artefacts')).toBe(false);
    expect(c.members.has('approvals')).toBe(false);
    expect(c.members.get('workflow_runs')!.size).toBe(2);
  });

  it('warns about a foreign key column without an index', async () => {
    const c = await closure([{ id: 'eng-0002' }]);
    expect(c.warnings).toEqual([]);
    raw.exec('DROP INDEX sessions_engagement');
    try {
      const again = await closure([{ id: 'eng-0002' }]);
      expect(again.warnings).toEqual([expect.stringContaining('sessions(engagement_id) have no index')]);
    } finally {
      raw.exec('CREATE INDEX sessions_engagement ON sessions (engagement_id)');
    }
  });

  it('for a restore, finds the same members without the context pass or the index checks', async () => {
    const tables = await dialect.listTables();
    const seen: string[] = [];
    const query = async (sql: string) => {
      seen.push(sql);
      return raw.prepare(sql).all() as Record<string, unknown>[];
    };
    const def = { table: 'engagements', keys: [{ id: 'eng-0002' }] };
    const full = await computeClosure(sqliteScopeSql, query, tables, def);
    const fullStatements = seen.length;
    seen.length = 0;
    const members = await computeClosure(sqliteScopeSql, query, tables, def, { membersOnly: true });
    expect(members.members).toEqual(full.members);
    expect(members.context.size).toBe(0);
    // Every statement left is a keyed read of members: none reads upwards for context, none the index list.
    expect(seen.length).toBeLessThan(fullStatements);
    expect(seen.filter((q) => /pragma_index_list/.test(q))).toEqual([]);
  });

  it('names the field of a bad definition', async () => {
    await expect(closure([{ nope: 1 }])).rejects.toThrow(ScopeError);
    await expect(closure([{ nope: 1 }])).rejects.toThrow(/scope\.keys\[0\] must name exactly the primary key/);
    await expect(closure([{ id: 'eng-0001' }], ['missing_table'])).rejects.toThrow(/scope\.exclude/);
  });
});
