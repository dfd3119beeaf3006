/**
 * The audit chain's hash, as DESIGN.md decides:
 *   hash = SHA-256("AUDIT-v1\0" ‖ u64be(seq) ‖ prevHash ‖ SHA-256(JCS(body)))
 * where body is every field of the event but the two hashes, and the first prevHash is
 * 32 zero bytes. Secrets are redacted before an event ever reaches this function.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../jcs';
import type { AuditSeverity } from './audit-severity';

export const GENESIS_HASH = '0'.repeat(64);
const DOMAIN = Buffer.from('AUDIT-v1\0', 'latin1');

export interface AuditActor {
  type: 'api-key' | 'system';
  keyId: string | null;
  name: string;
  role: string | null;
}

/** An event as the API shows it (API.md "Audit trail"), without its hashes. */
export interface AuditBody {
  seq: number;
  at: string;
  actor: AuditActor;
  action: string;
  resource: string;
  resourceId: string | null;
  outcome: 'success' | 'failure' | 'denied';
  ip: string | null;
  userAgent: string | null;
  requestId: string | null;
  details: Record<string, unknown>;
}

export interface AuditEvent extends AuditBody {
  prevHash: string;
  hash: string;
  /** Derived from action, outcome and resource (audit-severity.ts), never part of the hash. */
  severity?: AuditSeverity;
}

export function computeAuditHash(body: AuditBody, prevHash: string): string {
  if (!/^[0-9a-f]{64}$/.test(prevHash)) throw new Error('prevHash must be 64 hex characters');
  if (!Number.isSafeInteger(body.seq) || body.seq < 1) throw new Error('seq must be a positive integer');
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(body.seq));
  const bodyDigest = createHash('sha256').update(canonicalize(body), 'utf8').digest();
  return createHash('sha256')
    .update(DOMAIN)
    .update(seq)
    .update(Buffer.from(prevHash, 'hex'))
    .update(bodyDigest)
    .digest('hex');
}

export function bodyOf(e: AuditEvent): AuditBody {
  const { prevHash: _p, hash: _h, severity: _s, ...body } = e;
  return body;
}
