/**
 * What a restore may write of Strongroom's own tables, whatever an archive lists: never the
 * bookkeeping tables (API keys, audit head, catalog...), and of the audit trail only missing
 * events that continue the live chain. Crafted archives on both engines, through the server,
 * the engine path shared with the CLI, and the CLI itself.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import request from 'supertest';
import { AuditBody, AuditEvent, computeAuditHash } from '../../src/engine/audit/audit-hash';
import { openPart, writePart } from '../../src/engine/archive/part-io';
import { parseManifest, serializeManifest } from '../../src/engine/archive/manifest';
import type { Manifest, PartInfo } from '../../src/engine/archive/manifest.types';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { AUDIT_TABLE, isBookkeepingTable } from '../../src/engine/backup/bookkeeping-tables';
import { writeBackup } from '../../src/engine/backup/write-backup';
import { readAll } from '../../src/engine/storage/read-all';
import { createDialect } from '../../src/engine/dialects/create-dialect';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { canonicalize } from '../../src/engine/jcs';
import { restoreTables } from '../../src/engine/restore/restore-backup';
import { runCli } from '../cli/cli-process';
import { manifestBytes, packTar, readBackupDir, writeBackupDir } from '../support/crafted-archive';
import { createTestDatabase, ENGINES, tempDir, TestDatabase } from '../support/databases';
import { queryRows } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { waitForRecovery } from './recovery-helpers';

const NO_KEYS = keySourceFromConfig({});

/** A backup of `tables` of `url` written by the real engine, which lists whatever it is told to. */
async function engineBackup(
  url: string,
  root: string,
  tables: string[],
): Promise<{ storage: LocalStorage; dir: string; manifest: Manifest }> {
  const storage = new LocalStorage(root);
  const id = randomUUID();
  const dir = `backups/${id}`;
  const dialect = createDialect(url);
  try {
    const manifest = await writeBackup(dialect, storage, {
      id,
      dir,
      type: 'tables',
      trigger: 'manual',
      description: 'crafted',
      tags: [],
      scheduleId: null,
      tables,
      fileRoots: [],
      compression: 'none',
      keys: NO_KEYS,
      appVersion: 'test',
      migrations: [],
      auditHead: null,
      parallel: 1,
    });
    return { storage, dir, manifest };
  } finally {
    await dialect.close();
  }
}

function rowLine(engine: TestDatabase['engine'], columns: string[], e: AuditEvent): string {
  const v: Record<string, unknown> = {
    seq: e.seq,
    at: e.at,
    actor_type: e.actor.type,
    actor_key_id: e.actor.keyId,
    actor_name: e.actor.name,
    actor_role: e.actor.role,
    action: e.action,
    resource: e.resource,
    resource_id: e.resourceId,
    outcome: e.outcome,
    ip: e.ip,
    user_agent: e.userAgent,
    request_id: e.requestId,
    details: canonicalize(e.details),
    prev_hash: e.prevHash,
    hash: e.hash,
  };
  const values = columns.map((c) => {
    if (!(c in v)) throw new Error(`the test does not know audit column ${c}`);
    return v[c];
  });
  if (engine === 'sqlite') return `${JSON.stringify(values)}\n`;
  const copy = (x: unknown) =>
    x === null
      ? '\\N'
      : String(x).replace(/\\/g, '\\\\').replace(/\t/g, '\\t').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
  return `${values.map(copy).join('\t')}\n`;
}

/** An event with a correct hash over `body`, linked to `prevHash`. */
function event(seq: number, prevHash: string, over: Partial<AuditBody> = {}): AuditEvent {
  const body: AuditBody = {
    seq,
    at: new Date().toISOString(),
    actor: { type: 'system', keyId: null, name: 'forger', role: null },
    action: 'backup.delete',
    resource: 'backup',
    resourceId: null,
    outcome: 'success',
    ip: null,
    userAgent: null,
    requestId: null,
    details: { note: 'crafted' },
    ...over,
  };
  return { ...body, prevHash, hash: computeAuditHash(body, prevHash) };
}

describe.each(ENGINES)("restores and Strongroom's own tables on %s", (engine) => {
  let t: TestApp;
  let other: TestApp;
  let dir: ReturnType<typeof tempDir>;
  const admin = () => ({ 'X-API-Key': t.adminKey });
  const NO_SERVICE_DB = {
    DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
    BACKUP_DIR: '/nonexistent/strongroom',
  };

  beforeAll(async () => {
    dir = tempDir();
    // No key configured: the setting in which an archive is accepted on its checksum alone.
    t = await createTestApp(engine);
    other = await createTestApp(engine);
  });
  afterAll(async () => {
    await other.close();
    await t.close();
    dir.remove();
  });

  /**
   * Requests are audited when their response finishes, after the test has the response: wait
   * until no more events arrive, so the head a test reads is the one its restore meets.
   */
  async function quiet(): Promise<void> {
    let last = -1;
    let same = 0;
    while (same < 3) {
      const n = await auditCount();
      same = n === last ? same + 1 : 0;
      last = n;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const head = async () =>
    (
      await queryRows<{ seq: number | string; hash: string }>(
        t.db,
        `SELECT seq, hash FROM ${AUDIT_TABLE} ORDER BY seq DESC LIMIT 1`,
      )
    ).map((r) => ({ seq: Number(r.seq), hash: r.hash }))[0];
  const auditCount = async () =>
    Number((await queryRows<{ n: number | string }>(t.db, `SELECT COUNT(*) AS n FROM ${AUDIT_TABLE}`))[0].n);

  /** An audit-table backup of `t` with `extra` events appended to its part, as an attacker would. */
  async function auditArchive(
    extra: AuditEvent[],
  ): Promise<{ storage: LocalStorage; dir: string; manifest: Manifest }> {
    const b = await engineBackup(t.db.url, join(dir.path, randomUUID()), [AUDIT_TABLE]);
    const table = b.manifest.tables[0];
    const tablePart = table.part as PartInfo;
    const columns = table.structure.columns.filter((c) => !c.generated).map((c) => c.name);
    const live = await readAll(await openPart(b.storage, b.dir, tablePart, b.manifest, null));
    const crafted = Buffer.from(extra.map((e) => rowLine(engine, columns, e)).join(''), 'utf8');
    const part = await writePart(b.storage, b.dir, tablePart.name, Readable.from([Buffer.concat([live, crafted])]), {
      compression: 'none',
    });
    const { checksum: _c, ...body } = b.manifest;
    const manifest = parseManifest(
      serializeManifest({
        ...body,
        tables: [{ ...table, rows: table.rows + extra.length, bytes: part.rawBytes, sha256: part.rawSha256, part }],
      }),
    );
    await b.storage.put(
      `${b.dir}/manifest.json`,
      Readable.from([serializeManifest({ ...body, tables: manifest.tables })]),
    );
    return { ...b, manifest };
  }

  const restoreAudit = (b: { storage: LocalStorage; dir: string; manifest: Manifest }) =>
    restoreTables(createDialect(t.db.url), { ...b, keys: NO_KEYS, mode: 'missing-only', tables: [AUDIT_TABLE] });

  it("has one rule for Strongroom's own tables, covering every table the migrations create but the audit trail", async () => {
    const sql =
      engine === 'postgres'
        ? `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'`
        : `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`;
    const names = (await queryRows<{ name: string }>(t.db, sql)).map((r) => r.name);
    expect(names).toEqual(
      expect.arrayContaining(['strongroom_api_keys', 'strongroom_audit_head', 'strongroom_migrations', AUDIT_TABLE]),
    );
    expect(names.filter((n) => n !== AUDIT_TABLE && !isBookkeepingTable(n))).toEqual([]);
    expect(isBookkeepingTable(AUDIT_TABLE)).toBe(false);
    for (const n of ['STRONGROOM_API_KEYS', 'public.strongroom_api_keys', 'Strongroom_Audit_Events'])
      expect(isBookkeepingTable(n)).toBe(true);
  });

  it('refuses an archive listing bookkeeping tables everywhere: import, planted + rescanned, dry run, restore, CLI; the planted key never works', async () => {
    const keysBefore = await queryRows(t.db, 'SELECT id FROM strongroom_api_keys ORDER BY id');
    const crafted = await engineBackup(other.db.url, join(dir.path, 'planted'), [
      'strongroom_api_keys',
      'strongroom_audit_head',
      AUDIT_TABLE,
    ]);
    const files = readBackupDir(join(dir.path, 'planted', crafted.dir));
    const manifest = manifestBytes(files.manifest);
    const archive = await packTar(files.parts, manifest);

    const imported = await request(t.http)
      .post('/api/backups/import')
      .set(admin())
      .attach('file', archive, 'x.tar')
      .expect(422);
    expect(imported.body.message).toMatch(
      /contents: lists Strongroom's own table\(s\) strongroom_api_keys, strongroom_audit_head/,
    );

    // Planted straight into storage: without a key, rescan can only check the checksum.
    writeBackupDir(join(t.config.BACKUP_DIR, crafted.dir), files.parts, manifest);
    const scan = await request(t.http).post('/api/backups/rescan').set(admin()).expect(201);
    expect(scan.body.added).toContain(crafted.manifest.id);
    const id = crafted.manifest.id;
    const plan = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: id, dryRun: true })
      .expect(422);
    expect(plan.body.message).toMatch(
      new RegExp(`backup ${id} lists Strongroom's own table\\(s\\) strongroom_api_keys, strongroom_audit_head`),
    );
    const run = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: id, confirm: `RESTORE ${id}` })
      .expect(422);
    expect(run.body.message).toMatch(/Refusing to restore any of it/);
    const onlyAudit = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: id, mode: 'missing-only', tables: [AUDIT_TABLE] })
      .expect(422);
    expect(onlyAudit.body.message).toMatch(/strongroom_api_keys/);

    // The engine path (shared with the CLI) refuses too, before writing anything.
    await expect(
      restoreTables(createDialect(t.db.url), {
        ...crafted,
        keys: NO_KEYS,
        mode: 'replace',
        tables: ['strongroom_api_keys'],
      }),
    ).rejects.toThrow(/lists Strongroom's own table\(s\) strongroom_api_keys/);
    const file = join(dir.path, `${engine}-bookkeeping.tar`);
    writeFileSync(file, archive);
    const cli = await runCli(['restore', file, '--database-url', t.db.url, '--yes'], NO_SERVICE_DB);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/strongroom_api_keys/);

    await request(t.http).get('/api/keys').set('X-API-Key', other.adminKey).expect(401);
    expect(await queryRows(t.db, 'SELECT id FROM strongroom_api_keys ORDER BY id')).toEqual(keysBefore);
  });

  it('adds missing audit events that continue the live chain, and the chain still verifies', async () => {
    await quiet();
    const h = await head();
    const first = event(h.seq + 1, h.hash);
    const second = event(h.seq + 2, first.hash, { action: 'backup.verify' });
    const results = await restoreAudit(await auditArchive([first, second]));
    expect(results).toEqual([{ name: AUDIT_TABLE, rowsWritten: 2 }]);
    expect(await head()).toEqual({ seq: h.seq + 2, hash: second.hash });
    const verdict = await request(t.http).get('/api/audit/verify').set(admin()).expect(200);
    expect(verdict.body).toMatchObject({ ok: true, firstBadSeq: null });
  });

  it.each([
    [
      'whose content was changed after hashing',
      (seq: number, prev: string) => [{ ...event(seq, prev), action: 'api-key.create' }],
      0,
    ],
    ['that links to a hash other than the live head', (seq: number) => [event(seq, 'f'.repeat(64))], 0],
    [
      'after a valid one, with a broken link (all or nothing)',
      (seq: number, prev: string) => {
        const ok = event(seq, prev);
        return [ok, event(seq + 1, 'e'.repeat(64))];
      },
      1,
    ],
    ['past a gap', (seq: number, prev: string) => [event(seq + 5, prev)], 5],
  ])('refuses a forged event %s, naming its seq, and adds nothing', async (_what, forge, offset) => {
    await quiet();
    const h = await head();
    const before = await auditCount();
    const b = await auditArchive(forge(h.seq + 1, h.hash));
    const bad = h.seq + 1 + offset;
    await expect(restoreAudit(b)).rejects.toThrow(new RegExp(`^restore refused: audit event seq ${bad} `));
    expect(await auditCount()).toBe(before);
    expect(await head()).toEqual(h);
  });

  it('a disaster restore into an empty database brings the whole trail back from genesis, and refuses it with one event forged', async () => {
    await quiet();
    const sound = await auditArchive([]);
    const files = readBackupDir(join(sound.storage.location, sound.dir));
    const good = join(dir.path, `${engine}-trail.tar`);
    writeFileSync(good, await packTar(files.parts, manifestBytes(files.manifest)));
    // The same trail with one early event's outcome changed and its checksums redone.
    const table = { ...files.manifest.tables[0], part: files.manifest.tables[0].part as PartInfo };
    const text = files.parts.get(table.part.name)!.toString('utf8');
    const forgedText = Buffer.from(
      text.replace(
        engine === 'sqlite' ? '"success"' : '\tsuccess\t',
        engine === 'sqlite' ? '"failure"' : '\tfailure\t',
      ),
      'utf8',
    );
    expect(forgedText.equals(Buffer.from(text, 'utf8'))).toBe(false);
    const forgedDir = join(dir.path, randomUUID());
    const storage = new LocalStorage(forgedDir);
    const part = await writePart(storage, 'x', table.part.name, Readable.from([forgedText]), { compression: 'none' });
    const parts = new Map(
      [...files.parts].map(([name, data]) => [
        name,
        name === table.part.name ? readFileSync(join(forgedDir, 'x', name)) : data,
      ]),
    );
    const forgedManifest = {
      ...files.manifest,
      tables: [{ ...table, bytes: part.rawBytes, sha256: part.rawSha256, part }],
    };
    const bad = join(dir.path, `${engine}-forged-trail.tar`);
    writeFileSync(bad, await packTar(parts, manifestBytes(forgedManifest)));

    for (const [archive, ok] of [
      [good, true],
      [bad, false],
    ] as const) {
      const fresh = await createTestDatabase(engine);
      try {
        const res = await runCli(
          ['restore', archive, '--database-url', fresh.url, '--create-schema', '--mode', 'missing-only', '--yes'],
          NO_SERVICE_DB,
        );
        if (ok) {
          expect(res.stderr).not.toMatch(/refused/);
          expect(res.code).toBe(0);
          const restored = await queryRows<{ n: number | string }>(fresh, `SELECT COUNT(*) AS n FROM ${AUDIT_TABLE}`);
          expect(Number(restored[0].n)).toBe(table.rows);
        } else {
          expect(res.code).toBe(1);
          expect(res.stderr).toMatch(/restore refused: audit event seq \d+ has content that does not match its hash/);
          const left = await queryRows<{ n: number | string }>(fresh, `SELECT COUNT(*) AS n FROM ${AUDIT_TABLE}`);
          expect(Number(left[0].n)).toBe(0);
        }
      } finally {
        await fresh.drop();
      }
    }
  });

  it('a recovery through the server fails on a forged event, naming it, and the trail stays sound', async () => {
    const h = await head();
    // Far enough ahead that the events the server records meanwhile cannot reach it.
    const forged = { ...event(h.seq + 1000, h.hash), action: 'api-key.create' };
    const b = await auditArchive([forged]);
    writeBackupDir(
      join(t.config.BACKUP_DIR, b.dir),
      readBackupDir(join(b.storage.location, b.dir)).parts,
      manifestBytes(readBackupDir(join(b.storage.location, b.dir)).manifest),
    );
    await request(t.http).post('/api/backups/rescan').set(admin()).expect(201);
    const res = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: b.manifest.id, mode: 'missing-only', safetyBackup: false })
      .expect(202);
    const r = await waitForRecovery(t, res.body.id as string);
    expect(r.status).toBe('failed');
    expect(r.error).toMatch(
      new RegExp(`audit event seq ${h.seq + 1000} follows seq \\d+ with seq \\d+\\.\\.${h.seq + 999} missing`),
    );
    expect(await queryRows(t.db, `SELECT seq FROM ${AUDIT_TABLE} WHERE seq = ${h.seq + 1000}`)).toEqual([]);
    const verdict = await request(t.http).get('/api/audit/verify').set(admin()).expect(200);
    expect(verdict.body.ok).toBe(true);

    // The command line's restore into the same database refuses it the same way.
    const file = join(dir.path, `${engine}-forged-audit.tar`);
    const files = readBackupDir(join(b.storage.location, b.dir));
    writeFileSync(file, await packTar(files.parts, manifestBytes(files.manifest)));
    const cli = await runCli(
      ['restore', file, '--database-url', t.db.url, '--mode', 'missing-only', '--yes'],
      NO_SERVICE_DB,
    );
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(new RegExp(`audit event seq ${h.seq + 1000} `));
  });
});
