/**
 * Signed checkpoints, proofs and offline verification against the real service and database.
 * The adversary is the database superuser: triggers off, rows edited, deleted, inserted,
 * the chain and its head recomputed, the database rolled back, the signing key stolen from
 * the catalog for a fork. Each attack is detected offline from only the NDJSON export, the
 * checkpoints the service wrote to backup storage, and the public key.
 */
import { createWriteStream, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { join } from 'node:path';
import request from 'supertest';
import { AuditCheckpointer } from '../../src/audit/audit-checkpointer';
import { AuditProofs } from '../../src/audit/audit-proofs.service';
import { AuditService } from '../../src/audit/audit.service';
import { offsiteStorageFromConfig } from '../../src/backup/storage.provider';
import { checkpointsFromDir, checkpointsFromSources, verifyExport } from '../../src/cli/audit-verify';
import { SYSTEM_ACTOR } from '../../src/common/request-context';
import { AuditBody, AuditEvent, bodyOf, computeAuditHash, GENESIS_HASH } from '../../src/engine/audit/audit-hash';
import {
  bodyDigest,
  checkpointSignedBy,
  parseCheckpoint,
  signCheckpoint,
  signingKeyFromSeed,
} from '../../src/engine/audit/checkpoint';
import { auditLeafHash, MerkleFrontier, verifyConsistency, verifyInclusion } from '../../src/engine/audit/merkle';
import { CheckpointInput } from '../../src/engine/audit/trail-verifier';
import { tempDir } from '../support/databases';
import { createTestApp, TestApp } from '../support/test-app';
import { runCli } from '../cli/cli-process';

const stored = (t: TestApp) => checkpointsFromDir(join(t.config.BACKUP_DIR, 'checkpoints'));

const event = (n: number) => ({
  actor: SYSTEM_ACTOR,
  action: 'test.append',
  resource: 'test',
  resourceId: String(n),
  outcome: 'success' as const,
});

describe('audit checkpoints and proofs over HTTP (sqlite)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
  });
  afterAll(() => t.close());

  it('signs checkpoints when events were added, serves them, the public key and proofs that verify', async () => {
    const audit = t.app.get(AuditService);
    const checkpointer = t.app.get(AuditCheckpointer);
    for (let i = 1; i <= 5; i++) await audit.record(event(i));
    const first = await checkpointer.checkpointNow();
    expect(first?.treeSize).toBeGreaterThanOrEqual(5);
    await expect(checkpointer.checkpointNow()).resolves.toBeNull(); // nothing new: nothing signed
    for (let i = 6; i <= 9; i++) await audit.record(event(i));
    const second = await checkpointer.checkpointNow();
    expect(second!.treeSize).toBeGreaterThan(first!.treeSize);

    const pk = await request(t.http).get('/api/audit/public-key').expect(200); // public: no key
    expect(pk.body).toMatchObject({ algorithm: 'ed25519', origin: 'strongroom/audit' });
    const publicKey = Buffer.from(pk.body.publicKey as string, 'base64');
    expect(stored(t).every((c) => checkpointSignedBy(parseCheckpoint(c.text), 'strongroom/audit', publicKey))).toBe(
      true,
    );

    const auth = { Authorization: `Bearer ${t.keys.auditor}` };
    const latest = await request(t.http).get('/api/audit/checkpoints/latest').set(auth).expect(200);
    expect(latest.body.treeSize).toBe(second!.treeSize);
    const cp = parseCheckpoint(latest.body.note as string);
    expect(cp.rootHash.toString('hex')).toBe(latest.body.rootHash);
    expect(cp.previous!.equals(bodyDigest(first!.body))).toBe(true);
    const list = await request(t.http).get('/api/audit/checkpoints?limit=1').set(auth).expect(200);
    expect(list.body.items.map((c: { treeSize: number }) => c.treeSize)).toEqual([second!.treeSize]);
    const next = await request(t.http).get(`/api/audit/checkpoints?limit=1&cursor=${list.body.nextCursor}`).set(auth);
    expect(next.body.items.map((c: { treeSize: number }) => c.treeSize)).toEqual([first!.treeSize]);

    for (const seq of [1, 3, second!.treeSize]) {
      const p = await request(t.http).get(`/api/audit/${seq}/proof`).set(auth).expect(200);
      expect(p.body).toMatchObject({ leafIndex: seq - 1, treeSize: second!.treeSize, event: { seq } });
      const proof = (p.body.proof as string[]).map((h) => Buffer.from(h, 'hex'));
      expect(verifyInclusion(auditLeafHash(p.body.event.hash), seq - 1, cp.treeSize, proof, cp.rootHash)).toBe(true);
      expect(verifyInclusion(auditLeafHash(p.body.event.hash), seq, cp.treeSize, proof, cp.rootHash)).toBe(false);
    }
    const old = await request(t.http).get(`/api/audit/2/proof?size=${first!.treeSize}`).set(auth).expect(200);
    expect(old.body.checkpoint.treeSize).toBe(first!.treeSize);

    const c = await request(t.http)
      .get(`/api/audit/consistency?from=${first!.treeSize}&to=${second!.treeSize}`)
      .set(auth)
      .expect(200);
    const cproof = (c.body.proof as string[]).map((h) => Buffer.from(h, 'hex'));
    expect(verifyConsistency(first!.treeSize, second!.treeSize, cproof, first!.rootHash, cp.rootHash)).toBe(true);

    const v = await request(t.http).get('/api/audit/verify').set(auth).expect(200);
    expect(v.body).toMatchObject({ ok: true, checkpoints: { checked: 2, ok: true, firstBad: null } });

    // Out of the database: in backup storage, one object per checkpoint, and in the next backup's manifest.
    const files = readdirSync(join(t.config.BACKUP_DIR, 'checkpoints'));
    expect(files).toHaveLength(2);
    expect(stored(t).map((c) => parseCheckpoint(c.text).treeSize)).toEqual([first!.treeSize, second!.treeSize]);
  });

  it('names bad proof requests with a 400 or 404, never a 500', async () => {
    const auth = { Authorization: `Bearer ${t.keys.auditor}` };
    const latest = (await request(t.http).get('/api/audit/checkpoints/latest').set(auth).expect(200)).body.treeSize;
    const bad = async (path: string, status: number, field: RegExp) => {
      const r = await request(t.http).get(path).set(auth);
      expect(r.status).toBe(status);
      expect(JSON.stringify(r.body.message)).toMatch(field);
    };
    await bad('/api/audit/0/proof', 400, /seq/);
    await bad('/api/audit/abc/proof', 400, /seq/);
    await bad(`/api/audit/1/proof?size=${latest + 1}`, 400, /size/);
    await bad('/api/audit/1/proof?size=0', 400, /size/);
    await bad(`/api/audit/${latest + 1}/proof`, 404, /not in the tree/);
    await bad('/api/audit/consistency?from=3', 400, /to/);
    await bad('/api/audit/consistency?from=4&to=2', 400, /from/);
    await bad(`/api/audit/consistency?from=1&to=${latest + 5}`, 400, /to/);
    await bad('/api/audit/checkpoints?cursor=zz', 400, /cursor/);
  });
});

describe('attacks by the database superuser, detected offline (postgres)', () => {
  let t: TestApp;
  let audit: AuditService;
  let checkpointer: AuditCheckpointer;
  let publicKey: Buffer;
  const work = tempDir('strongroom-audit-attack-');

  beforeAll(async () => {
    t = await createTestApp('postgres');
    audit = t.app.get(AuditService);
    checkpointer = t.app.get(AuditCheckpointer);
    publicKey = Buffer.from(
      (await request(t.http).get('/api/audit/public-key').expect(200)).body.publicKey as string,
      'base64',
    );
  });
  afterAll(async () => {
    await t.close();
    work.remove();
  });

  const q = (sql: string, params: unknown[] = []) => t.dataSource.query(sql, params);
  const unprotected = async (fn: () => Promise<void>) => {
    await q(`ALTER TABLE strongroom_audit_events DISABLE TRIGGER USER`);
    try {
      await fn();
    } finally {
      await q(`ALTER TABLE strongroom_audit_events ENABLE TRIGGER USER`);
    }
  };
  const rows = async (): Promise<AuditEvent[]> => {
    const out: AuditEvent[] = [];
    for await (const e of audit.walk({})) out.push(e);
    return out;
  };
  /** Writes `events` back as the whole table, re-hashed and re-linked, with a matching head: a perfect forgery of the chain. */
  const rewriteAll = async (bodies: AuditBody[]) => {
    let prev = GENESIS_HASH;
    await unprotected(async () => {
      await q(`DELETE FROM strongroom_audit_events`);
      for (const [i, b] of bodies.entries()) {
        // Only the body is hashed: whatever hashes the rows carried are recomputed.
        // (bodyOf: the hashed fields, as DESIGN's formula names them; severity is derived, not hashed.)
        const body: AuditBody = { ...bodyOf(b as AuditEvent), seq: i + 1 };
        const hash = computeAuditHash(body, prev);
        await q(
          `INSERT INTO strongroom_audit_events (seq, at, actor_type, actor_key_id, actor_name, actor_role, action, resource, resource_id, outcome, ip, user_agent, request_id, details, prev_hash, hash)
           VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16)`,
          [
            body.seq,
            body.at,
            body.actor.type,
            body.actor.keyId,
            body.actor.name,
            body.actor.role,
            body.action,
            body.resource,
            body.resourceId,
            body.outcome,
            body.ip,
            body.userAgent,
            body.requestId,
            JSON.stringify(body.details),
            prev,
            hash,
          ],
        );
        prev = hash;
      }
      await q(`UPDATE strongroom_audit_head SET seq = $1, hash = $2`, [bodies.length, prev]);
    });
  };
  let n = 0;
  /** What an auditor holds: the export (as the API streams it), the stored checkpoints, the public key. */
  const offline = async (extra: CheckpointInput[] = [], only?: CheckpointInput[]) => {
    // The export route's own stream, called directly: an HTTP call would append its own audit event meanwhile.
    const file = join(work.path, `export-${++n}.ndjson`);
    await pipeline(audit.export('ndjson', {}), createWriteStream(file));
    const cps = only ?? [...checkpointsFromDir(join(t.config.BACKUP_DIR, 'checkpoints')), ...extra];
    return verifyExport(file, cps, publicKey);
  };
  const original = async () => {
    for (let i = 0; i < 6; i++) await audit.record(event(i));
    await checkpointer.checkpointNow();
    for (let i = 0; i < 6; i++) await audit.record(event(100 + i));
    await checkpointer.checkpointNow();
    for (let i = 0; i < 3; i++) await audit.record(event(200 + i)); // not yet covered: the attacker's window
  };

  it('an honest trail verifies offline, and through the CLI with exit 0 (no database configured)', async () => {
    await original();
    await expect(offline()).resolves.toMatchObject({ ok: true, failure: null });
    const file = join(work.path, 'honest.ndjson');
    await pipeline(audit.export('ndjson', {}), createWriteStream(file));
    const keyFile = join(work.path, 'key.json');
    writeFileSync(keyFile, JSON.stringify({ publicKey: publicKey.toString('base64') }));
    const env = { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' };
    const dir = join(t.config.BACKUP_DIR, 'checkpoints');
    const ok = await runCli(['audit', 'verify', '--export', file, '--checkpoints', dir, '--public-key', keyFile], env);
    expect(ok.stderr).toMatch(/verifies/);
    expect(ok.code).toBe(0);
    const wrongKey = signingKeyFromSeed(Buffer.alloc(32, 1).toString('base64'), 'x').publicKey.toString('base64');
    const bad = await runCli(
      ['audit', 'verify', '--export', file, '--checkpoints', dir, '--public-key', wrongKey],
      env,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/does NOT verify: checkpoint bad-signature/);
  });

  it('an event edited with the triggers disabled', async () => {
    const [{ resource_id: was }] = await q(`SELECT resource_id FROM strongroom_audit_events WHERE seq = 3`);
    await unprotected(() => q(`UPDATE strongroom_audit_events SET resource_id = 'forged' WHERE seq = 3`));
    const v = await offline();
    expect(v.ok).toBe(false);
    expect(v.chain).toMatchObject({ firstBadSeq: 3, problem: 'hash-mismatch' });
    await unprotected(() => q(`UPDATE strongroom_audit_events SET resource_id = $1 WHERE seq = 3`, [was]));
    await expect(offline()).resolves.toMatchObject({ ok: true });
  });

  it('the whole chain recomputed consistently, head included; and an event inserted in the middle', async () => {
    const honest = await rows();
    const edited = honest.map((e) => (e.seq === 4 ? { ...e, details: { rewritten: true } } : e));
    await rewriteAll(edited);
    // The database's own verification cannot tell from the chain alone; the signed roots can.
    const v = await offline();
    expect(v.chain.ok).toBe(true);
    expect(v.checkpoints).toMatchObject({ ok: false, problem: 'root-mismatch' });
    // The verifier behind GET /api/audit/verify sees it too, from the catalog's checkpoints.
    const apiVerify = await t.app.get(AuditProofs).verify();
    expect(apiVerify).toMatchObject({ ok: false, checkpoints: { ok: false, problem: 'root-mismatch' } });

    const inserted = [...honest.slice(0, 5), { ...honest[0], action: 'inserted.later' }, ...honest.slice(5)];
    await rewriteAll(inserted);
    expect((await offline()).checkpoints).toMatchObject({ ok: false, problem: 'root-mismatch' });
    // The service refuses to sign on top of a rewritten trail.
    await expect(checkpointer.checkpointNow()).resolves.toBeNull();
    await rewriteAll(honest);
    await expect(offline()).resolves.toMatchObject({ ok: true });
  });

  it('the tail deleted and the head row rewritten; the database rolled back to an older state', async () => {
    const honest = await rows();
    const latest = parseCheckpoint(
      (await q(`SELECT note FROM strongroom_audit_checkpoints ORDER BY tree_size DESC LIMIT 1`))[0].note as string,
    );
    await rewriteAll(honest.slice(0, latest.treeSize - 2));
    const v = await offline();
    expect(v.chain.ok).toBe(true); // a shorter chain, consistent with its head
    expect(v.checkpoints).toMatchObject({ ok: false, firstBad: latest.treeSize, problem: 'beyond-trail' });

    // Rolled back to an older state, then life goes on: new events take the old seqs.
    await rewriteAll(honest.slice(0, 8));
    for (let i = 0; i < 10; i++) await audit.record(event(300 + i));
    expect((await offline()).checkpoints).toMatchObject({ ok: false, problem: 'root-mismatch' });
    await rewriteAll(honest);
    await expect(offline()).resolves.toMatchObject({ ok: true });
  });

  it('a fork: the signing key read from the catalog signs a second history; gathered checkpoints expose it', async () => {
    const honest = await rows();
    const cps = stored(t).map((c) => parseCheckpoint(c.text));
    const last = cps[cps.length - 1];
    const [{ seed }] = await q(`SELECT seed FROM strongroom_audit_signing_key`);
    const stolen = signingKeyFromSeed(seed as string, last.origin);
    // Trail B: the same first events as the first checkpoint, then a different history.
    const b = [
      ...honest.slice(0, cps[0].treeSize),
      ...honest.slice(cps[0].treeSize).map((e) => ({ ...e, resourceId: 'B' })),
    ];
    await rewriteAll(b);
    const bEvents = await rows();
    const f = new MerkleFrontier();
    for (const e of bEvents) f.push(auditLeafHash(e.hash));
    const forged = signCheckpoint(
      {
        origin: last.origin,
        treeSize: bEvents.length,
        rootHash: f.root(),
        time: new Date().toISOString(),
        previous: bodyDigest(cps[0].body),
      },
      stolen,
    );
    const forgedInput = { source: 'forged', text: forged.text };
    // Verifier B, shown only B's checkpoints, is satisfied: a stolen key can fork a log...
    await expect(offline([], [{ source: 'first', text: cps[0].text }, forgedInput])).resolves.toMatchObject({
      ok: true,
    });
    // ...but the checkpoints that left the database (storage, witnesses, manifests) do not go away.
    const v = await offline([forgedInput]);
    expect(v.ok).toBe(false);
    expect(['fork', 'previous-mismatch', 'root-mismatch']).toContain(v.checkpoints.problem);
    await rewriteAll(honest);
    await expect(offline()).resolves.toMatchObject({ ok: true });
  });
});

describe('checkpoints reach the offsite storage too (sqlite, local offsite)', () => {
  let t: TestApp;
  const work = tempDir('strongroom-audit-offsite-');
  const offsiteDir = join(work.path, 'offsite');

  beforeAll(async () => {
    t = await createTestApp('sqlite', { OFFSITE_STORAGE: 'local', OFFSITE_DIR: offsiteDir });
  });
  afterAll(async () => {
    await t.close();
    work.remove();
  });

  it('retries an unreachable offsite storage without holding back the backup storage; the CLI verifies from it', async () => {
    const audit = t.app.get(AuditService);
    const checkpointer = t.app.get(AuditCheckpointer);
    const auth = { Authorization: `Bearer ${t.keys.auditor}` };
    // A file where the checkpoints directory must go: every write to the offsite storage fails.
    mkdirSync(offsiteDir, { recursive: true });
    writeFileSync(join(offsiteDir, 'checkpoints'), 'in the way');
    for (let i = 1; i <= 4; i++) await audit.record(event(i));
    const first = await checkpointer.checkpointNow();
    expect(stored(t).map((c) => c.text)).toEqual([first!.text]);
    const pending = await request(t.http).get('/api/audit/checkpoints/latest').set(auth).expect(200);
    expect(pending.body).toMatchObject({ treeSize: first!.treeSize, offsiteStoredAt: null });
    expect(pending.body.storedAt).toEqual(expect.any(String));

    // The storage comes back: the next tick writes what was pending, oldest first, and what is new.
    rmSync(join(offsiteDir, 'checkpoints'));
    for (let i = 5; i <= 7; i++) await audit.record(event(i));
    const second = await checkpointer.checkpointNow();
    const offsite = checkpointsFromDir(offsiteDir); // the storage root: its checkpoints/ is read
    expect(offsite.map((c) => c.text)).toEqual(stored(t).map((c) => c.text));
    expect(offsite[0].text).toBe(first!.text);
    expect(offsite[offsite.length - 1].text).toBe(second!.text);
    const latest = await request(t.http).get('/api/audit/checkpoints').set(auth).expect(200);
    expect(latest.body.items.every((c: { offsiteStoredAt: string | null }) => c.offsiteStoredAt)).toBe(true);

    // An auditor verifies against the offsite copies alone: a directory, or the configured storage.
    const file = join(work.path, 'audit.ndjson');
    await pipeline(audit.export('ndjson', {}), createWriteStream(file));
    const publicKey = (await request(t.http).get('/api/audit/public-key').expect(200)).body.publicKey as string;
    const fromStorage = await checkpointsFromSources(['storage:offsite'], () => offsiteStorageFromConfig(t.config));
    expect(fromStorage.map((c) => c.text)).toEqual(offsite.map((c) => c.text));
    const v = await verifyExport(file, fromStorage, Buffer.from(publicKey, 'base64'));
    expect(v).toMatchObject({ ok: true, checkpoints: { checked: offsite.length } });
    const cli = await runCli(
      ['audit', 'verify', '--export', file, '--checkpoints', offsiteDir, '--public-key', publicKey],
      {
        DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
      },
    );
    expect(cli.stdout).toMatch(new RegExp(`checkpoints: ${offsite.length} checked`));
    expect(cli.code).toBe(0);
  });
});
