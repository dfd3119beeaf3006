/**
 * The one error a restore's preflight (and the restore's own last-step checks) throws: a code
 * saying what kind of refusal it is, a message naming what is wrong, and details a client can
 * use. The engine knows no HTTP and no exit codes: the server maps the code to a status
 * (src/common/restore-error-status.ts), the command line to an exit code (src/cli/cli-errors.ts),
 * each in one table.
 */
export enum RestoreErrorCode {
  /** The archive lists Strongroom's own bookkeeping tables: forged or altered, refused whole. */
  ForeignTables = 'foreign-tables',
  /** The tables asked for are not in the backup, or none were named. */
  BadScope = 'bad-scope',
  /** merge / missing-only of a table without a primary key (they match rows by key). */
  KeylessTables = 'keyless-tables',
  /** File artefacts asked for, but the backup holds none. */
  NoFiles = 'no-files',
  /** The backup's file directories are not ones the caller may write (or not as many as given). */
  FileRoots = 'file-roots',
  /** The backup is of another database engine than the target. */
  EngineMismatch = 'engine-mismatch',
  /** The target's table structure differs from the backup's, and the caller did not accept that. */
  SchemaMismatch = 'schema-mismatch',
  /** Creating the schema needs an empty target. */
  TargetNotEmpty = 'target-not-empty',
  /** merge / missing-only of a table only a replace restores correctly (a contentless SQLite full-text index). */
  ReplaceOnly = 'replace-only',
  /** The restore's own checks of the target found what would make it fail (details: blockers, warnings). */
  Blocked = 'blocked',
  /** Rows of a scoped backup now belong outside the scope, and the caller did not allow moving them back (details: moved). */
  ScopeMoves = 'scope-moves',
  /** A scoped restore asked of a backup that is not of that scope. */
  ScopeMismatch = 'scope-mismatch',
}

export class RestoreError extends Error {
  constructor(
    readonly code: RestoreErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'RestoreError';
  }
}
