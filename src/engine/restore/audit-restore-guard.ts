/**
 * What a restore may add to the audit trail. The table is restored missing-only, so live events
 * are never changed; this guard makes sure that what is added is real: every event the restore
 * inserted must carry a correct hash (audit-hash.ts) and link to the event before it, continuing
 * the live chain where it ends. A forged event, or a chain from another installation, fails the
 * whole restore (it runs inside the restore's transaction), naming the first bad seq.
 *
 * Where the live chain "ends" is read after the audit table is locked and before any row is
 * written: the end of its intact prefix 1..S0. Every event past S0 after the load is checked,
 * which covers each inserted one (a missing-only insert can only add seqs the table lacked).
 */
import { bodyOf, computeAuditHash, GENESIS_HASH, type AuditEvent } from '../audit/audit-hash';
import { AUDIT_TABLE } from '../backup/bookkeeping-tables';
import type { RestoreGuard, TransactionReader } from '../dialects/dialect';

const BATCH = 500;
const T = `"${AUDIT_TABLE}"`;

export class AuditChainRestoreError extends Error {
  constructor(
    readonly seq: number,
    why: string,
  ) {
    super(
      `restore refused: audit event seq ${seq} ${why}, so it does not continue the live audit chain; nothing was restored. ` +
        `A backup of another installation carries another chain: leave ${AUDIT_TABLE} out of the tables to restore the rest.`,
    );
    this.name = 'AuditChainRestoreError';
  }
}

interface AuditRow {
  seq: number | string;
  at: string;
  actor_type: string;
  actor_key_id: string | null;
  actor_name: string;
  actor_role: string | null;
  action: string;
  resource: string;
  resource_id: string | null;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  request_id: string | null;
  details: string;
  prev_hash: string;
  hash: string;
}

/** The event as it was hashed (AuditService.fromEntity does the same from the entity). */
function eventFromRow(r: AuditRow): AuditEvent {
  let details: Record<string, unknown>;
  try {
    details = JSON.parse(r.details) as Record<string, unknown>;
  } catch {
    details = { unparseable: String(r.details).slice(0, 100) };
  }
  return {
    seq: Number(r.seq),
    at: r.at,
    actor: {
      type: r.actor_type as AuditEvent['actor']['type'],
      keyId: r.actor_key_id,
      name: r.actor_name,
      role: r.actor_role,
    },
    action: r.action,
    resource: r.resource,
    resourceId: r.resource_id,
    outcome: r.outcome as AuditEvent['outcome'],
    ip: r.ip,
    userAgent: r.user_agent,
    requestId: r.request_id,
    details,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}

async function scalar(db: TransactionReader, sql: string): Promise<number> {
  const [row] = await db.query<{ v: number | string | null }>(sql);
  return Number(row?.v ?? 0);
}

/** The guard for a restore that includes the audit table. */
export function auditChainGuard(): RestoreGuard {
  let anchor: { seq: number; hash: string } | null = null;
  return {
    async beforeLoad(db) {
      const count = await scalar(db, `SELECT COUNT(*) AS v FROM ${T}`);
      const max = await scalar(db, `SELECT MAX(seq) AS v FROM ${T}`);
      let end = max;
      if (count !== max) {
        // The live chain already lost events (a gap): only its intact prefix counts as live.
        const hasFirst = (await scalar(db, `SELECT COUNT(*) AS v FROM ${T} WHERE seq = 1`)) > 0;
        end = hasFirst
          ? await scalar(
              db,
              `SELECT MIN(a.seq) AS v FROM ${T} a WHERE NOT EXISTS (SELECT 1 FROM ${T} b WHERE b.seq = a.seq + 1)`,
            )
          : 0;
      }
      if (!Number.isSafeInteger(end) || end < 0) throw new Error(`the live audit chain ends at an invalid seq ${end}`);
      const hash =
        end === 0
          ? GENESIS_HASH
          : (await db.query<{ hash: string }>(`SELECT hash FROM ${T} WHERE seq = ${end}`))[0].hash;
      anchor = { seq: end, hash };
    },
    async beforeCommit(db) {
      if (!anchor) throw new Error('audit chain guard: beforeLoad did not run');
      let expected = anchor.seq + 1;
      let prev = anchor.hash;
      for (;;) {
        const rows = await db.query<AuditRow>(
          `SELECT seq, at, actor_type, actor_key_id, actor_name, actor_role, action, resource, resource_id, outcome, ip, user_agent, ` +
            `request_id, details, prev_hash, hash FROM ${T} WHERE seq >= ${expected} ORDER BY seq LIMIT ${BATCH}`,
        );
        for (const row of rows) {
          const e = eventFromRow(row);
          if (e.seq !== expected)
            throw new AuditChainRestoreError(
              e.seq,
              `follows seq ${expected - 1} with seq ${expected}..${e.seq - 1} missing`,
            );
          if (e.prevHash !== prev)
            throw new AuditChainRestoreError(e.seq, `has a prevHash that is not the hash of seq ${e.seq - 1}`);
          let hash: string | null;
          try {
            hash = computeAuditHash(bodyOf(e), e.prevHash);
          } catch {
            hash = null;
          }
          if (hash !== e.hash) throw new AuditChainRestoreError(e.seq, 'has content that does not match its hash');
          prev = e.hash;
          expected++;
        }
        if (rows.length < BATCH) return;
      }
    },
  };
}
