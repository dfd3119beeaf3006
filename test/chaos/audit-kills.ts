/**
 * The audit trail under crashes: no false alarm. The built server (a signed checkpoint every
 * second) takes a steady stream of audited requests and is killed with SIGKILL at random
 * moments — mid-append, mid-group-commit, mid-checkpoint, mid-write of a checkpoint to
 * storage — and started again, until the trail holds the planned number of events. Checks:
 * `GET /api/audit/verify` says ok after every restart it is asked at (online, the catalog's
 * checkpoints); at the end, after a clean stop (whose shutdown checkpoint covers the very
 * end), the built CLI verifies the trail offline from only an NDJSON export, the checkpoints
 * the server wrote to backup storage and the public key, with exit 0 and the last checkpoint
 * covering every event. A verifier that cries wolf after an ordinary crash is as useless to
 * an auditor as one that misses tampering.
 */
import http from 'node:http';
import { createWriteStream, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Prng } from '../../bench/prng';
import { fromEntity } from '../../src/audit/audit.service';
import type { AuditEventEntity } from '../../src/audit/audit-event.entity';
import type { Engine } from '../support/databases';
import { queryRows } from '../support/sample-data';
import { createInstance, Instance } from './instance';
import { FamilyResult, newResult } from './report';
import { request, Server, sleep, spawnCli } from './service';

export interface AuditKillOptions {
  /** Events the trail must reach before the clean stop. */
  events: number;
  /** Concurrent clients of audited requests. */
  clients: number;
  /** Ask GET /api/audit/verify after every n-th restart (it walks the whole trail). */
  verifyEvery: number;
  stopAt: number;
  prng: Prng;
  log(line: string): void;
  logCopy(label: string): string;
}

/** Audited requests (each appends one event), from `clients` keep-alive clients, until stopped. */
function traffic(server: Server, key: string, clients: number): { stop(): Promise<number> } {
  let running = true;
  let ok = 0;
  const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  const worker = async () => {
    while (running && server.alive()) {
      const r = await request(server.base, 'GET', '/api/audit?limit=1', { key, agent, timeoutMs: 10_000 }).catch(
        () => null,
      );
      if (r?.status === 200) ok++;
    }
  };
  const workers = Array.from({ length: clients }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
      agent.destroy();
      return ok;
    },
  };
}

async function eventCount(inst: Instance): Promise<number> {
  if (inst.boots === 0) return 0; // no tables before the first boot's migrations
  const [r] = await queryRows<{ n: string | number | null }>(
    inst.db,
    'SELECT max(seq) AS n FROM strongroom_audit_events',
  );
  return Number(r?.n ?? 0);
}

/** The trail as the export route writes it, read straight from the database (the server is stopped). */
async function exportTrail(inst: Instance, file: string): Promise<number> {
  const out = createWriteStream(file);
  let after = 0;
  let n = 0;
  for (;;) {
    const rows = await queryRows<Record<string, unknown>>(
      inst.db,
      `SELECT * FROM strongroom_audit_events WHERE seq > ${after} ORDER BY seq LIMIT 5000`,
    );
    for (const r of rows) {
      if (!out.write(`${JSON.stringify(fromEntity(toEntity(r)))}\n`)) await once(out, 'drain');
      n++;
    }
    if (rows.length < 5000) break;
    after = Number(rows[rows.length - 1].seq);
  }
  out.end();
  await once(out, 'finish');
  return n;
}

export async function auditKillCampaign(engine: Engine, o: AuditKillOptions): Promise<FamilyResult> {
  const r = newResult('Audit trail under SIGKILL', engine);
  const inst = await createInstance(engine, 'audit', {
    files: false,
    extraEnv: { AUDIT_CHECKPOINT_SECONDS: '1', LEASE_TTL_SECONDS: '10' },
  });
  let server: Server | null = null;
  let publicKey = '';
  let kills = 0;
  let onlineVerifies = 0;
  let answered = 0;
  const started = Date.now();
  const online = async (trial: string) => {
    const v = await inst.api(server!, 'GET', '/api/audit/verify', { timeoutMs: 300_000 });
    onlineVerifies++;
    const body = v.status === 200 ? v.json<{ ok: boolean; failure?: string | null }>() : null;
    if (!body?.ok) {
      r.failures.push({
        trial,
        check: 'online verify says ok (no false alarm)',
        detail: `GET /api/audit/verify answered ${v.status}: ${v.body.toString().slice(0, 300)}`,
      });
    }
  };
  try {
    for (let round = 1; ; round++) {
      const events = await eventCount(inst);
      if (events >= o.events) break;
      if (Date.now() >= o.stopAt) {
        r.notes.push(
          `Stopped after ${round - 1} crash-restarts, at ${events} of the ${o.events} planned events: the time budget (--minutes) ran out.`,
        );
        break;
      }
      const trial = `restart #${round}`;
      server = await inst.start();
      if (!publicKey) {
        const pk = await request(server.base, 'GET', '/api/audit/public-key', {});
        publicKey = pk.json<{ publicKey: string }>().publicKey;
      }
      if (round > 1 && round % o.verifyEvery === 0) await online(trial);
      const load = traffic(server, inst.adminKey, o.clients);
      // Up for 0.3–5 s: kills land anywhere in the checkpoint period and in group commits.
      await sleep(300 + Math.floor(o.prng.next() * 4700));
      await server.kill();
      kills++;
      answered += await load.stop();
      server = null;
      r.trials++;
      if (round % 10 === 0) o.log(`  ${engine}: ${round} crash-restarts, ${await eventCount(inst)} events`);
    }
    // The end: a clean stop, whose shutdown checkpoint covers the last event.
    server = await inst.start();
    await online('final (online)');
    const last = traffic(server, inst.adminKey, o.clients);
    await sleep(1000);
    answered += await last.stop();
    await sleep(300); // the last responses' audit events land
    await server.stop();
    server = null;
    const file = join(inst.dir, 'audit.ndjson');
    const exported = await exportTrail(inst, file);
    const keyFile = join(inst.dir, 'audit-public-key.txt');
    writeFileSync(keyFile, publicKey);
    const cli = await spawnCli(
      ['audit', 'verify', '--export', file, '--checkpoints', inst.backupDir, '--public-key', keyFile],
      inst.env,
      inst.dir,
    ).result;
    const covered = /latest covers (\d+) events/.exec(cli.stdout);
    if (cli.code !== 0) {
      r.failures.push({
        trial: 'final (offline)',
        check: 'the CLI verifies the export offline (exit 0)',
        detail: `exit ${cli.code}: ${(cli.stdout + cli.stderr).slice(-500)}`,
      });
    } else if (!covered || Number(covered[1]) !== exported) {
      r.failures.push({
        trial: 'final (offline)',
        check: 'the shutdown checkpoint covers every event',
        detail: `${exported} events exported; ${cli.stdout.trim().split('\n').join(' / ')}`,
      });
    }
    const checkpoints = await queryRows<{ n: string | number }>(
      inst.db,
      'SELECT count(*) AS n FROM strongroom_audit_checkpoints',
    );
    r.notes.push(
      `${exported.toLocaleString('en-US')} events from ${inst.boots} boots: ${kills} SIGKILLs at random moments 0.3–5 s after each start, then a clean stop; ${answered.toLocaleString('en-US')} audited requests were answered 200. ${Number(checkpoints[0]?.n ?? 0)} checkpoints signed (one per second with new events). ${o.clients} concurrent clients; ${Math.round((Date.now() - started) / 60000)} min.`,
      'Fewer events than answered requests is expected: the HTTP hook records a read after its response, so a kill between the response and the next group commit loses that event (the trail stays sound; nothing is half-written).',
      `Online verification (GET /api/audit/verify) asked ${onlineVerifies} times (every ${o.verifyEvery} restarts, and at the end); offline verification by the built CLI once at the end, from the NDJSON export, the checkpoints in backup storage and the public key: ${cli.code === 0 ? 'exit 0' : `exit ${cli.code}`}.`,
    );
  } catch (e) {
    r.failures.push({ trial: 'campaign', check: 'runs to the end', detail: (e as Error).message });
  } finally {
    await server?.kill();
    await inst.dispose(o.logCopy(`audit-${engine}`));
  }
  return r;
}

function toEntity(r: Record<string, unknown>): AuditEventEntity {
  return {
    seq: Number(r.seq),
    at: r.at as string,
    actorType: r.actor_type as string,
    actorKeyId: r.actor_key_id as string | null,
    actorName: r.actor_name as string,
    actorRole: r.actor_role as string | null,
    action: r.action as string,
    resource: r.resource as string,
    resourceId: r.resource_id as string | null,
    outcome: r.outcome as string,
    ip: r.ip as string | null,
    userAgent: r.user_agent as string | null,
    requestId: r.request_id as string | null,
    details: r.details as string,
    prevHash: r.prev_hash as string,
    hash: r.hash as string,
  };
}
