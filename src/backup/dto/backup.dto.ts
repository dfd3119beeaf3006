import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { ValidateNested } from 'class-validator';
import { ScopeRequestDto } from '../../scopes/dto/scope.dto';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
} from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsIsoTimestamp, IsOptionalNotNull } from '../../common/validators';
import { BACKUP_TRIGGERS, BACKUP_TYPES, type BackupType } from '../../engine/archive/manifest.types';

const STATUSES = ['pending', 'running', 'completed', 'failed', 'cancelled'] as const;
const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
const TAG = /^[A-Za-z0-9._:-]{1,64}$/;

export class CreateBackupDto {
  @ApiPropertyOptional({
    description:
      'What to back up: the whole target database, chosen tables, the audit trail alone, the file artefacts (BACKUP_FILE_PATHS) alone, or one scope (see scope)',
    enum: BACKUP_TYPES,
    default: 'full',
  })
  @IsOptionalNotNull()
  @IsIn(BACKUP_TYPES)
  type?: BackupType;

  @ApiPropertyOptional({
    description: 'Tables to back up; required when type is "tables"',
    type: [String],
    example: ['projects', 'tasks'],
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  tables?: string[];

  @ApiPropertyOptional({
    description: 'Free text shown in listings',
    maxLength: 1000,
    example: 'before the 2.4 schema migration',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(1000)
  description?: string;

  @ApiPropertyOptional({
    description: 'Labels for filtering (letters, digits, . _ : -)',
    type: [String],
    example: ['before-migration'],
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(TAG, { each: true, message: 'each value in tags must be 1-64 characters of letters, digits, . _ : -' })
  tags?: string[];

  @ApiPropertyOptional({
    description:
      'What type "scope" backs up: a root table (or a saved scope\'s name) and the keys of its root rows; the backup holds those rows, every row referencing them through foreign keys, transitively, and the rows they reference (context)',
    type: () => ScopeRequestDto,
  })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => ScopeRequestDto)
  scope?: ScopeRequestDto;

  @ApiPropertyOptional({ description: 'Encrypt the backup (default: on whenever a key is configured)' })
  @IsOptionalNotNull()
  @IsBoolean()
  encrypt?: boolean;

  @ApiPropertyOptional({ description: 'Compression of the parts (default BACKUP_COMPRESSION)', enum: COMPRESSIONS })
  @IsOptionalNotNull()
  @IsIn(COMPRESSIONS)
  compression?: (typeof COMPRESSIONS)[number];
}

export class UpdateBackupDto {
  @ApiPropertyOptional({
    description: 'New description (null clears it)',
    maxLength: 1000,
    nullable: true,
    type: String,
    example: 'kept for the Q3 audit',
  })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  description?: string | null;

  @ApiPropertyOptional({ description: 'Replaces the tags', type: [String], example: ['audit-q3'] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(50)
  @Matches(TAG, { each: true, message: 'each value in tags must be 1-64 characters of letters, digits, . _ : -' })
  tags?: string[];

  @ApiPropertyOptional({ description: 'Pinned backups are never deleted by retention or by DELETE (admin only)' })
  @IsOptionalNotNull()
  @IsBoolean()
  pinned?: boolean;
}

export class BackupFilterDto {
  @ApiPropertyOptional({ description: 'Only backups with this status', enum: STATUSES })
  @IsOptional()
  @IsIn(STATUSES)
  status?: string;
  @ApiPropertyOptional({ description: 'Only backups of this type', enum: BACKUP_TYPES })
  @IsOptional()
  @IsIn(BACKUP_TYPES)
  type?: string;
  @ApiPropertyOptional({ description: 'Only backups started this way', enum: BACKUP_TRIGGERS })
  @IsOptional()
  @IsIn(BACKUP_TRIGGERS)
  trigger?: string;
  @ApiPropertyOptional({ description: 'Only backups carrying this tag' })
  @IsOptional()
  @Matches(TAG)
  tag?: string;
  @ApiPropertyOptional({ description: 'Created at or after (ISO-8601)' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;
  @ApiPropertyOptional({ description: 'Created at or before (ISO-8601)' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;
}

export class ListBackupsQueryDto extends IntersectionType(PageQueryDto, BackupFilterDto) {}

export class VerifyBackupDto {
  @ApiPropertyOptional({
    description: 'Also restore into a scratch database and compare row counts and checksums',
    default: false,
  })
  @IsOptionalNotNull()
  @IsBoolean()
  deep?: boolean;
}

export class DeleteBackupQueryDto {
  @ApiPropertyOptional({ description: 'Reason recorded in the audit trail', example: 'superseded by a newer backup' })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  reason?: string;
}

export class BackupTableDto {
  @ApiProperty({ description: 'Table name' }) name: string;
  @ApiProperty({ description: 'Rows backed up', type: 'integer' }) rows: number;
  @ApiProperty({
    description:
      'Uncompressed row-data bytes; 0 in a full SQLite backup taken as a page image (the rows are in the image)',
    type: 'integer',
  })
  bytes: number;
  @ApiProperty({
    description: "SHA-256 (hex) of the table's row data; in a page-image backup, the image's checksum",
  })
  sha256: string;
}

export class BackupFilesDto {
  @ApiProperty({ description: 'Files backed up from BACKUP_FILE_PATHS', type: 'integer' }) count: number;
  @ApiProperty({ description: 'Their total size in bytes', type: 'integer' }) bytes: number;
  @ApiPropertyOptional({
    description:
      'Entries under BACKUP_FILE_PATHS that are not regular files or directories (symbolic links, sockets, FIFOs, devices): not backed up; the manifest lists them',
  })
  skipped?: number;
}

export class BackupProgressDto {
  @ApiProperty({ description: 'Current phase: pending, snapshot, schema, tables, files, manifest, done' })
  phase: string;
  @ApiProperty({ description: 'Tables finished', type: 'integer' }) tablesDone: number;
  @ApiProperty({ description: 'Tables in the backup', type: 'integer' }) tablesTotal: number;
  @ApiProperty({ description: 'Rows written so far', type: 'integer' }) rows: number;
  @ApiProperty({ description: 'Stored bytes written so far', type: 'integer' }) bytes: number;
  @ApiProperty({ description: 'Stored bytes written so far (the same as bytes)', type: 'integer' }) bytesDone: number;
  @ApiProperty({
    description:
      'Expected stored bytes: the size of the previous completed backup of the same type; null when there is none (after the end: the size)',
    type: 'integer',
    nullable: true,
  })
  bytesTotal: number | null;
  @ApiProperty({
    description:
      'Estimated seconds left, from the rate so far; null until at least 10% of bytesTotal is done, and once the job passed its estimate',
    type: 'integer',
    nullable: true,
  })
  etaSeconds: number | null;
}

const OFFSITE_STATUSES = ['pending', 'copied', 'failed'] as const;

export class BackupOffsiteDto {
  @ApiProperty({
    description:
      'The copy in OFFSITE_STORAGE: pending (to be made), copied (made and verified by its checksums), failed (the last attempt failed; retried with backoff); null when there is none to make (offsite copies off, or the backup is not completed)',
    enum: OFFSITE_STATUSES,
    nullable: true,
    type: String,
  })
  status: string | null;
  @ApiProperty({
    description: 'When the copy was made, or when the last attempt ended',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  at: string | null;
  @ApiProperty({ description: 'Copy attempts so far', type: 'integer' }) attempts: number;
  @ApiProperty({ description: 'Why the last attempt failed', nullable: true, type: String }) error: string | null;
  @ApiProperty({
    description: 'When a failed copy is tried again',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  nextAttemptAt: string | null;
}

export class BackupScopeDto {
  @ApiProperty({ description: 'The saved scope named, or null for an inline one', nullable: true, type: String })
  name: string | null;
  @ApiProperty({ description: 'Root table' }) table: string;
  @ApiProperty({
    description: 'Root rows, by primary key',
    type: 'array',
    items: { type: 'object', additionalProperties: true },
  })
  keys: Record<string, string | number>[];
  @ApiProperty({ description: 'Tables the scope never enters', type: [String] }) exclude: string[];
  @ApiProperty({ description: 'Column naming the files the scope carries', nullable: true, type: String })
  filesColumn: string | null;
  @ApiProperty({
    description: 'Member rows per table of the scope (zeros included); empty until the backup completed',
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  members: Record<string, number>;
  @ApiProperty({
    description: 'Context rows per table: outside the scope, referenced by it (for a restore into another database)',
    type: 'object',
    additionalProperties: { type: 'integer' },
  })
  context: Record<string, number>;
  @ApiProperty({
    description: 'E.g. foreign key columns without an index (the scope read that table whole)',
    type: [String],
  })
  warnings: string[];
}

export class BackupDto {
  @ApiProperty({ description: 'Backup id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'What was backed up', enum: BACKUP_TYPES }) type: string;
  @ApiProperty({ description: 'What started it', enum: BACKUP_TRIGGERS }) trigger: string;
  @ApiProperty({
    description:
      'Job status; completed only once the manifest is stored and read back; cancelled when stopped on request (no parts are kept)',
    enum: STATUSES,
  })
  status: string;
  @ApiProperty({ description: 'Schedule that started it, or null', nullable: true, type: String, format: 'uuid' })
  scheduleId: string | null;
  @ApiProperty({ description: 'Free text', nullable: true, type: String }) description: string | null;
  @ApiProperty({ description: 'Labels', type: [String] }) tags: string[];
  @ApiProperty({ description: 'Protected from deletion' }) pinned: boolean;
  @ApiProperty({ description: 'When it was requested', format: 'date-time' }) createdAt: string;
  @ApiProperty({ description: 'When the job started', nullable: true, type: String, format: 'date-time' }) startedAt:
    string | null;
  @ApiProperty({ description: 'When the job ended', nullable: true, type: String, format: 'date-time' }) finishedAt:
    string | null;
  @ApiProperty({ description: 'Stored size in bytes (compressed, encrypted)', type: 'integer' }) sizeBytes: number;
  @ApiProperty({ description: 'Rows in all tables', type: 'integer' }) rowCount: number;
  @ApiProperty({ description: 'Per-table summary', type: [BackupTableDto] }) tables: BackupTableDto[];
  @ApiProperty({ description: 'File artefacts', type: BackupFilesDto }) files: BackupFilesDto;
  @ApiProperty({ description: 'Compression of the parts', enum: COMPRESSIONS }) compression: string;
  @ApiProperty({ description: 'Encrypted with AES-256-GCM' }) encrypted: boolean;
  @ApiProperty({ description: 'Id of the key used, or null', nullable: true, type: String }) keyId: string | null;
  @ApiProperty({
    description: 'SHA-256 (hex) of the manifest',
    nullable: true,
    type: String,
    example: '9f2c4e0b7a1d5c3e8f6a2b4d0c9e7f1a3b5d7c9e1f3a5b7d9c1e3f5a7b9d1c3e',
  })
  checksum: string | null;
  @ApiProperty({ description: 'Last successful verification', nullable: true, type: String, format: 'date-time' })
  verifiedAt: string | null;
  @ApiProperty({ description: 'Why it failed, or who cancelled it', nullable: true, type: String }) error:
    string | null;
  @ApiProperty({ description: 'Progress of the job', type: BackupProgressDto }) progress: BackupProgressDto;
  @ApiProperty({ description: 'The offsite copy (OFFSITE_STORAGE)', type: BackupOffsiteDto }) offsite: BackupOffsiteDto;
  @ApiProperty({
    description: 'Type "scope": the scope and its rows per table; null otherwise',
    nullable: true,
    type: BackupScopeDto,
  })
  scope: BackupScopeDto | null;
}

export class ExcludedObjectDto {
  @ApiProperty({
    description: "What was left out: a whole schema, a table, or only a table's rows",
    enum: ['schema', 'table', 'table-data'],
  })
  kind: string;
  @ApiProperty({ description: 'Its name (tables: `schema.table` outside schema public)' }) name: string;
  @ApiProperty({
    description: "Why: the configuration variable and pattern that matched, or Strongroom's own bookkeeping",
  })
  reason: string;
}

const KIND_SUMMARY = {
  type: 'object',
  properties: {
    count: { type: 'integer', description: 'Objects of this kind in the schema' },
    fingerprint: {
      type: 'string',
      description: 'SHA-256 (hex) of their normalized definitions; a deep verify compares its rebuild with it',
    },
  },
} as const;

export class BackupInventoryDto {
  @ApiProperty({
    description:
      'Per schema (PostgreSQL: its name, "" for database-wide objects such as extensions, roles\' grants or large objects; ' +
      'SQLite: "main"), per object kind (table, index, view, sequence, function, type, trigger, policy...; SQLite also ' +
      'virtual-table and pragma): how many the database held at the snapshot and a fingerprint of their definitions',
    type: 'object',
    additionalProperties: { type: 'object', additionalProperties: KIND_SUMMARY },
    example: { public: { table: { count: 3, fingerprint: '9f2c…' }, index: { count: 5, fingerprint: '41ab…' } } },
  })
  schemas: Record<string, Record<string, { count: number; fingerprint: string }>>;

  @ApiProperty({
    description: 'Rows of each archived table at the snapshot',
    type: 'object',
    additionalProperties: { type: 'integer' },
    example: { projects: 12, tasks: 340 },
  })
  rows: Record<string, number>;
}

/** GET /api/backups/:id (and PATCH, import): the resource with what the list leaves out. */
export class BackupDetailDto extends BackupDto {
  @ApiProperty({
    description:
      "What the database held at the snapshot, within the backup's scope (the manifest's inventory): object kinds and counts per " +
      'schema, and rows per table. A backup fails rather than archive less than it lists. Null until the backup completed, and for ' +
      'backups catalogued before inventories were copied to the catalog. Only on the single-backup read: lists leave it out, it grows with the database',
    type: BackupInventoryDto,
    nullable: true,
  })
  inventory: BackupInventoryDto | null;

  @ApiProperty({
    description:
      "What configuration (BACKUP_INCLUDE_SCHEMAS, BACKUP_EXCLUDE_SCHEMAS, BACKUP_EXCLUDE_TABLES) or Strongroom's own bookkeeping left out of a " +
      'whole-database (full PostgreSQL) backup, each with the reason; [] when nothing was. Null for backups that keep no such list (tables and audit ' +
      'backups, SQLite) and for those not completed',
    type: [ExcludedObjectDto],
    nullable: true,
  })
  excluded: ExcludedObjectDto[] | null;
}

export class BackupPageDto {
  @ApiProperty({ type: [BackupDto], description: 'Backups, newest first' }) items: BackupDto[];
  @ApiProperty({ description: 'Cursor for the next page, or null', nullable: true, type: String }) nextCursor:
    string | null;
}

export class VerifyCheckDto {
  @ApiProperty({ description: 'What was checked, e.g. "manifest", "part parts/0001.rows", "table tasks"' })
  name: string;
  @ApiProperty({ description: 'Whether it passed' }) ok: boolean;
  @ApiPropertyOptional({ description: 'What was found' }) detail?: string;
}

export class VerifyResultDto {
  @ApiProperty({ description: 'True when every check passed' }) ok: boolean;
  @ApiProperty({ type: [VerifyCheckDto], description: 'Every check, in order' }) checks: VerifyCheckDto[];
  @ApiProperty({
    description:
      'The copy the checks are of: primary, or offsite when the primary copy is missing or corrupt and the offsite copy was verified instead',
    enum: ['primary', 'offsite'],
  })
  source: 'primary' | 'offsite';
  @ApiProperty({
    description: 'What is wrong with the primary copy, when the offsite copy was verified instead; else null',
    nullable: true,
    type: String,
  })
  primaryProblem: string | null;
}

export class RescanQueryDto {
  @ApiPropertyOptional({
    description:
      'Which storage to rebuild the catalog from: primary (BACKUP_STORAGE, the default) or offsite (OFFSITE_STORAGE, when the primary storage is lost)',
    enum: ['primary', 'offsite'],
    default: 'primary',
  })
  @IsOptional()
  @IsIn(['primary', 'offsite'])
  from?: 'primary' | 'offsite';
}

export class RescanSkippedDto {
  @ApiProperty({
    description: 'Storage directory holding the manifest, e.g. `backups/{id}`',
    example: 'backups/0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11',
  })
  dir: string;
  @ApiProperty({
    description:
      'Why it was not catalogued: not a backup id, unreadable, or not authenticated under the configured key',
  })
  reason: string;
}

export class RescanResultDto {
  @ApiProperty({ type: [String], description: 'Backups catalogued from their manifests' }) added: string[];
  @ApiProperty({ type: [String], description: 'Completed backups whose manifest is gone (now failed)' })
  missing: string[];
  @ApiProperty({ type: [RescanSkippedDto], description: 'Manifests left out of the catalog, with the reason' })
  skipped: RescanSkippedDto[];
  @ApiProperty({
    type: [String],
    description:
      'Completed backups whose primary copy is gone but whose offsite copy is there: kept completed, restored from the offsite copy',
  })
  offsiteOnly: string[];
}

export class BackupStatsDto {
  @ApiProperty({ description: 'Backups in the catalog', type: 'integer' }) count: number;
  @ApiProperty({ description: 'Stored bytes of all backups', type: 'integer' }) totalBytes: number;
  @ApiProperty({ description: 'Oldest createdAt', nullable: true, type: String, format: 'date-time' }) oldest:
    string | null;
  @ApiProperty({ description: 'Newest createdAt', nullable: true, type: String, format: 'date-time' }) newest:
    string | null;
  @ApiProperty({
    description: 'Count per status',
    type: Object,
    example: { completed: 3, failed: 1, cancelled: 0, running: 0, pending: 0 },
  })
  byStatus: Record<string, number>;
}

export class ImportBackupDto {
  @ApiProperty({ description: 'An archive from GET /api/backups/:id/download', type: 'string', format: 'binary' })
  file: unknown;
}
