/**
 * The restore issues both dialects find the same way (restore checks and dry runs), worded once:
 * a client or an operator reading a blocker sees one sentence for one problem, whichever engine.
 */
import { RESTORE_ISSUE_EXAMPLES, type RestoreIssue } from './dialect';

export function missingTableIssue(table: string): RestoreIssue {
  return {
    kind: 'missing-table',
    object: table,
    message: `table ${table} does not exist in the target (create it, or restore the backup's schema into an empty database)`,
  };
}

/** A NOT NULL column without a default that the backup holds no value for: every row would be refused. */
export function requiredColumnIssue(table: string, column: string): RestoreIssue {
  return {
    kind: 'not-null',
    object: `${table}.${column}`,
    message: `column ${column} of table ${table} is NOT NULL without a default in the target, and the backup has no value for it: every restored row would be refused`,
  };
}

/** Backup rows with no value in a column the target declares NOT NULL. */
export function nullValuesIssue(table: string, column: string, n: number, examples: string[]): RestoreIssue {
  return {
    kind: 'not-null',
    object: `${table}.${column}`,
    count: n,
    examples,
    message: `${n} restored row(s) of ${table} have no value in ${column}, which is NOT NULL in the target`,
  };
}

/** Restored rows that would collide on a unique key, among themselves or with live rows that stay. */
export function uniqueCollisionIssue(
  table: string,
  key: string,
  columns: string[],
  n: number,
  examples: string[],
): RestoreIssue {
  return {
    kind: 'unique',
    object: `${table}.${key}`,
    count: n,
    examples: examples.slice(0, RESTORE_ISSUE_EXAMPLES),
    message: `${n} restored row(s) of ${table} would collide on unique key ${key} (${columns.join(', ')}), with each other or with live rows that stay`,
  };
}
