/**
 * How much an event matters to whoever reads the trail: `critical` for what changes or
 * removes data and for refused admin requests, `warning` for failures and other refusals,
 * `info` for the rest.
 *
 * Derived from the action and the outcome, both of which are in the hash, rather than stored:
 * a severity cannot be edited apart from the event, every existing trail has one, and the
 * chain's hash format stays as it is (bodyOf leaves it out).
 */
export type AuditSeverity = 'info' | 'warning' | 'critical';

/** Restores, deletions, retention, maintenance, revoked keys: what an auditor reads first. */
const CRITICAL_ACTIONS = [/^recovery\./, /\.delete$/, /^retention\./, /^maintenance\./, /^api-key\.(env-)?revoke$/];

/** Admin-only areas: a refusal there is someone trying what they may not. */
const ADMIN_RESOURCES = new Set(['api-key', 'recovery', 'maintenance', 'scope', 'schedule']);

export function auditSeverity(action: string, outcome: string, resource: string): AuditSeverity {
  if (outcome === 'denied') return ADMIN_RESOURCES.has(resource) ? 'critical' : 'warning';
  if (CRITICAL_ACTIONS.some((r) => r.test(action))) return 'critical';
  return outcome === 'failure' ? 'warning' : 'info';
}
