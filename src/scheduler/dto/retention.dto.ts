import { ApiProperty } from '@nestjs/swagger';

export class RetentionDecisionDto {
  @ApiProperty({ description: 'Backup id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Why it is kept or deleted', type: [String] }) reasons: string[];
}

export class RetentionPreviewDto {
  @ApiProperty({
    description: 'Backups a cleanup keeps now, newest first, each with its reasons',
    type: [RetentionDecisionDto],
  })
  keep: RetentionDecisionDto[];
  @ApiProperty({
    description: 'Backups a cleanup deletes now, newest first, each with its reasons',
    type: [RetentionDecisionDto],
  })
  delete: RetentionDecisionDto[];
}

export class RetentionApplyDto {
  @ApiProperty({ description: 'Ids of the backups deleted', type: [String] }) deleted: string[];
}
