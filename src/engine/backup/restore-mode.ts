import type { RestoreMode } from '../dialects/dialect';

/** Strongroom's audit trail: append-only, so it is only ever restored missing-only. */
export const AUDIT_TABLE = 'strongroom_audit_events';

/** The mode a table is actually restored in: the audit trail never loses or changes events. */
export function effectiveRestoreMode(table: string, requested: RestoreMode): RestoreMode {
  return table === AUDIT_TABLE ? 'missing-only' : requested;
}
