import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';

export class RetentionDecisionDto {
  @ApiProperty({ description: 'Backup id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Why it is kept or deleted', type: [String] }) reasons: string[];
}

export class RetentionHeldDto {
  @ApiProperty({
    description:
      'The pending decision an admin confirms to let these go (null in a preview before any cleanup run recorded one)',
    nullable: true,
    type: String,
    format: 'uuid',
  })
  decisionId: string | null;
  @ApiProperty({
    description:
      "The schedule whose backups these are (null: the ad-hoc group: manual, imported, pre-restore and deleted schedules' backups)",
    nullable: true,
    type: String,
    format: 'uuid',
  })
  scheduleId: string | null;
  @ApiProperty({ description: 'The group, as people read it' }) name: string;
  @ApiProperty({ description: 'Completed backups the policy would delete, newest first', type: [String] })
  delete: string[];
  @ApiProperty({ description: 'Completed backups the group has now', type: 'integer' }) completed: number;
  @ApiProperty({ description: 'Why the deletion waits' }) reason: string;
}

export class RetentionPreviewDto {
  @ApiProperty({
    description: 'Backups a cleanup keeps now, newest first, each with its reasons (held ones say why they wait)',
    type: [RetentionDecisionDto],
  })
  keep: RetentionDecisionDto[];
  @ApiProperty({
    description: 'Backups a cleanup deletes now, newest first, each with its reasons',
    type: [RetentionDecisionDto],
  })
  delete: RetentionDecisionDto[];
  @ApiProperty({
    description:
      'Groups that would lose more than half of their completed backups, or all but one: kept until an admin confirms',
    type: [RetentionHeldDto],
  })
  held: RetentionHeldDto[];
  @ApiProperty({
    description:
      'Set when a cleanup deletes nothing at all now (the last verification of the newest backup failed), and why',
    nullable: true,
    type: String,
  })
  blocked: string | null;
}

export class RetentionApplyDto {
  @ApiProperty({ description: 'Ids of the backups deleted', type: [String] }) deleted: string[];
  @ApiProperty({ description: 'Groups whose deletions wait for confirmation', type: [RetentionHeldDto] })
  held: RetentionHeldDto[];
  @ApiProperty({ description: 'Why nothing was deleted, when nothing could be', nullable: true, type: String })
  blocked: string | null;
}

const DECISION_STATUSES = ['pending', 'confirmed', 'superseded'] as const;

export class RetentionPendingDecisionDto {
  @ApiProperty({ description: 'Decision id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Schedule of the group (null: ad-hoc backups)', nullable: true, type: String })
  scheduleId: string | null;
  @ApiProperty({ description: 'The group, as people read it' }) name: string;
  @ApiProperty({
    description:
      'pending: waits for an admin; confirmed: an admin let these go; superseded: the plan changed (a newer decision replaces it) or no longer needs it',
    enum: DECISION_STATUSES,
  })
  status: string;
  @ApiProperty({ description: 'The backups a confirmation lets retention delete', type: [String] })
  backupIds: string[];
  @ApiProperty({ description: 'Completed backups the group had when the cleanup stopped', type: 'integer' })
  completed: number;
  @ApiProperty({ description: 'Why it stopped' }) reason: string;
  @ApiProperty({ description: 'When the cleanup stopped', format: 'date-time' }) createdAt: string;
  @ApiProperty({ description: 'When it was confirmed or superseded', nullable: true, type: String })
  decidedAt: string | null;
  @ApiProperty({ description: 'Who confirmed or superseded it', nullable: true, type: String })
  decidedBy: string | null;
  @ApiProperty({ description: 'The exact confirm phrase POST …/confirm needs' }) confirmPhrase: string;
}

export class RetentionDecisionPageDto {
  @ApiProperty({ description: 'Decisions, newest first', type: [RetentionPendingDecisionDto] })
  items: RetentionPendingDecisionDto[];
  @ApiProperty({ description: 'Cursor of the next page, null on the last', nullable: true, type: String })
  nextCursor: string | null;
}

export class ListRetentionDecisionsQueryDto extends PageQueryDto {
  @ApiPropertyOptional({ description: 'Only decisions with this status', enum: DECISION_STATUSES })
  @IsOptional()
  @IsIn(DECISION_STATUSES)
  status?: string;
}

export class ConfirmRetentionDto {
  @ApiProperty({
    description: "Exactly `DELETE {decisionId}`, with the decision's id in place of `{decisionId}`",
    example: 'DELETE 5d2b0e1c-1f7e-4a8e-9b7a-3c1d2e4f5a6b',
  })
  @IsString()
  @MaxLength(100)
  confirm: string;
}
