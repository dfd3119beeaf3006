/**
 * The OpenAPI document tells the truth, on both engines. For every operation in /docs-json,
 * requests that produce its answers (a 2xx with a valid body, 400 for a bad field or id, 401
 * anonymous, 403 for a role too low, 404 for an unknown id, 409/422 where a case can provoke
 * them, 413/415 for bodies) are sent to the real service, and each answer must be (a) a status
 * the operation documents, with (b) a body that matches the schema documented for that status:
 * no missing required field, no field the schema does not declare, right types and formats.
 * A route added without a case here fails the coverage check, so the document cannot drift.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import type { Role } from '../../src/auth/roles';
import { BackupEntity } from '../../src/backup/backup.entity';
import { RecoveryEntity } from '../../src/recovery/recovery.entity';
import { waitForRecovery } from '../recovery/recovery-helpers';
import { daysAgo, insertBackup } from '../scheduler/schedule-helpers';
import { createBackup, waitForBackup } from '../support/backup-helpers';
import { createTestDatabase, ENGINES, TestDatabase } from '../support/databases';
import { checkSchema, OpenApiDocument, Operation, Schema } from '../support/openapi-schema';
import { seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { AuditCheckpointer } from '../../src/audit/audit-checkpointer';
import { RestoreDrillEntity } from '../../src/verification/restore-drill.entity';

type Who = Role | 'anonymous';
type Lazy = string | (() => string);

interface Case {
  op: string;
  as: Who;
  path?: Record<string, Lazy>;
  query?: Record<string, string>;
  /** A JSON body, or a function producing it when the case runs. */
  body?: unknown;
  /** Raw body with its Content-Type instead of JSON. */
  raw?: { type: string; data: string };
  /** A multipart upload in field `file` (lazy: archives are made by earlier cases). */
  file?: () => Buffer;
  expect: number;
  /** Keeps what later cases need, or waits for background work the case started. */
  then?: (body: unknown) => Promise<void> | void;
}

const BODY_MAX_BYTES = 4096;
const BELOW: Record<Role, Role | null> = { admin: 'operator', operator: 'auditor', auditor: null };

/** Descriptions are Markdown in Swagger UI: `<word>` outside a code span is eaten as HTML. */
function htmlLikeOutsideCode(text: string): string | null {
  const m = /<\/?[A-Za-z!][^>]*>?/.exec(text.replace(/`[^`]*`/g, ''));
  return m ? m[0] : null;
}

function walkStrings(node: unknown, at: string, visit: (key: string, value: string, at: string) => void): void {
  if (Array.isArray(node)) node.forEach((v, i) => walkStrings(v, `${at}[${i}]`, visit));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (typeof v === 'string') visit(k, v, `${at}.${k}`);
      else walkStrings(v, `${at}.${k}`, visit);
    }
  }
}

describe.each(ENGINES)('OpenAPI document against the real service on %s', (engine) => {
  let db: TestDatabase;
  let t: TestApp;
  let doc: OpenApiDocument;
  const ops = new Map<string, { method: string; path: string; op: Operation }>();
  const ids: Record<string, string> = {};
  let archive: Buffer;

  beforeAll(async () => {
    db = await createTestDatabase(engine);
    await seedSample(db, 50);
    t = await createTestApp(
      engine,
      { BODY_MAX_BYTES: String(BODY_MAX_BYTES), THROTTLE_LIMIT: '1000000', THROTTLE_EXPENSIVE_LIMIT: '1000000' },
      { db },
    );
    doc = (await request(t.http).get('/docs-json').expect(200)).body as OpenApiDocument;
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods))
        ops.set(op.operationId ?? `${method} ${path}`, { method, path, op });
    }
    // What the cases act on: a completed backup (B), a pinned one (P), one downloaded then
    // deleted so its archive can be imported back (C), a schedule, a recovery with a safety
    // backup (R) and one without (R0).
    ids.B = (await createBackup(t, { type: 'tables', tables: ['projects', 'tasks'] })).id as string;
    ids.P = (await createBackup(t, { type: 'tables', tables: ['projects'] })).id as string;
    await request(t.http)
      .patch(`/api/backups/${ids.P}`)
      .set('X-API-Key', t.adminKey)
      .send({ pinned: true })
      .expect(200);
    ids.C = (await createBackup(t, { type: 'tables', tables: ['projects'] })).id as string;
    archive = (
      await request(t.http)
        .get(`/api/backups/${ids.C}/download`)
        .set('X-API-Key', t.adminKey)
        .buffer(true)
        .parse(binary)
        .expect(200)
    ).body as Buffer;
    ids.S = (
      await request(t.http)
        .post('/api/schedules')
        .set('X-API-Key', t.adminKey)
        .send({ name: 'contract', cron: '0 3 * * *', enabled: false, type: 'tables', tables: ['projects'] })
        .expect(201)
    ).body.id;
    ids.R = await recovery({ backupId: ids.B, mode: 'replace', tables: ['tasks'], confirm: `RESTORE ${ids.B}` });
    ids.R0 = await recovery({ backupId: ids.B, mode: 'missing-only', tables: ['tasks'], safetyBackup: false });
    // A backup running in another instance (a row only; fresh heartbeat), to cancel.
    const now = new Date().toISOString();
    const elsewhere = { status: 'running' as const, owner: `other-host:4242:feedbeef:${randomUUID().slice(0, 8)}` };
    ids.EB = (await insertBackup(t, { createdAt: now, finishedAt: null, heartbeatAt: now, ...elsewhere })).id;
  });

  /**
   * A recovery running in another instance (a row only; fresh heartbeat), planted right before
   * it is cancelled: while it runs, Strongroom is in maintenance and other changes get 503.
   */
  const plantRecoveryElsewhere = async () => {
    const now = new Date().toISOString();
    ids.ER = randomUUID();
    await t.dataSource.getRepository(RecoveryEntity).save({
      ...(await t.dataSource.getRepository(RecoveryEntity).findOneByOrFail({ id: ids.R0 })),
      id: ids.ER,
      finishedAt: null,
      heartbeatAt: now,
      committingAt: null,
      cancelRequestedAt: null,
      cancelRequestedBy: null,
      status: 'running' as const,
      owner: `other-host:4242:feedbeef:${randomUUID().slice(0, 8)}`,
    });
  };

  /** The other instance ends its cancelled job (keeps the later cases' state as it was). */
  const endElsewhere = async (body: unknown) => {
    const id = (body as { id: string }).id;
    const repo = t.dataSource.getRepository(id === ids.EB ? BackupEntity : RecoveryEntity);
    expect(await repo.findOneByOrFail({ id })).toMatchObject({ cancelRequestedBy: expect.any(String) });
    await repo.update({ id }, { status: 'cancelled', owner: null });
  };
  afterAll(async () => {
    await t?.close();
    await db?.drop();
  });

  async function recovery(body: Record<string, unknown>): Promise<string> {
    const res = await request(t.http).post('/api/recoveries').set('X-API-Key', t.adminKey).send(body).expect(202);
    const done = await waitForRecovery(t, res.body.id as string);
    expect(done.status).toBe('completed');
    return res.body.id as string;
  }

  const waitBackup = async (body: unknown) => {
    await waitForBackup(t, (body as { id: string }).id);
  };
  const waitRecovery = async (body: unknown) => {
    await waitForRecovery(t, (body as { id: string }).id);
  };

  /** One valid request per operation, with the role it needs, in an order where each finds what it acts on. */
  function happyCases(): Case[] {
    const B = () => ids.B;
    return [
      { op: 'getHealth', as: 'anonymous', expect: 200 },
      { op: 'getMetrics', as: 'anonymous', expect: 200 },
      { op: 'getStatus', as: 'auditor', expect: 200 },
      {
        op: 'listRestoreDrills',
        as: 'auditor',
        query: { limit: '5' },
        expect: 200,
        // A drill on record, so the next cases check an item (and the status' last drill) against the schema.
        then: () =>
          t.dataSource
            .getRepository(RestoreDrillEntity)
            .insert({
              id: randomUUID(),
              backupId: randomUUID(),
              startedAt: '2026-01-01T04:00:00.000Z',
              finishedAt: '2026-01-01T04:00:02.500Z',
              durationMs: 2500,
              ok: true,
              source: 'primary',
              error: null,
              baselineMs: 2000,
              regressed: true,
            })
            .then(() => undefined),
      },
      { op: 'listRestoreDrills', as: 'auditor', query: { limit: '1' }, expect: 200 },
      { op: 'listRestoreDrills', as: 'auditor', query: { cursor: 'not-a-cursor' }, expect: 400 },
      { op: 'getStatus', as: 'auditor', expect: 200 },
      { op: 'listAlerts', as: 'auditor', query: { limit: '5' }, expect: 200 },
      { op: 'listAlerts', as: 'auditor', query: { state: 'open', key: 'status:unhealthy' }, expect: 200 },
      { op: 'listAlerts', as: 'auditor', query: { state: 'closed' }, expect: 400 },
      { op: 'listAuditEvents', as: 'auditor', query: { limit: '5', outcome: 'success' }, expect: 200 },
      { op: 'verifyAuditTrail', as: 'auditor', expect: 200 },
      { op: 'exportAuditTrail', as: 'auditor', query: { format: 'csv' }, expect: 200 },
      { op: 'exportAuditTrail', as: 'auditor', query: { format: 'ndjson' }, expect: 200 },
      {
        op: 'getAuditPublicKey',
        as: 'anonymous',
        expect: 200,
        // Signs a checkpoint of what happened so far, so the checkpoint and proof routes have one.
        then: async () => void (await t.app.get(AuditCheckpointer).checkpointNow()),
      },
      { op: 'listAuditCheckpoints', as: 'auditor', query: { limit: '2' }, expect: 200 },
      { op: 'getLatestAuditCheckpoint', as: 'auditor', expect: 200 },
      { op: 'getAuditInclusionProof', as: 'auditor', path: { seq: '1' }, expect: 200 },
      { op: 'getAuditInclusionProof', as: 'auditor', path: { seq: '1' }, query: { size: '1' }, expect: 200 },
      { op: 'getAuditInclusionProof', as: 'auditor', path: { seq: '1' }, query: { size: '0' }, expect: 400 },
      { op: 'getAuditConsistencyProof', as: 'auditor', query: { from: '1', to: '2' }, expect: 200 },
      { op: 'getAuditConsistencyProof', as: 'auditor', query: { from: '2', to: '1' }, expect: 400 },
      {
        op: 'createApiKey',
        as: 'admin',
        body: { name: 'contract-test', role: 'auditor' },
        expect: 201,
        then: (b) => void (ids.key = (b as { id: string }).id),
      },
      { op: 'listApiKeys', as: 'admin', expect: 200 },
      { op: 'getCurrentApiKey', as: 'auditor', expect: 200 },
      { op: 'revokeApiKey', as: 'admin', path: { id: () => ids.key }, expect: 204 },
      { op: 'revokeApiKey', as: 'admin', path: { id: () => ids.key }, expect: 404 },
      {
        op: 'createBackup',
        as: 'operator',
        body: { type: 'tables', tables: ['projects'], description: 'contract test', tags: ['contract'] },
        expect: 202,
        then: waitBackup,
      },
      { op: 'createBackup', as: 'operator', body: { type: 'tables', tables: ['no_such_table'] }, expect: 400 },
      { op: 'listBackups', as: 'auditor', query: { limit: '2', type: 'tables' }, expect: 200 },
      { op: 'getBackupStats', as: 'auditor', expect: 200 },
      { op: 'getBackup', as: 'auditor', path: { id: B }, expect: 200 },
      {
        op: 'updateBackup',
        as: 'operator',
        path: { id: B },
        body: { description: 'edited', tags: ['contract'] },
        expect: 200,
      },
      { op: 'updateBackup', as: 'operator', path: { id: B }, body: { pinned: true }, expect: 403 },
      { op: 'downloadBackup', as: 'admin', path: { id: B }, expect: 200 },
      { op: 'verifyBackup', as: 'operator', path: { id: B }, body: {}, expect: 200 },
      { op: 'deleteBackup', as: 'admin', path: { id: () => ids.P }, expect: 409 },
      { op: 'deleteBackup', as: 'admin', path: { id: () => ids.C }, query: { reason: 'contract test' }, expect: 204 },
      // Cancels: a job running in another instance (its row only) is cancelled by recording the request.
      { op: 'cancelBackup', as: 'operator', path: { id: () => ids.EB }, expect: 202, then: endElsewhere },
      { op: 'cancelBackup', as: 'operator', path: { id: B }, expect: 409 },
      { op: 'importBackup', as: 'admin', file: () => archive, expect: 201 },
      { op: 'importBackup', as: 'admin', file: () => archive, expect: 409 },
      { op: 'importBackup', as: 'admin', file: () => Buffer.from('not an archive'), expect: 422 },
      {
        op: 'importBackup',
        as: 'admin',
        raw: { type: 'multipart/form-data; boundary=zz', data: '--zz--\r\n' },
        expect: 400,
      },
      { op: 'rescanBackups', as: 'admin', expect: 201 },
      { op: 'createRecovery', as: 'operator', body: () => ({ backupId: ids.B, dryRun: true }), expect: 200 },
      { op: 'createRecovery', as: 'operator', body: () => ({ backupId: randomUUID(), dryRun: true }), expect: 404 },
      { op: 'createRecovery', as: 'operator', body: () => ({ backupId: ids.B, mode: 'missing-only' }), expect: 403 },
      { op: 'createRecovery', as: 'admin', body: () => ({ backupId: ids.B, mode: 'replace' }), expect: 400 },
      {
        op: 'createRecovery',
        as: 'admin',
        body: () => ({ backupId: ids.B, mode: 'missing-only', tables: ['tasks'], safetyBackup: false }),
        expect: 202,
        then: waitRecovery,
      },
      { op: 'listRecoveries', as: 'auditor', query: { limit: '3' }, expect: 200, then: plantRecoveryElsewhere },
      { op: 'cancelRecovery', as: 'admin', path: { id: () => ids.ER }, expect: 202, then: endElsewhere },
      { op: 'cancelRecovery', as: 'admin', path: { id: () => ids.R }, expect: 409 },
      { op: 'getRecovery', as: 'auditor', path: { id: () => ids.R }, expect: 200 },
      {
        op: 'rollbackRecovery',
        as: 'admin',
        path: { id: () => ids.R },
        body: { confirm: 'ROLLBACK wrong' },
        expect: 400,
      },
      {
        op: 'rollbackRecovery',
        as: 'admin',
        path: { id: () => ids.R0 },
        body: () => ({ confirm: `ROLLBACK ${ids.R0}` }),
        expect: 409,
      },
      {
        op: 'rollbackRecovery',
        as: 'admin',
        path: { id: () => ids.R },
        body: () => ({ confirm: `ROLLBACK ${ids.R}` }),
        expect: 202,
        then: waitRecovery,
      },
      { op: 'listSchedules', as: 'auditor', expect: 200 },
      {
        op: 'createSchedule',
        as: 'admin',
        body: { name: 'contract-2', cron: '0 4 * * *', enabled: false },
        expect: 201,
        then: (b) => void (ids.S2 = (b as { id: string }).id),
      },
      { op: 'createSchedule', as: 'admin', body: { name: 'bad', cron: '61 * * * *' }, expect: 400 },
      { op: 'getSchedule', as: 'auditor', path: { id: () => ids.S }, expect: 200 },
      {
        op: 'updateSchedule',
        as: 'admin',
        path: { id: () => ids.S },
        body: { name: 'contract-renamed', enabled: false },
        expect: 200,
      },
      { op: 'deleteSchedule', as: 'admin', path: { id: () => ids.S2 }, expect: 204 },
      { op: 'runSchedule', as: 'operator', path: { id: () => ids.S }, expect: 202, then: waitBackup },
      { op: 'createScope', as: 'admin', body: { name: 'contract', table: 'projects', exclude: [] }, expect: 201 },
      { op: 'createScope', as: 'admin', body: { name: 'contract', table: 'projects' }, expect: 409 },
      { op: 'createScope', as: 'admin', body: { name: 'bad name!', table: 'projects' }, expect: 400 },
      { op: 'listScopes', as: 'auditor', expect: 200 },
      { op: 'getScope', as: 'auditor', path: { name: 'contract' }, expect: 200 },
      { op: 'getScope', as: 'auditor', path: { name: 'nope' }, expect: 404 },
      { op: 'updateScope', as: 'admin', path: { name: 'contract' }, body: { exclude: ['tasks'] }, expect: 200 },
      { op: 'deleteScope', as: 'admin', path: { name: 'contract' }, expect: 204 },
      {
        op: 'previewRetention',
        as: 'auditor',
        expect: 200,
        // Old ad-hoc backups (catalog rows only, planted after the rescan case, which would fail them):
        // deleting them would take most of the group, so the apply below records a decision.
        then: async () => {
          for (let i = 0; i < 30; i++) await insertBackup(t, { createdAt: daysAgo(100 + i), trigger: 'manual' });
        },
      },
      {
        op: 'applyRetention',
        as: 'admin',
        expect: 200,
        then: (b) => void (ids.D = (b as { held: { decisionId: string }[] }).held[0].decisionId),
      },
      { op: 'listRetentionDecisions', as: 'auditor', query: { status: 'pending', limit: '5' }, expect: 200 },
      { op: 'getRetentionDecision', as: 'auditor', path: { id: () => ids.D }, expect: 200 },
      {
        op: 'confirmRetentionDecision',
        as: 'admin',
        path: { id: () => ids.D },
        body: { confirm: 'DELETE wrong' },
        expect: 400,
      },
      {
        op: 'confirmRetentionDecision',
        as: 'admin',
        path: { id: () => ids.D },
        body: () => ({ confirm: `DELETE ${ids.D}` }),
        expect: 200,
      },
      {
        op: 'confirmRetentionDecision',
        as: 'admin',
        path: { id: () => ids.D },
        body: () => ({ confirm: `DELETE ${ids.D}` }),
        expect: 409,
      },
      { op: 'getMaintenance', as: 'auditor', expect: 200 },
      { op: 'setMaintenance', as: 'admin', body: { active: true, reason: 'contract test' }, expect: 200 },
      { op: 'createSchedule', as: 'admin', body: { name: 'in-maintenance', cron: '0 5 * * *' }, expect: 503 },
      { op: 'setMaintenance', as: 'admin', body: { active: false }, expect: 200 },
    ];
  }

  /** The answers every operation gives before its handler runs: 401, 403, 400 for a bad id or field, 404, 413, 415. */
  function refusalCases(happy: Case[]): Case[] {
    const out: Case[] = [];
    const firstOk = new Map<string, Case>();
    for (const c of happy) if (c.expect < 300 && !firstOk.has(c.op)) firstOk.set(c.op, c);
    for (const [opId, ok] of firstOk) {
      const { op, method } = ops.get(opId) as { op: Operation; method: string };
      // An integer path parameter (an audit seq) is unknown when it is far beyond anything there is.
      const integerParam = (name: string) =>
        (op.parameters ?? []).some((p) => p.name === name && p.schema?.type === 'integer');
      const unknownIds = Object.fromEntries(
        (op.parameters ?? [])
          .filter((p) => p.in === 'path')
          .map((p) => [p.name, integerParam(p.name) ? '2147483647' : randomUUID()]),
      );
      const base: Case = { ...ok, path: { ...ok.path, ...unknownIds }, then: undefined };
      const hasPathId = Object.keys(unknownIds).length > 0;
      const jsonBody = !!op.requestBody?.content['application/json'];
      if (op.security?.length) {
        out.push({ ...base, as: 'anonymous', expect: 401 });
        const below = ok.as !== 'anonymous' ? BELOW[ok.as] : null;
        if (below) out.push({ ...base, as: below, expect: 403 });
      }
      if (hasPathId) {
        out.push({ ...base, as: 'admin', expect: 404 });
        out.push({
          ...base,
          as: 'admin',
          // A UUID parameter gets a non-UUID; a name (scopes) one its pattern refuses.
          path: Object.fromEntries(
            Object.keys(unknownIds).map((k) => {
              const p = (op.parameters ?? []).find((x) => x.name === k);
              return [k, p?.schema?.pattern ? 'not a name!' : 'not-a-uuid'];
            }),
          ),
          expect: 400,
        });
      }
      if ((op.parameters ?? []).some((p) => p.in === 'query'))
        out.push({ ...base, as: 'admin', query: { ...ok.query, notAParameter: '1' }, expect: 400 });
      if (jsonBody) {
        const body = typeof ok.body === 'function' ? (ok.body as () => unknown)() : ok.body;
        out.push({ ...base, as: 'admin', body: { ...(body as object), notAField: 1 }, expect: 400 });
      }
      // Bodies are parsed before routing: every method that may carry one meets these, declared body or not.
      if (method !== 'get') {
        out.push({ ...base, as: 'admin', body: undefined, raw: { type: 'text/plain', data: 'hello' }, expect: 415 });
        out.push({
          ...base,
          as: 'admin',
          body: undefined,
          raw: { type: 'application/json', data: JSON.stringify({ pad: 'x'.repeat(BODY_MAX_BYTES) }) },
          expect: 413,
        });
        out.push({
          ...base,
          as: 'admin',
          body: undefined,
          raw: { type: 'application/json', data: '{"a":' },
          expect: 400,
        });
      }
    }
    return out;
  }

  async function send(c: Case): Promise<request.Response> {
    const entry = ops.get(c.op);
    if (!entry) throw new Error(`no operation ${c.op} in the document`);
    const path = entry.path.replace(/\{(\w+)\}/g, (_m, name: string) => {
      const v = c.path?.[name];
      if (v === undefined) throw new Error(`${c.op}: no value for path parameter ${name}`);
      return encodeURIComponent(typeof v === 'function' ? v() : v);
    });
    let req = request(t.http)
      [entry.method as 'get'](path)
      .query(c.query ?? {});
    if (c.as !== 'anonymous') req = req.set('X-API-Key', c.as === 'admin' ? t.adminKey : t.keys[c.as]);
    if (c.raw) return req.set('Content-Type', c.raw.type).send(c.raw.data);
    if (c.file) return req.attach('file', c.file(), 'archive.tar');
    const body = typeof c.body === 'function' ? (c.body as () => unknown)() : c.body;
    return body === undefined ? req : req.send(body as object);
  }

  it('names every operation readably and once, as docs/api.md lists them', () => {
    const names = [...ops.keys()];
    expect(names.filter((n) => !/^[a-z][A-Za-z]+$/.test(n))).toEqual([]);
    expect(new Set(names).size).toBe(names.length);
    expect(names.length).toBeGreaterThan(25);
    const listed = new Set(
      [...readFileSync(join(__dirname, '../../docs/api.md'), 'utf8').matchAll(/`([a-z][A-Za-z]+)`/g)].map((m) => m[1]),
    );
    expect(names.filter((n) => !listed.has(n))).toEqual([]);
  });

  it('lets every description render: no HTML-like placeholder outside a code span', () => {
    const eaten: string[] = [];
    walkStrings(doc, '$', (key, value, at) => {
      if (key !== 'description' && key !== 'summary') return;
      const tag = htmlLikeOutsideCode(value);
      if (tag) eaten.push(`${at}: ${tag}`);
    });
    expect(eaten).toEqual([]);
  });

  it('declares the error schema and the statuses every route of its kind can answer', () => {
    const missing: string[] = [];
    for (const [id, { op, method }] of ops) {
      const has = (s: number) => s in op.responses;
      const need = (s: number, why: string) => !has(s) && missing.push(`${id}: ${s} (${why})`);
      need(429, 'rate limit');
      if (op.security?.length) for (const s of [401, 403, 503]) need(s, 'keyed route');
      if ((op.parameters ?? []).some((p) => p.in === 'path')) for (const s of [400, 404]) need(s, 'path id');
      if ((op.parameters ?? []).some((p) => p.in === 'query')) need(400, 'query parameters');
      if (method !== 'get') for (const s of [400, 413, 415]) need(s, 'a body is parsed, declared or not');
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400 || id === 'getHealth') continue;
        const ref = r.content?.['application/json']?.schema?.$ref;
        if (ref !== '#/components/schemas/ErrorDto') missing.push(`${id}: ${status} does not use ErrorDto`);
      }
      if (!Object.keys(op.responses).some((s) => Number(s) < 300)) missing.push(`${id}: no success response`);
    }
    expect(missing).toEqual([]);
  });

  it('gives examples that are valid: request bodies, the recovery example a dry run', () => {
    const invalid: string[] = [];
    for (const [id, { op }] of ops) {
      const media = op.requestBody?.content['application/json'] as
        { schema: Schema; examples?: Record<string, { value: unknown }> } | undefined;
      for (const [name, ex] of Object.entries(media?.examples ?? {})) {
        invalid.push(...checkSchema(doc, media!.schema, ex.value, `${id} example ${name}`));
      }
    }
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const [prop, s] of Object.entries(schema.properties ?? {})) {
        const example = (s as { example?: unknown }).example;
        if (example !== undefined) invalid.push(...checkSchema(doc, s, example, `${name}.${prop} example`));
      }
    }
    expect(invalid).toEqual([]);
    const recoveryExamples = (
      ops.get('createRecovery')?.op.requestBody?.content['application/json'] as {
        examples?: Record<string, { value: { dryRun?: boolean } }>;
      }
    ).examples;
    expect(Object.values(recoveryExamples ?? {})[0]?.value.dryRun).toBe(true);
  });

  it('keeps the authorization of Swagger UI across reloads', async () => {
    const init = await request(t.http).get('/docs/swagger-ui-init.js').expect(200);
    expect(init.text).toMatch(/"persistAuthorization":\s*true/);
  });

  it('answers every operation only with documented statuses and bodies that match their schema', async () => {
    const happy = happyCases();
    const cases = [...refusalCases(happy), ...happy];
    const problems: string[] = [];
    const reached = new Set<string>();
    for (const c of cases) {
      const { op } = ops.get(c.op) as { op: Operation };
      const res = await send(c);
      const what = `${c.op} as ${c.as} (expected ${c.expect})`;
      if (res.status !== c.expect)
        problems.push(`${what}: got ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
      const documented = op.responses[String(res.status)];
      if (!documented) {
        problems.push(`${what}: ${res.status} is not documented (documented: ${Object.keys(op.responses).join(', ')})`);
        continue;
      }
      if (res.status < 300) reached.add(c.op);
      if (res.status === 204) continue;
      const mediaType = String(res.headers['content-type'] ?? '')
        .split(';')[0]
        .trim();
      const media = documented.content?.[mediaType];
      if (!media) {
        problems.push(
          `${what}: ${res.status} answered ${mediaType}, documented ${Object.keys(documented.content ?? {}).join(', ') || 'no content'}`,
        );
      } else if (mediaType === 'application/json' && media.schema) {
        problems.push(...checkSchema(doc, media.schema, res.body, `${what} ${res.status}`));
      }
      if (res.status === c.expect) await c.then?.(res.body);
    }
    expect(problems).toEqual([]);
    // Coverage: every operation was answered with a success at least once.
    expect([...ops.keys()].filter((id) => !reached.has(id))).toEqual([]);
  });
});

/** supertest parser that keeps a binary answer (the tar archive) as a Buffer. */
function binary(res: request.Response, done: (err: Error | null, body: unknown) => void): void {
  const stream = res as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => done(null, Buffer.concat(chunks)));
}
