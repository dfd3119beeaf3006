/**
 * The one rule for which tables are Strongroom's own: every table whose name starts with
 * `strongroom_` (catalog, recoveries, schedules, API keys, audit head, leases, job claims,
 * migrations — src/database/entities.ts and MIGRATIONS_TABLE, tested against the migrated
 * database). The audit trail is the exception: it is critical data, backed up and restored.
 *
 * Backups never hold the others, and restores never write them, whatever an archive lists: a
 * restored `strongroom_api_keys` would plant working keys, a restored audit head would hide
 * deleted events. SQLite matches table names case-insensitively, so this does too, and a
 * schema-qualified name is judged by its last part.
 */
const BOOKKEEPING_PREFIX = 'strongroom_';

/** Strongroom's audit trail: append-only, so it is only ever restored missing-only, and only with events that verify. */
export const AUDIT_TABLE = 'strongroom_audit_events';

export function isBookkeepingTable(name: string): boolean {
  const unqualified = name.slice(name.lastIndexOf('.') + 1);
  return unqualified.toLowerCase().startsWith(BOOKKEEPING_PREFIX) && name !== AUDIT_TABLE;
}

/** Tables a backup covers: everything but Strongroom's own, the audit trail included. */
export function isBackedUpTable(name: string): boolean {
  return !isBookkeepingTable(name);
}
