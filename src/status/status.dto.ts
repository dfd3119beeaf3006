import { ApiProperty } from '@nestjs/swagger';
import { BackupDto } from '../backup/dto/backup.dto';

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
}
