import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';

export class AlertQueryDto extends PageQueryDto {
  @ApiPropertyOptional({
    description: 'Only open or only resolved alerts; without it, open ones and those resolved in the last 7 days',
    enum: ['open', 'resolved'],
  })
  @IsOptional()
  @IsIn(['open', 'resolved'])
  state?: 'open' | 'resolved';

  @ApiPropertyOptional({ description: 'Only the episodes of this alert key, e.g. `offsite:lag`' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  key?: string;
}

export class AlertDto {
  @ApiProperty({ description: 'Alert id (one episode of the key, from raised to resolved)', format: 'uuid' })
  id: string;
  @ApiProperty({
    description:
      'Dedupe key naming the condition, e.g. `schedule:<id>:deadline`, `schedule:<id>:failed`, `offsite:lag`, `status:unhealthy`, `backup:<id>:corrupt`, `backup:<id>:primary-copy`',
    example: 'offsite:lag',
  })
  key: string;
  @ApiProperty({ description: 'Event type its webhook carried, e.g. `schedule.missed`', example: 'offsite.lagging' })
  type: string;
  @ApiProperty({ description: 'Severity', enum: ['info', 'warning', 'error', 'critical'] }) severity: string;
  @ApiProperty({ description: 'open until the condition clears, then resolved', enum: ['open', 'resolved'] })
  state: string;
  @ApiProperty({ description: 'What is wrong, as last reported' }) message: string;
  @ApiProperty({ description: 'Structured details, as last reported (secrets redacted in webhooks)', type: Object })
  details: Record<string, unknown>;
  @ApiProperty({ description: 'When this episode was first raised', format: 'date-time' }) firstSeenAt: string;
  @ApiProperty({ description: 'When the condition was last reported', format: 'date-time' }) lastSeenAt: string;
  @ApiProperty({ description: 'How many times it was reported while open (repeats send no webhook)', type: 'integer' })
  occurrences: number;
  @ApiProperty({ description: 'When a webhook last announced it (opening or reminder)', format: 'date-time' })
  notifiedAt: string;
  @ApiProperty({
    description: 'When it was resolved; null while open',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  resolvedAt: string | null;
  @ApiProperty({ description: 'Why it was resolved; null while open', nullable: true, type: String })
  resolution: string | null;
}

export class AlertPageDto {
  @ApiProperty({ description: 'Alerts, newest first', type: [AlertDto] }) items: AlertDto[];
  @ApiProperty({ description: 'Cursor of the next page, or null', nullable: true, type: String })
  nextCursor: string | null;
}
