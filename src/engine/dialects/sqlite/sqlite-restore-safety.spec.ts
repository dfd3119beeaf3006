import { Readable } from 'node:stream';
import { createSqliteDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createSqliteDialect, type SqliteDialect } from './sqlite.dialect';
import { chunks, exec, exportAll, query, rawConnection, restoreInputFor, type Exported } from './sqlite-test-support';

const SCHEMA = `
CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
CREATE TABLE visits (id INTEGER PRIMARY KEY, person_id INTEGER NOT NULL REFERENCES people (id));
CREATE TABLE team (id INTEGER PRIMARY KEY, captain_id INTEGER REFERENCES player (id));
CREATE TABLE player (id INTEGER PRIMARY KEY, team_id INTEGER REFERENCES team (id), mentor_id INTEGER REFERENCES player (id));
CREATE TABLE people_history (person_id INTEGER, what TEXT);
CREATE TRIGGER people_ins AFTER INSERT ON people BEGIN INSERT INTO people_history VALUES (new.id, 'insert'); END;
CREATE TRIGGER people_del AFTER DELETE ON people BEGIN INSERT INTO people_history VALUES (old.id, 'delete'); END;
CREATE TABLE strongroom_audit_events (seq INTEGER PRIMARY KEY, action TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TRIGGER strongroom_audit_no_update BEFORE UPDATE ON strongroom_audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
CREATE TRIGGER strongroom_audit_no_delete BEFORE DELETE ON strongroom_audit_events BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
`;

const DATA = `
INSERT INTO people VALUES (1, 'alice'), (2, 'bob'), (3, 'carol');
INSERT INTO visits VALUES (1, 1), (2, 3);
INSERT INTO team VALUES (1, NULL), (2, NULL);
INSERT INTO player VALUES (1, 1, 3), (2, 2, NULL), (3, 1, 3);
UPDATE team SET captain_id = 3 WHERE id = 1;
UPDATE team SET captain_id = 2 WHERE id = 2;
INSERT INTO strongroom_audit_events VALUES (1, 'backup.create', 'h1'), (2, 'backup.verify', 'h2');
`;

/** Emits the first `lines` rows of a table, then fails like a corrupt or truncated part would. */
function failingAfter(bytes: Buffer, lines: number): Readable {
  const text = bytes.toString('utf8').split('\n').slice(0, lines).join('\n') + '\n';
  let sent = false;
  return new Readable({
    read() {
      if (!sent) {
        sent = true;
        this.push(Buffer.from(text));
      } else this.destroy(new Error('part checksum mismatch'));
    },
  });
}

describe('SQLite dialect: restore is all or nothing and keeps integrity', () => {
  const dbs: TestDatabase[] = [];
  const dialects: SqliteDialect[] = [];
  let backup: Exported;

  const fresh = async (withData = true): Promise<{ db: TestDatabase; dialect: SqliteDialect }> => {
    const db = createSqliteDatabase();
    dbs.push(db);
    exec(db.url, SCHEMA);
    if (withData) exec(db.url, DATA);
    const dialect = createSqliteDialect(db.url);
    dialects.push(dialect);
    return { db, dialect };
  };

  const expectUnchanged = async (dialect: SqliteDialect, before: Exported): Promise<void> => {
    const after = await exportAll(dialect);
    for (const [name, bytes] of before.data)
      expect({ name, same: Buffer.compare(after.data.get(name) as Buffer, bytes) === 0 }).toEqual({ name, same: true });
  };

  beforeAll(async () => {
    const { dialect } = await fresh();
    backup = await exportAll(dialect);
  });

  afterAll(async () => {
    for (const d of dialects) await d.close();
    for (const db of dbs) await db.drop();
  });

  it('a row stream that fails half-way leaves every table as it was', async () => {
    const { db, dialect } = await fresh();
    exec(db.url, `INSERT INTO people VALUES (9, 'zed'); UPDATE player SET mentor_id = NULL;`);
    const before = await exportAll(dialect);
    const input = restoreInputFor(backup, 'replace', {
      only: ['people', 'visits', 'player'],
      open: (name, bytes) => (name === 'player' ? failingAfter(bytes, 2) : Readable.from(chunks(bytes, 5))),
    });
    await expect(dialect.restore(input)).rejects.toThrow(
      'Restoring SQLite table player failed after 2 rows: part checksum mismatch',
    );
    await expectUnchanged(dialect, before);
  });

  it('a corrupt line names the table and row, and rolls back', async () => {
    const { dialect } = await fresh();
    const before = await exportAll(dialect);
    const input = restoreInputFor(backup, 'replace', {
      only: ['people', 'visits'],
      open: (name, bytes) =>
        Readable.from([name === 'visits' ? Buffer.concat([bytes, Buffer.from('[3,{"$q":1}]\n')]) : bytes]),
    });
    await expect(dialect.restore(input)).rejects.toThrow(
      /table visits failed after 2 rows: row 3, value 2: unknown value tag/,
    );
    await expectUnchanged(dialect, before);
  });

  it('an abort stops the restore and rolls back', async () => {
    const { dialect } = await fresh();
    const before = await exportAll(dialect);
    const controller = new AbortController();
    const input = restoreInputFor(backup, 'replace', {
      only: ['people', 'visits', 'team', 'player'],
      signal: controller.signal,
    });
    input.onProgress = () => controller.abort();
    await expect(dialect.restore(input)).rejects.toThrow(/was aborted/);
    await expectUnchanged(dialect, before);
  });

  it('loads foreign-key cycles and self-references in any order, with foreign keys enforced', async () => {
    const { db, dialect } = await fresh(false);
    const input = restoreInputFor(backup, 'replace', { only: ['player', 'team', 'visits', 'people'] });
    input.tables.sort((a, b) => (a.name < b.name ? 1 : -1)); // children first
    await dialect.restore(input);
    expect(query(db.url, 'SELECT id, team_id, mentor_id FROM player ORDER BY id').map((r) => Object.values(r))).toEqual(
      [
        [1n, 1n, 3n],
        [2n, 2n, null],
        [3n, 1n, 3n],
      ],
    );
    const conn = rawConnection(db.url);
    expect(conn.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(conn.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    conn.close();
  });

  it('rolls back when the restored rows break a foreign key, naming table and rowid', async () => {
    const { dialect } = await fresh(false);
    exec(dbs[dbs.length - 1].url, `INSERT INTO people VALUES (1, 'alice')`);
    const before = await exportAll(dialect);
    // visits row 2 points at person 3, which this database does not have.
    await expect(dialect.restore(restoreInputFor(backup, 'replace', { only: ['visits'] }))).rejects.toThrow(
      'foreign key violation(s): visits rowid 2 references a missing row in people',
    );
    await expectUnchanged(dialect, before);
  });

  it('rolls back when replacing a parent would strand rows of a table outside the restore', async () => {
    const { db, dialect } = await fresh();
    exec(db.url, `INSERT INTO people VALUES (7, 'gina'); INSERT INTO visits VALUES (3, 7);`);
    const before = await exportAll(dialect);
    await expect(dialect.restore(restoreInputFor(backup, 'replace', { only: ['people'] }))).rejects.toThrow(
      'visits rowid 3 references a missing row in people',
    );
    await expectUnchanged(dialect, before);
  });

  it('does not fire triggers while restoring, and keeps them afterwards', async () => {
    const { db, dialect } = await fresh();
    exec(
      db.url,
      `DELETE FROM people_history; DELETE FROM visits; DELETE FROM people WHERE id = 2; DELETE FROM people_history;`,
    );
    await dialect.restore(restoreInputFor(backup, 'replace', { only: ['people'] }));
    expect(query(db.url, 'SELECT count(*) AS n FROM people_history')[0].n).toBe(0n);
    exec(db.url, `INSERT INTO people VALUES (8, 'hal')`);
    expect(query(db.url, 'SELECT person_id, what FROM people_history')).toEqual([{ person_id: 8n, what: 'insert' }]);
  });

  it('restores the audit table missing-only under its append-only triggers, and refuses anything else', async () => {
    const { db, dialect } = await fresh(false);
    exec(
      db.url,
      `INSERT INTO strongroom_audit_events VALUES (2, 'changed-after-backup', 'hx'), (3, 'recovery.execute', 'h3')`,
    );
    const results = await dialect.restore(
      restoreInputFor(backup, { strongroom_audit_events: 'missing-only' }, { only: ['strongroom_audit_events'] }),
    );
    expect(results).toEqual([{ name: 'strongroom_audit_events', rowsWritten: 1 }]);
    expect(
      query(db.url, 'SELECT seq, action FROM strongroom_audit_events ORDER BY seq').map((r) => Object.values(r)),
    ).toEqual([
      [1n, 'backup.create'],
      [2n, 'changed-after-backup'],
      [3n, 'recovery.execute'],
    ]);
    expect(() => exec(db.url, `DELETE FROM strongroom_audit_events`)).toThrow('audit events are append-only');
    for (const mode of ['replace', 'merge'] as const) {
      await expect(
        dialect.restore(
          restoreInputFor(backup, { strongroom_audit_events: mode }, { only: ['strongroom_audit_events'] }),
        ),
      ).rejects.toThrow(
        `Table strongroom_audit_events is append-only and can only be restored in missing-only mode, not ${mode}`,
      );
    }
  });

  it('waits for another writer without blocking the event loop, and gives up after the busy timeout', async () => {
    const { db } = await fresh();
    const patient = createSqliteDialect(db.url, { busyTimeoutMs: 60_000 });
    const impatient = createSqliteDialect(db.url, { busyTimeoutMs: 100 });
    dialects.push(patient, impatient);
    await patient.serverVersion(); // the file is in WAL mode from here on
    const holder = rawConnection(db.url);
    holder.exec('BEGIN IMMEDIATE');
    await expect(impatient.restore(restoreInputFor(backup, 'replace', { only: ['people_history'] }))).rejects.toThrow(
      /Could not lock SQLite database .* for writing/,
    );
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    try {
      const restoring = patient.restore(restoreInputFor(backup, 'replace', { only: ['people_history'] }));
      await new Promise((r) => setTimeout(r, 200));
      expect(query(db.url, 'SELECT count(*) AS n FROM people_history')[0].n).toBe(3n); // nothing restored while the lock is held
      holder.exec('COMMIT');
      holder.close();
      await expect(restoring).resolves.toEqual([{ name: 'people_history', rowsWritten: 3 }]);
    } finally {
      clearInterval(timer);
      if (holder.open) holder.close();
    }
    expect(ticks).toBeGreaterThan(5); // timers kept firing while the restore waited for the lock
  });
});
