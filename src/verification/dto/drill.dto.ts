import { ApiProperty } from '@nestjs/swagger';

export class DrillDto {
  @ApiProperty({ description: 'Drill id', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'The backup restored (the newest completed one when the drill ran)', format: 'uuid' })
  backupId: string;
  @ApiProperty({ description: 'When the drill started', format: 'date-time' }) startedAt: string;
  @ApiProperty({ description: 'When it ended', format: 'date-time' }) finishedAt: string;
  @ApiProperty({
    description:
      'How long it took, in seconds: read and check every part, restore into a scratch database, compare (the measured RTO when ok)',
    type: Number,
  })
  durationSeconds: number;
  @ApiProperty({ description: 'True when the backup restored and matched its manifest' }) ok: boolean;
  @ApiProperty({
    description: 'The copy restored from (primary, or offsite when the primary copy failed); null when it failed',
    nullable: true,
    type: String,
  })
  source: string | null;
  @ApiProperty({ description: 'What failed; null when it passed', nullable: true, type: String }) error: string | null;
  @ApiProperty({
    description:
      'Median duration of the previous successful drills (DRILL_RTO_BASELINE_DRILLS) it was judged against, in seconds; null for the first',
    nullable: true,
    type: Number,
  })
  baselineSeconds: number | null;
  @ApiProperty({ description: 'True when it took more than DRILL_RTO_THRESHOLD_PERCENT longer than that baseline' })
  regressed: boolean;
}

export class DrillPageDto {
  @ApiProperty({ description: 'Drills, newest first', type: [DrillDto] }) items: DrillDto[];
  @ApiProperty({ description: 'Cursor of the next page, null on the last', nullable: true, type: String })
  nextCursor: string | null;
}
