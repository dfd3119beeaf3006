import type { Request } from 'express';
import type { Role } from '../auth/roles';

/** Who made a request, as the auth guard established it. */
export interface Actor {
  type: 'api-key' | 'system';
  keyId: string | null;
  name: string;
  role: Role | null;
}

export const SYSTEM_ACTOR: Actor = { type: 'system', keyId: null, name: 'strongroom', role: null };

/** Size and SHA-256 prefix of a request body: what the audit trail keeps of bodies it does not store. */
export interface BodyDigest {
  bytes: number | null;
  sha256: string | null;
}

export interface RequestWithContext extends Request {
  actor?: Actor;
  requestId?: string;
  /** Set from the handler's @Audit metadata by the guard, so denied requests are named too. */
  auditAction?: { action: string; resource: string; always: boolean };
  /** Set by the body parsers from the raw bytes they read. */
  bodyDigest?: BodyDigest;
  /**
   * Actions a service recorded itself while serving this request (AuditService.record), in
   * the transaction of the change: the HTTP hook then writes no second event for them.
   */
  auditRecorded?: Set<string>;
}
