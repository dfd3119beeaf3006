import { ApiProperty } from '@nestjs/swagger';
import { BackupDto } from '../backup/dto/backup.dto';
import { DrillDto } from '../verification/dto/drill.dto';
import { AlertDto } from '../notifications/dto/alert.dto';

export class StatusStorageDto {
  @ApiProperty({ description: 'Backups in the catalog', type: 'integer' }) count: number;
  @ApiProperty({ description: 'Bytes they use in storage', type: 'integer' }) totalBytes: number;
  @ApiProperty({
    description: 'MAX_STORAGE_BYTES: above it the status is unhealthy; null when there is no limit',
    nullable: true,
    type: 'integer',
  })
  limitBytes: number | null;
}

export class StatusScheduleDto {
  @ApiProperty({ description: 'Schedule id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Schedule name' }) name: string;
  @ApiProperty({ description: 'Next run (null when disabled)', nullable: true, type: String, format: 'date-time' })
  nextRunAt: string | null;
}

export class StatusOffsiteOldestDto {
  @ApiProperty({ description: 'Backup id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'When it finished', format: 'date-time' }) finishedAt: string;
  @ApiProperty({ description: 'State of its offsite copy', enum: ['pending', 'failed'] }) status: string;
  @ApiProperty({ description: 'Copy attempts so far', type: 'integer' }) attempts: number;
  @ApiProperty({ description: 'Why the last attempt failed', nullable: true, type: String }) error: string | null;
}

export class StatusOffsiteCountsDto {
  @ApiProperty({ description: 'Completed backups whose copy is yet to be made', type: 'integer' }) pending: number;
  @ApiProperty({ description: 'Completed backups with a verified offsite copy', type: 'integer' }) copied: number;
  @ApiProperty({ description: 'Completed backups whose last copy attempt failed', type: 'integer' }) failed: number;
  @ApiProperty({ description: 'Completed backups the copier has not looked at yet', type: 'integer' }) none: number;
}

export class StatusOffsiteDto {
  @ApiProperty({
    description:
      'Seconds since the oldest completed backup without an offsite copy finished (0: all copied); above OFFSITE_MAX_LAG_HOURS the status is unhealthy',
    type: 'integer',
  })
  lagSeconds: number;
  @ApiProperty({ description: 'That backup, or null', nullable: true, type: StatusOffsiteOldestDto })
  oldest: StatusOffsiteOldestDto | null;
  @ApiProperty({ description: 'Completed backups by the state of their offsite copy', type: StatusOffsiteCountsDto })
  counts: StatusOffsiteCountsDto;
}

export class StatusCopyCountsDto {
  @ApiProperty({ description: 'Copies of completed backups (offsite: those copied)', type: 'integer' }) total: number;
  @ApiProperty({ description: 'Copies the rolling verifier has not checked yet', type: 'integer' }) unchecked: number;
  @ApiProperty({ description: 'Copies whose last check failed', type: 'integer' }) failed: number;
  @ApiProperty({
    description: 'Copies past their deadline: last check (or, never checked, the backup) older than VERIFY_CYCLE_DAYS',
    type: 'integer',
  })
  overdue: number;
}

export class StatusFailedCopyDto {
  @ApiProperty({ description: 'Backup id', format: 'uuid' }) backupId: string;
  @ApiProperty({ description: 'Which copy failed', enum: ['primary', 'offsite'] }) copy: string;
  @ApiProperty({ description: 'When it was checked', format: 'date-time' }) checkedAt: string;
  @ApiProperty({ description: 'What failed, naming the part' }) error: string;
}

export class StatusVerificationDto {
  @ApiProperty({ description: 'VERIFY_CYCLE_DAYS: every copy is re-checked within this many days', type: 'integer' })
  cycleDays: number;
  @ApiProperty({ description: 'Primary copies', type: StatusCopyCountsDto }) primary: StatusCopyCountsDto;
  @ApiProperty({
    description: 'Offsite copies; null when offsite copies are off',
    nullable: true,
    type: StatusCopyCountsDto,
  })
  offsite: StatusCopyCountsDto | null;
  @ApiProperty({
    description: 'Copies whose last check failed (newest backups first, at most 20); each makes the status unhealthy',
    type: [StatusFailedCopyDto],
  })
  failed: StatusFailedCopyDto[];
}

export class StatusDrillsDto {
  @ApiProperty({ description: 'DRILL_ENABLED' }) enabled: boolean;
  @ApiProperty({
    description: 'The newest drill, passed or failed; a failed one makes the status unhealthy',
    nullable: true,
    type: DrillDto,
  })
  last: DrillDto | null;
  @ApiProperty({
    description: 'The measured RTO: duration of the newest successful drill, in seconds; null before the first',
    nullable: true,
    type: Number,
  })
  rtoSeconds: number | null;
}

export class StatusDto {
  @ApiProperty({ description: 'True when there are no problems' }) healthy: boolean;
  @ApiProperty({ description: 'What is wrong, one sentence each', type: [String] }) problems: string[];
  @ApiProperty({ description: 'Newest completed backup', nullable: true, type: BackupDto })
  lastBackup: BackupDto | null;
  @ApiProperty({ description: 'Most recently verified completed backup', nullable: true, type: BackupDto })
  lastVerifiedBackup: BackupDto | null;
  @ApiProperty({
    description: 'Seconds since the newest completed backup was taken (data at risk)',
    nullable: true,
    type: 'integer',
  })
  rpoSeconds: number | null;
  @ApiProperty({
    description: 'MAX_BACKUP_AGE_HOURS in seconds: a recovery point older than this makes the status unhealthy',
    type: 'integer',
  })
  rpoLimitSeconds: number;
  @ApiProperty({ description: 'Catalog totals', type: StatusStorageDto }) storage: StatusStorageDto;
  @ApiProperty({ description: 'Schedules and their next runs', type: [StatusScheduleDto] })
  schedules: StatusScheduleDto[];
  @ApiProperty({
    description: 'Offsite copies (OFFSITE_STORAGE): how far behind they are; null when offsite copies are off',
    nullable: true,
    type: StatusOffsiteDto,
  })
  offsite: StatusOffsiteDto | null;
  @ApiProperty({ description: 'Rolling verification of every retained copy', type: StatusVerificationDto })
  verification: StatusVerificationDto;
  @ApiProperty({ description: 'Restore drills and the measured RTO', type: StatusDrillsDto })
  drills: StatusDrillsDto;
  @ApiProperty({
    description: 'Alerts open now, newest first (GET /api/alerts lists resolved ones too)',
    type: [AlertDto],
  })
  alerts: AlertDto[];
}
