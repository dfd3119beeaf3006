import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsOptional, IsString, MaxLength, ValidateIf } from 'class-validator';

export class MaintenanceDto {
  @ApiProperty({ description: 'True while Strongroom is in maintenance: changing requests get 503' }) active: boolean;
  @ApiProperty({ description: "Why (an admin's reason, or the restore that runs)", nullable: true, type: String })
  reason: string | null;
  @ApiProperty({ description: 'Since when', nullable: true, type: String, format: 'date-time' }) since: string | null;
  @ApiProperty({
    description: 'restore: a restore runs (ends with it); admin: an admin turned it on (until turned off)',
    nullable: true,
    enum: ['restore', 'admin'],
  })
  by: 'restore' | 'admin' | null;
  @ApiProperty({
    description: 'The recovery that holds it (by: restore)',
    nullable: true,
    type: String,
    format: 'uuid',
  })
  recoveryId: string | null;
}

export class SetMaintenanceDto {
  @ApiProperty({
    description:
      "true turns maintenance on, false turns an admin's maintenance off (a running restore's stays until it ends)",
  })
  @IsBoolean()
  active: boolean;
  @ApiPropertyOptional({ description: 'Why; shown to refused clients and in the webhook', maxLength: 500 })
  @IsOptional()
  @ValidateIf((o: SetMaintenanceDto) => o.reason !== null)
  @IsString()
  @MaxLength(500)
  reason?: string | null;
}
