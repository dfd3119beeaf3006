import { Type } from 'class-transformer';
import { ValidateNested } from 'class-validator';
import { ScopeRequestDto } from '../../scopes/dto/scope.dto';
import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  ArrayMinSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  IsUUID,
  MaxLength,
} from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsOptionalNotNull } from '../../common/validators';

const MODES = ['replace', 'merge', 'missing-only'] as const;
const STATUSES = ['pending', 'running', 'completed', 'failed', 'rolled_back', 'cancelled'] as const;

export class CreateRecoveryDto {
  @ApiProperty({
    description: 'The backup to restore (must be completed)',
    format: 'uuid',
    example: '0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11',
  })
  @IsUUID()
  backupId: string;

  @ApiPropertyOptional({
    description:
      'replace: tables become exactly as in the backup; merge: backup rows are inserted or overwrite rows with the same primary key, other rows stay; missing-only: only rows whose primary key is absent are inserted. The audit trail is always restored missing-only.',
    enum: MODES,
    default: 'replace',
  })
  @IsOptionalNotNull()
  @IsIn(MODES)
  mode?: (typeof MODES)[number];

  @ApiPropertyOptional({
    description:
      'Tables to restore (default: every table in the backup). File artefacts are restored only when this is left out and mode is replace.',
    type: [String],
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  tables?: string[];

  @ApiPropertyOptional({
    description: 'Only report what would change (operator role): 200 with a per-table plan; nothing is written',
    default: false,
    example: true,
  })
  @IsOptionalNotNull()
  @IsBoolean()
  dryRun?: boolean;

  @ApiPropertyOptional({
    description:
      "Required for replace and merge: exactly `RESTORE {backupId}`, with the backup's id in place of `{backupId}`",
    example: 'RESTORE 0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(100)
  confirm?: string;

  @ApiPropertyOptional({
    description: 'Take a backup of the tables in scope first (trigger "pre-restore"), which a rollback restores',
    default: true,
  })
  @IsOptionalNotNull()
  @IsBoolean()
  safetyBackup?: boolean;

  @ApiPropertyOptional({
    description:
      'Restore even when the live table structure differs from the backup (otherwise 409 listing the differences): rows are written by column name; a column missing from the target still fails the restore',
    default: false,
  })
  @IsOptionalNotNull()
  @IsBoolean()
  allowSchemaMismatch?: boolean;

  @ApiPropertyOptional({
    description:
      "Restore the backup's file artefacts too (after the tables committed). Default: true when tables is left out, mode is replace and the backup has files; for a scoped backup with files, true in every mode (its files are written one by one, and a replace removes those only rows it deletes named, never whole directories). Files are only written into directories BACKUP_FILE_PATHS lists (409 otherwise); false restores the tables alone.",
  })
  @IsOptionalNotNull()
  @IsBoolean()
  files?: boolean;

  @ApiPropertyOptional({
    description:
      "A scoped backup only: the scope being restored (checked against the backup's own). replace makes the scope's rows exactly the backup's; rows outside it are never written",
    type: () => ScopeRequestDto,
  })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => ScopeRequestDto)
  scope?: ScopeRequestDto;

  @ApiPropertyOptional({
    description:
      'A scoped backup only: restore its rows that now belong to another scope (moving them back). Without it such rows are a 409 listing them',
    default: false,
  })
  @IsOptionalNotNull()
  @IsBoolean()
  allowScopeMoves?: boolean;
}

export class RollbackRecoveryDto {
  @ApiProperty({
    description: "Exactly `ROLLBACK {recoveryId}`, with the recovery's id in place of `{recoveryId}`",
    example: 'ROLLBACK 5d2b0e1c-1f7e-4a8e-9b7a-3c1d2e4f5a6b',
  })
  @IsString()
  @MaxLength(100)
  confirm: string;
}

export class RecoveryFilterDto {
  @ApiPropertyOptional({ description: 'Only recoveries with this status', enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: string;
  @ApiPropertyOptional({ description: 'Only recoveries of this backup', format: 'uuid' })
  @IsOptional()
  @IsUUID()
  backupId?: string;
}

export class ListRecoveriesQueryDto extends IntersectionType(PageQueryDto, RecoveryFilterDto) {}

export class RecoveryOptionsDto {
  @ApiProperty({ description: 'Whether a safety backup was asked for' }) safetyBackup: boolean;
  @ApiProperty({ description: 'Whether a structure mismatch was accepted' }) allowSchemaMismatch: boolean;
  @ApiProperty({ description: 'Whether file artefacts are restored too (after the tables committed)' }) files: boolean;
}

export class RecoveryProgressDto {
  @ApiProperty({ description: 'pending, safety-backup, restoring, files or done' }) phase: string;
  @ApiProperty({ description: 'Table being restored', nullable: true, type: String }) table: string | null;
  @ApiProperty({ description: 'Rows read from the backup so far', type: 'integer' }) rows: number;
  @ApiProperty({ description: 'Stored bytes of the backup read so far', type: 'integer' }) bytesDone: number;
  @ApiProperty({
    description: "The backup's stored size (from the catalog); null when unknown",
    type: 'integer',
    nullable: true,
  })
  bytesTotal: number | null;
  @ApiProperty({
    description: 'Estimated seconds left, from the rate so far; null until at least 10% of bytesTotal is read',
    type: 'integer',
    nullable: true,
  })
  etaSeconds: number | null;
}

export class RecoveryScopeDto {
  @ApiProperty({ description: 'The saved scope named, or null', nullable: true, type: String }) name: string | null;
  @ApiProperty({ description: 'Root table' }) table: string;
  @ApiProperty({
    description: 'Root rows, by primary key',
    type: 'array',
    items: { type: 'object', additionalProperties: true },
  })
  keys: Record<string, string | number>[];
  @ApiProperty({ description: 'Tables the scope never enters', type: [String] }) exclude: string[];
  @ApiProperty({ description: 'Whether rows that moved to another scope were restored' }) allowScopeMoves: boolean;
  @ApiProperty({
    description: 'Rows written per table (inserted, updated, and for replace deleted)',
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  rows: Record<string, number>;
}

export class RecoveryDto {
  @ApiProperty({ description: 'Recovery id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Backup restored', format: 'uuid' }) backupId: string;
  @ApiProperty({ description: 'Restore mode asked for (the audit trail is always missing-only)', enum: MODES })
  mode: string;
  @ApiProperty({ description: 'Tables in scope', type: [String] }) tables: string[];
  @ApiProperty({
    description:
      'Job status; rolled_back once a rollback of it completed; cancelled when stopped on request before its commit (the target is as it was)',
    enum: STATUSES,
  })
  status: string;
  @ApiProperty({
    description: 'Backup taken just before (trigger pre-restore), or null',
    nullable: true,
    type: String,
    format: 'uuid',
  })
  safetyBackupId: string | null;
  @ApiProperty({ description: 'Rows inserted or changed', type: 'integer' }) rowsWritten: number;
  @ApiProperty({ description: 'When it was requested', format: 'date-time' }) createdAt: string;
  @ApiProperty({ description: 'When the job started', nullable: true, type: String, format: 'date-time' }) startedAt:
    string | null;
  @ApiProperty({ description: 'When the job ended', nullable: true, type: String, format: 'date-time' }) finishedAt:
    string | null;
  @ApiProperty({ description: 'Why it failed, or who cancelled it', nullable: true, type: String }) error:
    string | null;
  @ApiProperty({
    description:
      'How the outcome was established when its own process could not record it (a crash after the restore committed), else null',
    nullable: true,
    type: String,
  })
  note: string | null;
  @ApiProperty({ description: 'For a rollback: the recovery it undoes', nullable: true, type: String, format: 'uuid' })
  rollbackOf: string | null;
  @ApiProperty({ description: 'The rollback that undid this recovery', nullable: true, type: String, format: 'uuid' })
  rolledBackBy: string | null;
  @ApiProperty({ description: 'Name of the key (or tool) that asked for it' }) requestedBy: string;
  @ApiProperty({ description: 'Options of the request', type: RecoveryOptionsDto }) options: RecoveryOptionsDto;
  @ApiProperty({
    description:
      'The copy of the backup restored: primary, or offsite when the primary copy was missing or corrupt (the note says what was wrong)',
    enum: ['primary', 'offsite'],
  })
  source: 'primary' | 'offsite';
  @ApiProperty({
    description: 'Live progress while it runs in this process, else null',
    nullable: true,
    type: RecoveryProgressDto,
  })
  progress: RecoveryProgressDto | null;
  @ApiProperty({
    description: 'A recovery of a scoped backup: the scope and, once completed, rows written per table; null otherwise',
    nullable: true,
    type: () => RecoveryScopeDto,
  })
  scope: RecoveryScopeDto | null;
}

export class RecoveryPageDto {
  @ApiProperty({ type: [RecoveryDto], description: 'Recoveries, newest first' }) items: RecoveryDto[];
  @ApiProperty({ description: 'Cursor for the next page, or null', nullable: true, type: String }) nextCursor:
    string | null;
}

export class PlanTableDto {
  @ApiProperty({ description: 'Table' }) name: string;
  @ApiProperty({ description: 'Backup rows that would be inserted', type: 'integer' }) insert: number;
  @ApiProperty({ description: 'Live rows that would be overwritten', type: 'integer' }) update: number;
  @ApiProperty({ description: 'Live rows that would be removed (replace only)', type: 'integer' }) delete: number;
  @ApiProperty({ description: 'Live rows left as they are', type: 'integer' }) unchanged: number;
}

const ISSUE_KINDS = [
  'missing-schema',
  'missing-table',
  'missing-column',
  'not-null',
  'rows-rejected',
  'foreign-key',
  'referenced-rows',
  'unique',
  'check',
  'missing-sequence',
  'missing-role',
  'missing-extension',
] as const;

export class RestoreIssueDto {
  @ApiProperty({
    enum: ISSUE_KINDS,
    description:
      'missing-schema / missing-table / missing-column: the target lacks what the rows go into; not-null: a NOT NULL column the backup ' +
      'has no value for, or rows with NULL in it; rows-rejected: the target refuses the values themselves (an enum label or domain it ' +
      'lacks); foreign-key: restored rows reference rows missing from a table outside the restore; referenced-rows: rows of a table ' +
      'outside the restore reference rows a replace removes; unique: collisions on a unique key; check: rows failing a CHECK constraint; ' +
      "missing-sequence: a sequence value with no sequence to go to; missing-role: a role the archive's ownership or grants name that " +
      'the target cluster lacks',
  })
  kind: string;
  @ApiProperty({ description: 'What it is about: a table, table.column, table.constraint, a schema or a role' })
  object: string;
  @ApiProperty({ description: 'What was found and what to do about it' }) message: string;
  @ApiPropertyOptional({ description: 'Rows concerned, where counted' }) count?: number;
  @ApiPropertyOptional({ type: [String], description: 'A few of them (at most 3), e.g. "(project_id)=(42)"' })
  examples?: string[];
}

export class PlanFilesDto {
  @ApiProperty({
    type: [String],
    description: "Files (paths as the scope's files column names them) the restore would write",
  })
  write: string[];
  @ApiProperty({
    type: [String],
    description:
      'Files a replace would remove: named only by rows it deletes (created after the backup), and by no row left after it',
  })
  remove: string[];
}

export class PlanDto {
  @ApiProperty({
    type: [PlanTableDto],
    description:
      'Per-table counts; a table a blocker keeps from being read at all (missing table or column) is left out',
  })
  tables: PlanTableDto[];
  @ApiProperty({
    type: [RestoreIssueDto],
    description:
      'What would make the restore fail; empty when nothing was found. A real restore is refused (409, same list in blockers) when the checks that need no backup rows find one',
  })
  blockers: RestoreIssueDto[];
  @ApiProperty({
    type: [RestoreIssueDto],
    description:
      'What the restore would do beyond the tables asked for, or leave out (cascades to tables outside it, sequences or roles the target lacks); it would still succeed',
  })
  warnings: RestoreIssueDto[];
  @ApiPropertyOptional({
    type: PlanFilesDto,
    description: "A scoped backup's restore with its files: the files it would write and remove; absent otherwise",
  })
  files?: PlanFilesDto;
}

export class DryRunResultDto {
  @ApiProperty({ type: PlanDto, description: 'What the restore would do' }) plan: PlanDto;
}
