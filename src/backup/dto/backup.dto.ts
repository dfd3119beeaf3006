import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import {
  ArrayMaxSize, IsArray, IsBoolean, IsIn, IsNotEmpty, IsOptional, IsString, Matches, MaxLength,
} from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsIsoTimestamp, IsOptionalNotNull } from '../../common/validators';

const TYPES = ['full', 'tables', 'audit'] as const;
const TRIGGERS = ['manual', 'scheduled', 'pre-restore', 'import'] as const;
const STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
const COMPRESSIONS = ['zstd', 'gzip', 'none'] as const;
const TAG = /^[A-Za-z0-9._:-]{1,64}$/;

export class CreateBackupDto {
  @ApiPropertyOptional({ description: 'What to back up: the whole target database, chosen tables, or the audit trail alone', enum: TYPES, default: 'full' })
  @IsOptionalNotNull() @IsIn(TYPES) type?: (typeof TYPES)[number];

  @ApiPropertyOptional({ description: 'Tables to back up; required when type is "tables"', type: [String], example: ['projects', 'tasks'] })
  @IsOptionalNotNull() @IsArray() @ArrayMaxSize(1000) @IsString({ each: true }) @IsNotEmpty({ each: true }) @MaxLength(200, { each: true })
  tables?: string[];

  @ApiPropertyOptional({ description: 'Free text shown in listings', maxLength: 1000 })
  @IsOptionalNotNull() @IsString() @MaxLength(1000) description?: string;

  @ApiPropertyOptional({ description: 'Labels for filtering (letters, digits, . _ : -)', type: [String], example: ['before-migration'] })
  @IsOptionalNotNull() @IsArray() @ArrayMaxSize(50) @Matches(TAG, { each: true, message: 'each value in tags must be 1-64 characters of letters, digits, . _ : -' })
  tags?: string[];

  @ApiPropertyOptional({ description: 'Encrypt the backup (default: on whenever a key is configured)' })
  @IsOptionalNotNull() @IsBoolean() encrypt?: boolean;

  @ApiPropertyOptional({ description: 'Compression of the parts (default BACKUP_COMPRESSION)', enum: COMPRESSIONS })
  @IsOptionalNotNull() @IsIn(COMPRESSIONS) compression?: (typeof COMPRESSIONS)[number];
}

export class UpdateBackupDto {
  @ApiPropertyOptional({ description: 'New description (null clears it)', maxLength: 1000, nullable: true, type: String })
  @IsOptional() @IsString() @MaxLength(1000) description?: string | null;

  @ApiPropertyOptional({ description: 'Replaces the tags', type: [String] })
  @IsOptionalNotNull() @IsArray() @ArrayMaxSize(50) @Matches(TAG, { each: true, message: 'each value in tags must be 1-64 characters of letters, digits, . _ : -' })
  tags?: string[];

  @ApiPropertyOptional({ description: 'Pinned backups are never deleted by retention or by DELETE (admin only)' })
  @IsOptionalNotNull() @IsBoolean() pinned?: boolean;
}

export class BackupFilterDto {
  @ApiPropertyOptional({ description: 'Only backups with this status', enum: STATUSES })
  @IsOptional() @IsIn(STATUSES) status?: string;
  @ApiPropertyOptional({ description: 'Only backups of this type', enum: TYPES })
  @IsOptional() @IsIn(TYPES) type?: string;
  @ApiPropertyOptional({ description: 'Only backups started this way', enum: TRIGGERS })
  @IsOptional() @IsIn(TRIGGERS) trigger?: string;
  @ApiPropertyOptional({ description: 'Only backups carrying this tag' })
  @IsOptional() @Matches(TAG) tag?: string;
  @ApiPropertyOptional({ description: 'Created at or after (ISO-8601)' })
  @IsOptional() @IsIsoTimestamp() from?: string;
  @ApiPropertyOptional({ description: 'Created at or before (ISO-8601)' })
  @IsOptional() @IsIsoTimestamp() to?: string;
}

export class ListBackupsQueryDto extends IntersectionType(PageQueryDto, BackupFilterDto) {}

export class VerifyBackupDto {
  @ApiPropertyOptional({ description: 'Also restore into a scratch database and compare row counts and checksums', default: false })
  @IsOptionalNotNull() @IsBoolean() deep?: boolean;
}

export class DeleteBackupQueryDto {
  @ApiPropertyOptional({ description: 'Reason recorded in the audit trail' })
  @IsOptional() @IsString() @MaxLength(500)
  @Transform(({ value }: { value: unknown }) => (typeof value === 'string' ? value.trim() : value))
  reason?: string;
}

export class BackupTableDto {
  @ApiProperty({ description: 'Table name' }) name: string;
  @ApiProperty({ description: 'Rows backed up' }) rows: number;
  @ApiProperty({ description: 'Uncompressed row-data bytes' }) bytes: number;
  @ApiProperty({ description: 'SHA-256 (hex) of the table\'s row data' }) sha256: string;
}

export class BackupFilesDto {
  @ApiProperty({ description: 'Files backed up from BACKUP_FILE_PATHS' }) count: number;
  @ApiProperty({ description: 'Their total size in bytes' }) bytes: number;
  @ApiPropertyOptional({ description: 'Entries under BACKUP_FILE_PATHS that are not regular files or directories (symbolic links, sockets, FIFOs, devices): not backed up; the manifest lists them' })
  skipped?: number;
}

export class BackupProgressDto {
  @ApiProperty({ description: 'Current phase: pending, snapshot, schema, tables, files, manifest, done' }) phase: string;
  @ApiProperty({ description: 'Tables finished' }) tablesDone: number;
  @ApiProperty({ description: 'Tables in the backup' }) tablesTotal: number;
  @ApiProperty({ description: 'Rows written so far' }) rows: number;
  @ApiProperty({ description: 'Stored bytes written so far' }) bytes: number;
}

export class BackupDto {
  @ApiProperty({ description: 'Backup id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'What was backed up', enum: TYPES }) type: string;
  @ApiProperty({ description: 'What started it', enum: TRIGGERS }) trigger: string;
  @ApiProperty({ description: 'Job status; completed only once the manifest is stored and read back', enum: STATUSES }) status: string;
  @ApiProperty({ description: 'Schedule that started it, or null', nullable: true, type: String }) scheduleId: string | null;
  @ApiProperty({ description: 'Free text', nullable: true, type: String }) description: string | null;
  @ApiProperty({ description: 'Labels', type: [String] }) tags: string[];
  @ApiProperty({ description: 'Protected from deletion' }) pinned: boolean;
  @ApiProperty({ description: 'When it was requested' }) createdAt: string;
  @ApiProperty({ description: 'When the job started', nullable: true, type: String }) startedAt: string | null;
  @ApiProperty({ description: 'When the job ended', nullable: true, type: String }) finishedAt: string | null;
  @ApiProperty({ description: 'Stored size in bytes (compressed, encrypted)' }) sizeBytes: number;
  @ApiProperty({ description: 'Rows in all tables' }) rowCount: number;
  @ApiProperty({ description: 'Per-table summary', type: [BackupTableDto] }) tables: BackupTableDto[];
  @ApiProperty({ description: 'File artefacts', type: BackupFilesDto }) files: BackupFilesDto;
  @ApiProperty({ description: 'Compression of the parts', enum: COMPRESSIONS }) compression: string;
  @ApiProperty({ description: 'Encrypted with AES-256-GCM' }) encrypted: boolean;
  @ApiProperty({ description: 'Id of the key used, or null', nullable: true, type: String }) keyId: string | null;
  @ApiProperty({ description: 'SHA-256 (hex) of the manifest', nullable: true, type: String }) checksum: string | null;
  @ApiProperty({ description: 'Last successful verification', nullable: true, type: String }) verifiedAt: string | null;
  @ApiProperty({ description: 'Why it failed', nullable: true, type: String }) error: string | null;
  @ApiProperty({ description: 'Progress of the job', type: BackupProgressDto }) progress: BackupProgressDto;
}

export class BackupPageDto {
  @ApiProperty({ type: [BackupDto], description: 'Backups, newest first' }) items: BackupDto[];
  @ApiProperty({ description: 'Cursor for the next page, or null', nullable: true, type: String }) nextCursor: string | null;
}

export class VerifyCheckDto {
  @ApiProperty({ description: 'What was checked, e.g. "manifest", "part parts/0001.rows", "table tasks"' }) name: string;
  @ApiProperty({ description: 'Whether it passed' }) ok: boolean;
  @ApiPropertyOptional({ description: 'What was found' }) detail?: string;
}

export class VerifyResultDto {
  @ApiProperty({ description: 'True when every check passed' }) ok: boolean;
  @ApiProperty({ type: [VerifyCheckDto], description: 'Every check, in order' }) checks: VerifyCheckDto[];
}

export class RescanSkippedDto {
  @ApiProperty({ description: 'Storage directory holding the manifest, e.g. backups/<id>' }) dir: string;
  @ApiProperty({ description: 'Why it was not catalogued: not a backup id, unreadable, or not authenticated under the configured key' }) reason: string;
}

export class RescanResultDto {
  @ApiProperty({ type: [String], description: 'Backups catalogued from their manifests' }) added: string[];
  @ApiProperty({ type: [String], description: 'Completed backups whose manifest is gone (now failed)' }) missing: string[];
  @ApiProperty({ type: [RescanSkippedDto], description: 'Manifests left out of the catalog, with the reason' }) skipped: RescanSkippedDto[];
}

export class BackupStatsDto {
  @ApiProperty({ description: 'Backups in the catalog' }) count: number;
  @ApiProperty({ description: 'Stored bytes of all backups' }) totalBytes: number;
  @ApiProperty({ description: 'Oldest createdAt', nullable: true, type: String }) oldest: string | null;
  @ApiProperty({ description: 'Newest createdAt', nullable: true, type: String }) newest: string | null;
  @ApiProperty({ description: 'Count per status', type: Object, example: { completed: 3, failed: 1, running: 0, pending: 0 } }) byStatus: Record<string, number>;
}

export class ImportBackupDto {
  @ApiProperty({ description: 'An archive from GET /api/backups/:id/download', type: 'string', format: 'binary' }) file: unknown;
}
