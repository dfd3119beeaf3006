import { HttpStatus } from '@nestjs/common';
import { RestoreErrorCode } from '../engine/restore/restore-error';

/**
 * The HTTP status of each restore refusal (the engine's preflight, shared with the command
 * line). A request the backup cannot satisfy as asked is a 400 naming the field; a backup
 * that must not be trusted is a 422; a target or configuration that does not fit it is a 409.
 */
export const RESTORE_ERROR_STATUS: Record<RestoreErrorCode, number> = {
  [RestoreErrorCode.ForeignTables]: HttpStatus.UNPROCESSABLE_ENTITY,
  [RestoreErrorCode.BadScope]: HttpStatus.BAD_REQUEST,
  [RestoreErrorCode.KeylessTables]: HttpStatus.BAD_REQUEST,
  [RestoreErrorCode.NoFiles]: HttpStatus.BAD_REQUEST,
  [RestoreErrorCode.FileRoots]: HttpStatus.CONFLICT,
  [RestoreErrorCode.EngineMismatch]: HttpStatus.CONFLICT,
  [RestoreErrorCode.SchemaMismatch]: HttpStatus.CONFLICT,
  [RestoreErrorCode.TargetNotEmpty]: HttpStatus.CONFLICT,
  [RestoreErrorCode.ReplaceOnly]: HttpStatus.BAD_REQUEST,
  [RestoreErrorCode.Blocked]: HttpStatus.CONFLICT,
  [RestoreErrorCode.ScopeMoves]: HttpStatus.CONFLICT,
  [RestoreErrorCode.ScopeMismatch]: HttpStatus.BAD_REQUEST,
};
