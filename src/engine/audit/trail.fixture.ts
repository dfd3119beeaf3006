/** Audit trails and signed checkpoints for tests: built with the real hash, tree and signature code. */
import { AuditBody, AuditEvent, computeAuditHash, GENESIS_HASH } from './audit-hash';
import { bodyDigest, Checkpoint, signCheckpoint, signingKeyFromSeed, SigningKey } from './checkpoint';
import { auditLeafHash, MerkleFrontier } from './merkle';

export const TEST_ORIGIN = 'strongroom.test/audit';
export const TEST_KEY: SigningKey = signingKeyFromSeed(Buffer.alloc(32, 7).toString('base64'), TEST_ORIGIN);

export function eventBody(seq: number, note = 'original'): AuditBody {
  return {
    seq,
    at: new Date(Date.UTC(2026, 10, 21, 12, 0, seq)).toISOString(),
    actor: { type: 'api-key', keyId: '8d7f3c1e-0000-4000-8000-000000000001', name: 'ops', role: 'admin' },
    action: 'backup.create',
    resource: 'backup',
    resourceId: `id-${seq}`,
    outcome: 'success',
    ip: '127.0.0.1',
    userAgent: 'jest',
    requestId: `req-${seq}`,
    details: { note },
  };
}

/** Re-links bodies into a perfectly consistent chain: what an attacker with the database does after an edit. */
export function rechain(bodies: AuditBody[]): AuditEvent[] {
  let prev = GENESIS_HASH;
  return bodies.map((b, i) => {
    const body = { ...b, seq: i + 1 };
    const hash = computeAuditHash(body, prev);
    const e = { ...body, prevHash: prev, hash };
    prev = hash;
    return e;
  });
}

export function trail(n: number): AuditEvent[] {
  return rechain(Array.from({ length: n }, (_, i) => eventBody(i + 1)));
}

/** Checkpoints at the given sizes, chained by `previous`, signed with `key`. */
export function checkpointsFor(
  events: AuditEvent[],
  sizes: number[],
  opts: { key?: SigningKey; after?: Checkpoint | null; start?: number } = {},
): Checkpoint[] {
  const key = opts.key ?? TEST_KEY;
  const f = new MerkleFrontier();
  const out: Checkpoint[] = [];
  let previous = opts.after ?? null;
  for (const size of sizes) {
    while (f.size < size) f.push(auditLeafHash(events[f.size].hash));
    const cp = signCheckpoint(
      {
        origin: key.name,
        treeSize: size,
        rootHash: f.root(),
        time: new Date(Date.UTC(2026, 10, 21, 13, 0, size + (opts.start ?? 0))).toISOString(),
        previous: previous ? bodyDigest(previous.body) : null,
      },
      key,
    );
    out.push(cp);
    previous = cp;
  }
  return out;
}
