import { DomainError, ErrorCode } from '../common/domain-error';
import type { Dialect } from '../engine/dialects/dialect';
import { parseFilesColumn } from '../engine/scope/scope-backup';
import { rootTuples, ScopeError } from '../engine/scope/scope-closure';
import { scopeSqlFor } from '../engine/scope/scope-sql';
import type { ScopeRequest } from '../engine/scope/scope-backup';

/**
 * A scope checked against the live tables before a backup is accepted, so that a wrong table,
 * exclusion, key or files column is a 400 naming the field rather than a failed job.
 */
export async function checkScopeRequest(dialect: Dialect, tables: string[], scope: ScopeRequest): Promise<void> {
  const live = (await dialect.listTables()).filter((t) => tables.includes(t.name));
  try {
    rootTuples(scopeSqlFor(dialect.engine), live, scope);
    if (scope.filesColumn) parseFilesColumn(live, scope.filesColumn);
  } catch (e) {
    if (e instanceof ScopeError) throw new DomainError(ErrorCode.InvalidInput, e.message);
    throw e;
  }
}
