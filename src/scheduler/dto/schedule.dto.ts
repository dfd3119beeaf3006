import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  MaxLength,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/validators';
import { BACKUP_TYPES, type BackupType } from '../../engine/archive/manifest.types';
import { ScopeRequestDto } from '../../scopes/dto/scope.dto';

export class RetentionDto {
  @ApiPropertyOptional({
    description:
      'Always keep this many newest completed backups (at least 1: a policy that keeps none is refused, whatever the buckets say)',
    type: 'integer',
    minimum: 1,
    maximum: 10000,
    default: 7,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(1)
  @Max(10000)
  keepLast?: number;
  @ApiPropertyOptional({
    description:
      'Keep the newest backup of each of this many most recent days (0: this bucket is off; keepLast still applies)',
    type: 'integer',
    minimum: 0,
    maximum: 10000,
    default: 7,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(10000)
  daily?: number;
  @ApiPropertyOptional({
    description:
      'Keep the newest backup of each of this many most recent ISO weeks (0: this bucket is off; keepLast still applies)',
    type: 'integer',
    minimum: 0,
    maximum: 10000,
    default: 4,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(10000)
  weekly?: number;
  @ApiPropertyOptional({
    description:
      'Keep the newest backup of each of this many most recent months (0: this bucket is off; keepLast still applies)',
    type: 'integer',
    minimum: 0,
    maximum: 10000,
    default: 12,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(10000)
  monthly?: number;
  @ApiPropertyOptional({
    description:
      'Keep the newest backup of each of this many most recent years (0: this bucket is off; keepLast still applies)',
    type: 'integer',
    minimum: 0,
    maximum: 10000,
    default: 0,
  })
  @IsOptionalNotNull()
  @IsInt()
  @Min(0)
  @Max(10000)
  yearly?: number;
  @ApiPropertyOptional({
    description: 'Delete kept backups older than this many days (null: no age limit)',
    nullable: true,
    type: 'integer',
    minimum: 1,
  })
  @IsOptional()
  @ValidateIf((o: RetentionDto) => o.maxAgeDays !== null)
  @IsInt()
  @Min(1)
  maxAgeDays?: number | null;
  @ApiPropertyOptional({
    description: "Delete the oldest kept backups while this schedule's backups use more bytes (null: no limit)",
    nullable: true,
    type: 'integer',
    minimum: 1,
  })
  @IsOptional()
  @ValidateIf((o: RetentionDto) => o.maxTotalBytes !== null)
  @IsInt()
  @Min(1)
  maxTotalBytes?: number | null;
}

export class CreateScheduleDto {
  @ApiProperty({ description: 'Name shown in listings and status', maxLength: 200, example: 'nightly' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiProperty({
    description:
      'Cron expression: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first, or a preset such as @daily',
    example: '0 2 * * *',
  })
  @IsString()
  @MaxLength(200)
  cron: string;

  @ApiPropertyOptional({
    description: 'IANA time zone the cron expression is read in (default BACKUP_TIMEZONE)',
    example: 'Europe/Berlin',
  })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(64)
  timezone?: string;

  @ApiPropertyOptional({ description: 'What each run backs up', enum: BACKUP_TYPES, default: 'full' })
  @IsOptionalNotNull()
  @IsIn(BACKUP_TYPES)
  type?: BackupType;

  @ApiPropertyOptional({ description: 'Tables to back up; required when type is "tables"', type: [String] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  tables?: string[];

  @ApiPropertyOptional({
    description:
      'The scope each run backs up; required when type is "scope": a saved scope\'s name and the root keys (or an inline root table), resolved again at every run',
    type: () => ScopeRequestDto,
    example: { name: 'engagement', keys: [{ id: 'eng-0002' }] },
  })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => ScopeRequestDto)
  scope?: ScopeRequestDto;

  @ApiPropertyOptional({
    description: 'Disabled schedules never run by themselves (run-now still works)',
    default: true,
  })
  @IsOptionalNotNull()
  @IsBoolean()
  enabled?: boolean;

  @ApiPropertyOptional({
    description: "Which of this schedule's backups a cleanup keeps; omitted fields take their defaults",
    type: RetentionDto,
  })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => RetentionDto)
  retention?: RetentionDto;
}

export class UpdateScheduleDto {
  @ApiPropertyOptional({ description: 'New name', maxLength: 200 })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name?: string;
  @ApiPropertyOptional({ description: 'New cron expression' })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(200)
  cron?: string;
  @ApiPropertyOptional({ description: 'New IANA time zone' })
  @IsOptionalNotNull()
  @IsString()
  @MaxLength(64)
  timezone?: string;
  @ApiPropertyOptional({ description: 'New backup type', enum: BACKUP_TYPES })
  @IsOptionalNotNull()
  @IsIn(BACKUP_TYPES)
  type?: BackupType;
  @ApiPropertyOptional({ description: 'New table list (type "tables")', type: [String] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(1000)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  tables?: string[];
  @ApiPropertyOptional({
    description: 'New scope (type "scope"); changing the type to another leaves the scope out',
    type: () => ScopeRequestDto,
  })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => ScopeRequestDto)
  scope?: ScopeRequestDto;
  @ApiPropertyOptional({ description: 'Enable or disable the schedule' })
  @IsOptionalNotNull()
  @IsBoolean()
  enabled?: boolean;
  @ApiPropertyOptional({ description: 'Retention fields to change; the others stay as they are', type: RetentionDto })
  @IsOptionalNotNull()
  @ValidateNested()
  @Type(() => RetentionDto)
  retention?: RetentionDto;
}

export class RetentionViewDto {
  @ApiProperty({ description: 'Newest completed backups always kept', type: 'integer' }) keepLast: number;
  @ApiProperty({ description: 'Days with a kept backup', type: 'integer' }) daily: number;
  @ApiProperty({ description: 'ISO weeks with a kept backup', type: 'integer' }) weekly: number;
  @ApiProperty({ description: 'Months with a kept backup', type: 'integer' }) monthly: number;
  @ApiProperty({ description: 'Years with a kept backup', type: 'integer' }) yearly: number;
  @ApiProperty({ description: 'Age limit in days', nullable: true, type: 'integer' }) maxAgeDays: number | null;
  @ApiProperty({ description: 'Size limit in bytes', nullable: true, type: 'integer' }) maxTotalBytes: number | null;
}

export class ScheduleDto {
  @ApiProperty({ description: 'Schedule id (UUID)', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Name' }) name: string;
  @ApiProperty({ description: 'Cron expression' }) cron: string;
  @ApiProperty({ description: 'IANA time zone' }) timezone: string;
  @ApiProperty({ description: 'Backup type', enum: BACKUP_TYPES }) type: string;
  @ApiProperty({ description: 'Tables (type "tables")', type: [String] }) tables: string[];
  @ApiProperty({
    description: 'Type "scope": the scope each run backs up (a saved scope name and root keys); null otherwise',
    nullable: true,
    type: () => ScopeRequestDto,
  })
  scope: ScopeRequestDto | null;
  @ApiProperty({ description: 'Whether it runs by itself' }) enabled: boolean;
  @ApiProperty({ description: 'Retention of its backups', type: RetentionViewDto }) retention: RetentionViewDto;
  @ApiProperty({ description: 'When it last started a backup', nullable: true, type: String, format: 'date-time' })
  lastRunAt: string | null;
  @ApiProperty({
    description: 'How that backup ended (null while it runs or before the first run)',
    nullable: true,
    enum: ['completed', 'failed', 'cancelled'],
  })
  lastStatus: string | null;
  @ApiProperty({ description: 'The backup it last started', nullable: true, type: String, format: 'uuid' })
  lastBackupId: string | null;
  @ApiProperty({
    description: 'Next scheduled run (null when disabled)',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  nextRunAt: string | null;
  @ApiProperty({ description: 'Created', format: 'date-time' }) createdAt: string;
  @ApiProperty({ description: 'Last changed', format: 'date-time' }) updatedAt: string;
}

export class SchedulePageDto {
  @ApiProperty({ description: 'Schedules, newest first', type: [ScheduleDto] }) items: ScheduleDto[];
  @ApiProperty({ description: 'Cursor of the next page, null on the last', nullable: true, type: String }) nextCursor:
    string | null;
}
