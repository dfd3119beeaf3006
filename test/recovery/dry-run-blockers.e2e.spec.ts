/**
 * Dry runs say in advance when a restore cannot succeed, on both engines against the real app:
 * each kind of blocker is found by the dry run (with counts and examples where rows are
 * concerned), and the real restore of the same request writes nothing. Blockers the catalogs
 * alone reveal refuse the real restore at once (409, nothing recorded); row-level ones are the
 * dry run's (they read every backup row), and the restore itself then fails all or nothing.
 */
import { randomBytes } from 'node:crypto';
import request from 'supertest';
import { createBackup } from '../support/backup-helpers';
import { ENGINES } from '../support/databases';
import { execSql, queryRows } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { waitForRecovery, type Body } from './recovery-helpers';

interface Issue {
  kind: string;
  object: string;
  message: string;
  count?: number;
  examples?: string[];
}

describe.each(ENGINES)('dry-run blockers on %s', (engine) => {
  let t: TestApp;
  const pg = engine === 'postgres';
  const itOnPostgres = pg ? it : it.skip;
  const admin = () => ({ 'X-API-Key': t.adminKey });

  beforeAll(async () => {
    t = await createTestApp(engine);
  });
  afterAll(() => t.close());

  /** Every row of `tables`, in key order: the target before and after must be equal. */
  async function snapshot(tables: string[]): Promise<string> {
    const out: Record<string, unknown> = {};
    for (const tb of tables) {
      try {
        out[tb] = await queryRows(t.db, `SELECT * FROM ${tb} ORDER BY 1`);
      } catch {
        out[tb] = 'absent';
      }
    }
    return JSON.stringify(out);
  }

  async function recoveryCount(): Promise<number> {
    return Number((await t.dataSource.query(`SELECT count(*) AS n FROM strongroom_recoveries`))[0].n);
  }

  async function dryRun(body: Body): Promise<{ tables: { name: string }[]; blockers: Issue[]; warnings: Issue[] }> {
    const res = await request(t.http)
      .post('/api/recoveries')
      .set('X-API-Key', t.keys.operator)
      .send({ ...body, dryRun: true })
      .expect(200);
    return res.body.plan;
  }

  const post = (body: Body) =>
    request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ confirm: `RESTORE ${body.backupId as string}`, safetyBackup: false, ...body });

  /** A catalog blocker: 409 naming it, no recovery recorded, nothing written. */
  async function expectRefused(body: Body, tables: string[], kind: string): Promise<void> {
    const before = await snapshot(tables);
    const count = await recoveryCount();
    const res = await post(body).expect(409);
    expect((res.body.blockers as Issue[]).map((b) => b.kind)).toContain(kind);
    expect(res.body.message).toMatch(/nothing was written/);
    expect(await recoveryCount()).toBe(count);
    expect(await snapshot(tables)).toEqual(before);
  }

  /** A row-level blocker: the restore runs, fails, and leaves the target exactly as it was. */
  async function expectFailsWithoutWriting(body: Body, tables: string[]): Promise<void> {
    const before = await snapshot(tables);
    const res = await post(body).expect(202);
    const r = await waitForRecovery(t, res.body.id);
    expect(r.status).toBe('failed');
    expect(await snapshot(tables)).toEqual(before);
  }

  it('a clean restore has no blockers and no warnings', async () => {
    await execSql(t.db, [
      `CREATE TABLE clean_t (id INTEGER PRIMARY KEY, v TEXT)`,
      `INSERT INTO clean_t VALUES (1, 'a'), (2, 'b')`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['clean_t'] });
    await execSql(t.db, [`UPDATE clean_t SET v = 'z' WHERE id = 1`]);
    const plan = await dryRun({ backupId: b.id, mode: 'merge' });
    expect(plan).toEqual({
      tables: [{ name: 'clean_t', insert: 0, update: 1, delete: 0, unchanged: 1 }],
      blockers: [],
      warnings: [],
    });
  });

  it('missing-table and missing-column: found by the catalog, the real restore is refused with 409', async () => {
    await execSql(t.db, [
      `CREATE TABLE gone_t (id INTEGER PRIMARY KEY, v TEXT)`,
      `INSERT INTO gone_t VALUES (1, 'a')`,
      `CREATE TABLE narrow_t (id INTEGER PRIMARY KEY, v TEXT, w TEXT)`,
      `INSERT INTO narrow_t VALUES (1, 'a', 'b')`,
      `CREATE TABLE kept_t (id INTEGER PRIMARY KEY)`,
      `INSERT INTO kept_t VALUES (1)`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['gone_t', 'narrow_t', 'kept_t'] });
    await execSql(t.db, [
      `DROP TABLE gone_t`,
      `DROP TABLE narrow_t`,
      `CREATE TABLE narrow_t (id INTEGER PRIMARY KEY, v TEXT)`,
      `INSERT INTO narrow_t VALUES (7, 'live')`,
      `DELETE FROM kept_t`,
    ]);
    const body = { backupId: b.id, allowSchemaMismatch: true };
    const plan = await dryRun(body);
    expect(plan.blockers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'missing-table', object: 'gone_t' }),
        expect.objectContaining({ kind: 'missing-column', object: 'narrow_t.w' }),
      ]),
    );
    // Tables that cannot be read at all are left out of the counts; the others are planned.
    expect(plan.tables).toEqual([{ name: 'kept_t', insert: 1, update: 0, delete: 0, unchanged: 0 }]);
    await expectRefused(body, ['narrow_t', 'kept_t'], 'missing-table');
    // Without allowSchemaMismatch the structure check refuses first, as before.
    await post({ backupId: b.id }).expect(409);
  });

  it('not-null: a live column the backup has no value for (catalog, 409), and backup rows with NULL (row level)', async () => {
    await execSql(t.db, [
      `CREATE TABLE notes_t (id INTEGER PRIMARY KEY, body TEXT)`,
      `INSERT INTO notes_t VALUES (1, 'x'), (2, NULL)`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['notes_t'] });
    await execSql(t.db, [
      `DROP TABLE notes_t`,
      `CREATE TABLE notes_t (id INTEGER PRIMARY KEY, body TEXT NOT NULL, extra TEXT NOT NULL)`,
      `INSERT INTO notes_t VALUES (9, 'live', 'e')`,
    ]);
    const body = { backupId: b.id, mode: 'merge', allowSchemaMismatch: true };
    const plan = await dryRun(body);
    expect(plan.blockers).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: 'not-null', object: 'notes_t.extra' }),
        expect.objectContaining({
          kind: 'not-null',
          object: 'notes_t.body',
          count: 1,
          examples: [expect.stringMatching(/2/)],
        }),
      ]),
    );
    await expectRefused(body, ['notes_t'], 'not-null');

    // Only the row-level NULL left: the real restore runs and fails, writing nothing.
    await execSql(t.db, [
      `DROP TABLE notes_t`,
      `CREATE TABLE notes_t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`,
      `INSERT INTO notes_t VALUES (9, 'live')`,
    ]);
    const rowLevel = await dryRun(body);
    expect(rowLevel.blockers).toEqual([
      expect.objectContaining({ kind: 'not-null', object: 'notes_t.body', count: 1 }),
    ]);
    await expectFailsWithoutWriting(body, ['notes_t']);
  });

  it('foreign-key: restored rows reference rows missing from a table outside the restore', async () => {
    await execSql(t.db, [
      `CREATE TABLE fk_owner (id INTEGER PRIMARY KEY)`,
      `CREATE TABLE fk_pet (id INTEGER PRIMARY KEY, owner_id INTEGER REFERENCES fk_owner (id))`,
      `INSERT INTO fk_owner VALUES (1), (2)`,
      `INSERT INTO fk_pet VALUES (10, 1), (20, 2), (30, NULL)`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['fk_pet'] });
    await execSql(t.db, [`DELETE FROM fk_pet WHERE id = 20`, `DELETE FROM fk_owner WHERE id = 2`]);
    const body = { backupId: b.id };
    const plan = await dryRun(body);
    expect(plan.blockers).toEqual([
      expect.objectContaining({ kind: 'foreign-key', count: 1, examples: ['(owner_id)=(2)'] }),
    ]);
    expect(plan.blockers[0].object).toMatch(/^fk_pet\./);
    expect(plan.tables).toEqual([{ name: 'fk_pet', insert: 1, update: 0, delete: 0, unchanged: 2 }]);
    await expectFailsWithoutWriting(body, ['fk_owner', 'fk_pet']);
  });

  it('referenced-rows: a replace would remove rows that a table outside the restore references', async () => {
    await execSql(t.db, [
      `CREATE TABLE rr_pet (id INTEGER PRIMARY KEY)`,
      `CREATE TABLE rr_visit (id INTEGER PRIMARY KEY, pet_id INTEGER NOT NULL REFERENCES rr_pet (id))`,
      `INSERT INTO rr_pet VALUES (1), (2)`,
      `INSERT INTO rr_visit VALUES (1, 1)`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['rr_pet'] });
    await execSql(t.db, [`INSERT INTO rr_pet VALUES (3)`, `INSERT INTO rr_visit VALUES (2, 3), (3, 3)`]);
    const plan = await dryRun({ backupId: b.id });
    expect(plan.blockers).toEqual([
      expect.objectContaining({ kind: 'referenced-rows', count: 2, examples: ['(pet_id)=(3)', '(pet_id)=(3)'] }),
    ]);
    expect(plan.blockers[0].object).toMatch(/^rr_visit\./);
    // A merge removes nothing: no blocker.
    expect((await dryRun({ backupId: b.id, mode: 'merge' })).blockers).toEqual([]);
    await expectFailsWithoutWriting({ backupId: b.id }, ['rr_pet', 'rr_visit']);
  });

  it('unique: a merge would collide with a live row that stays', async () => {
    await execSql(t.db, [
      `CREATE TABLE uq_t (id INTEGER PRIMARY KEY, tag TEXT)`,
      `CREATE UNIQUE INDEX uq_t_tag ON uq_t (tag)`,
      `INSERT INTO uq_t VALUES (1, 'a'), (2, 'b')`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['uq_t'] });
    await execSql(t.db, [`UPDATE uq_t SET tag = 'x' WHERE id = 1`, `INSERT INTO uq_t VALUES (3, 'a')`]);
    const body = { backupId: b.id, mode: 'merge' };
    const plan = await dryRun(body);
    expect(plan.blockers).toEqual([
      expect.objectContaining({
        kind: 'unique',
        object: 'uq_t.uq_t_tag',
        count: 1,
        examples: [expect.stringMatching(/\(tag\)=\(.*a.*\)/)],
      }),
    ]);
    // A replace removes the live row 3 first: nothing collides.
    expect((await dryRun({ backupId: b.id })).blockers).toEqual([]);
    await expectFailsWithoutWriting(body, ['uq_t']);
  });

  itOnPostgres('check (PostgreSQL): backup rows fail a CHECK constraint the target added since', async () => {
    await execSql(t.db, [
      `CREATE TABLE ck_t (id INTEGER PRIMARY KEY, weight INTEGER)`,
      `INSERT INTO ck_t VALUES (1, 5), (2, -3), (3, -4)`,
    ]);
    const b = await createBackup(t, { type: 'tables', tables: ['ck_t'] });
    await execSql(t.db, [
      `DELETE FROM ck_t WHERE weight < 0`,
      `ALTER TABLE ck_t ADD CONSTRAINT ck_t_weight CHECK (weight >= 0)`,
    ]);
    const plan = await dryRun({ backupId: b.id });
    expect(plan.blockers).toEqual([
      expect.objectContaining({
        kind: 'check',
        object: 'ck_t.ck_t_weight',
        count: 2,
        examples: ['(id)=(2)', '(id)=(3)'],
      }),
    ]);
    await expectFailsWithoutWriting({ backupId: b.id }, ['ck_t']);
  });

  itOnPostgres(
    'rows-rejected and missing-schema (PostgreSQL): an enum label and a schema the target lacks',
    async () => {
      await execSql(t.db, [
        `CREATE TYPE rr_mood AS ENUM ('low', 'high', 'gone')`,
        `CREATE TABLE mood_t (id INTEGER PRIMARY KEY, m rr_mood)`,
        `INSERT INTO mood_t VALUES (1, 'low'), (2, 'gone')`,
        `CREATE SCHEMA side`,
        `CREATE TABLE side.things (id INTEGER PRIMARY KEY)`,
        `INSERT INTO side.things VALUES (1)`,
      ]);
      const b = await createBackup(t, { type: 'tables', tables: ['mood_t', 'side.things'] });
      await execSql(t.db, [
        `DELETE FROM mood_t`,
        `ALTER TABLE mood_t ALTER m TYPE text`,
        `DROP TYPE rr_mood`,
        `CREATE TYPE rr_mood AS ENUM ('low', 'high')`,
        `ALTER TABLE mood_t ALTER m TYPE rr_mood USING m::rr_mood`,
        `INSERT INTO mood_t VALUES (5, 'high')`,
        `DROP SCHEMA side CASCADE`,
      ]);
      const plan = await dryRun({ backupId: b.id, allowSchemaMismatch: true });
      expect(plan.blockers).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ kind: 'rows-rejected', object: 'mood_t', message: expect.stringMatching(/gone/) }),
          expect.objectContaining({ kind: 'missing-schema', object: 'side' }),
        ]),
      );
      await expectRefused({ backupId: b.id, allowSchemaMismatch: true }, ['mood_t'], 'missing-schema');
      // The enum alone: the restore runs and fails, writing nothing.
      await expectFailsWithoutWriting({ backupId: b.id, tables: ['mood_t'] }, ['mood_t']);
    },
  );

  itOnPostgres(
    'warnings (PostgreSQL): a cascade beyond the restore, a sequence and a role the target lacks',
    async () => {
      const role = `strongroom_gone_${randomBytes(4).toString('hex')}`;
      await execSql(t.db, [
        `CREATE TABLE cas_parent (id serial PRIMARY KEY)`,
        `CREATE TABLE cas_child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES cas_parent (id) ON DELETE CASCADE)`,
        `INSERT INTO cas_parent DEFAULT VALUES`,
        `INSERT INTO cas_child VALUES (1, 1)`,
        `CREATE ROLE ${role}`,
        `GRANT SELECT ON cas_parent TO ${role}`,
      ]);
      // A full backup keeps grants (tables backups leave them out), so its archive names the role.
      const b = await createBackup(t);
      await execSql(t.db, [
        `INSERT INTO cas_parent VALUES (2)`,
        `INSERT INTO cas_child VALUES (2, 2)`,
        `REVOKE ALL ON cas_parent FROM ${role}`,
        `DROP ROLE ${role}`,
        `ALTER TABLE cas_parent ALTER id DROP DEFAULT`,
        `DROP SEQUENCE cas_parent_id_seq`,
      ]);
      const plan = await dryRun({ backupId: b.id, tables: ['cas_parent'] });
      expect(plan.blockers).toEqual([]);
      expect(plan.warnings).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            kind: 'referenced-rows',
            object: 'cas_child.cas_child_parent_id_fkey',
            count: 1,
            message: expect.stringMatching(/CASCADE/),
          }),
          expect.objectContaining({ kind: 'missing-sequence', object: 'cas_parent_id_seq' }),
          expect.objectContaining({ kind: 'missing-role', object: role }),
        ]),
      );
    },
  );
});
