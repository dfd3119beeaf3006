/**
 * Zero false alarms across crashes: the real server (PostgreSQL catalog, a checkpoint every
 * second) takes a steady stream of audited requests and is killed with SIGKILL at a random
 * moment, mid-append or mid-checkpoint, then restarted; finally it stops cleanly. The trail
 * and every checkpoint it left in backup storage must then verify offline. One kill in CI so
 * the test stays short; STRONGROOM_LONG_TESTS=1 kills it 10 times (seeded moments spread over
 * 1.2–2.7 s of traffic). The long run (100,000 events, many kills) is the chaos campaign's
 * audit family: `npm run test:chaos -- --only audit --engines postgres` (test/chaos/audit-kills.ts).
 */
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { fromEntity } from '../../src/audit/audit.service';
import type { AuditEventEntity } from '../../src/audit/audit-event.entity';
import { checkpointsFromDir, verifyExport } from '../../src/cli/audit-verify';
import { createTestDatabase, pgQuery, tempDir } from '../support/databases';
import { rounds, spreadMoments, TEST_SEED } from '../support/long-mode';
import { startServerChild } from '../support/server-child';

const ADMIN = 'crash-test-admin-key-0123456789abcdef';
const KILLS = rounds(1, 10);

/** Audited requests, several at a time, until stopped (errors while the server is down are expected). */
function load(url: string): { stop(): Promise<void> } {
  let running = true;
  const worker = async () => {
    while (running) {
      await fetch(`${url}/api/audit?limit=1`, { headers: { Authorization: `Bearer ${ADMIN}` } }).catch(() => null);
    }
  };
  const workers = Array.from({ length: 4 }, worker);
  return {
    async stop() {
      running = false;
      await Promise.all(workers);
    },
  };
}

it('SIGKILL at random moments: the trail and its stored checkpoints verify offline, no false alarm', async () => {
  const db = await createTestDatabase('postgres');
  const dir = tempDir('strongroom-audit-crash-');
  const env = {
    DATABASE_URL: db.url,
    ADMIN_API_KEY: ADMIN,
    BACKUP_DIR: join(dir.path, 'backups'),
    AUDIT_CHECKPOINT_SECONDS: '1',
    LEASE_TTL_SECONDS: '10',
  };
  try {
    let publicKey = '';
    const moments = spreadMoments(KILLS + 1, TEST_SEED);
    for (let round = 0; round <= KILLS; round++) {
      const server = await startServerChild(env);
      publicKey ||= ((await (await fetch(`${server.url}/api/audit/public-key`)).json()) as { publicKey: string })
        .publicKey;
      const traffic = load(server.url);
      await new Promise((r) => setTimeout(r, 1200 + Math.floor(moments[round] * 1500)));
      if (round < KILLS) {
        server.child.kill('SIGKILL');
        await once(server.child, 'exit');
        await traffic.stop();
      } else {
        await traffic.stop();
        await new Promise((r) => setTimeout(r, 300)); // the last responses' audit events land
        await server.stop(); // SIGTERM: the shutdown checkpoint covers the last events
      }
    }
    const rows = await pgQuery<Record<string, unknown>>(db.url, `SELECT * FROM strongroom_audit_events ORDER BY seq`);
    expect(rows.length).toBeGreaterThan(20);
    const file = join(dir.path, 'audit.ndjson');
    const out = createWriteStream(file);
    for (const r of rows) out.write(`${JSON.stringify(fromEntity(toEntity(r)))}\n`);
    out.end();
    await once(out, 'finish');
    const checkpoints = checkpointsFromDir(join(env.BACKUP_DIR, 'checkpoints'));
    expect(checkpoints.length).toBeGreaterThanOrEqual(1);
    const verdict = await verifyExport(file, checkpoints, Buffer.from(publicKey, 'base64'));
    expect(verdict.failure).toBeNull();
    expect(verdict.ok).toBe(true);
    // The clean stop signed the very end of the trail.
    expect(verdict.checkpoints.latest?.treeSize).toBe(rows.length);
  } finally {
    await db.drop();
    dir.remove();
  }
});

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
