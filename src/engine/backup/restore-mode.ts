import type { RestoreMode } from '../dialects/dialect';
import { AUDIT_TABLE } from './bookkeeping-tables';

/** The mode a table is actually restored in: the audit trail never loses or changes events. */
export function effectiveRestoreMode(table: string, requested: RestoreMode): RestoreMode {
  return table === AUDIT_TABLE ? 'missing-only' : requested;
}
