import { RestoreErrorCode } from '../engine/restore/restore-error';

/** Exit codes of the command line: 0 ok, 1 the operation failed, 2 the command was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in the command line; `command` names the command whose usage to show (none: the general usage). */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message);
    this.name = 'UsageError';
  }
}

/** A failure already explained to the user; the entry point only sets the exit code. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandFailed';
  }
}

/**
 * A refused restore is an operation that failed (exit 1), whatever the reason: the command
 * itself was well formed. One table, so that a new refusal cannot go unmapped.
 */
export const RESTORE_EXIT_CODE: Record<RestoreErrorCode, number> = {
  [RestoreErrorCode.ForeignTables]: EXIT_FAILED,
  [RestoreErrorCode.BadScope]: EXIT_FAILED,
  [RestoreErrorCode.KeylessTables]: EXIT_FAILED,
  [RestoreErrorCode.NoFiles]: EXIT_FAILED,
  [RestoreErrorCode.FileRoots]: EXIT_FAILED,
  [RestoreErrorCode.EngineMismatch]: EXIT_FAILED,
  [RestoreErrorCode.SchemaMismatch]: EXIT_FAILED,
  [RestoreErrorCode.TargetNotEmpty]: EXIT_FAILED,
  [RestoreErrorCode.ReplaceOnly]: EXIT_FAILED,
  [RestoreErrorCode.Blocked]: EXIT_FAILED,
  [RestoreErrorCode.ScopeMoves]: EXIT_FAILED,
  [RestoreErrorCode.ScopeMismatch]: EXIT_FAILED,
};
