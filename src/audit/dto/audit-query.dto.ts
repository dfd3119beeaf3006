import { ApiProperty, ApiPropertyOptional, IntersectionType } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { PageQueryDto } from '../../common/pagination';
import { IsIsoTimestamp } from '../../common/validators';

export class AuditFilterDto {
  @ApiPropertyOptional({ description: 'Exact action, e.g. backup.create' })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  action?: string;

  @ApiPropertyOptional({ description: 'Resource kind, e.g. backup, recovery, schedule, api-key' })
  @IsOptional()
  @IsString()
  @MaxLength(50)
  resource?: string;

  @ApiPropertyOptional({ description: 'Resource id' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  resourceId?: string;

  @ApiPropertyOptional({ description: 'API key id of the actor', format: 'uuid' })
  @IsOptional()
  @IsUUID()
  actor?: string;

  @ApiPropertyOptional({ description: 'Outcome', enum: ['success', 'failure', 'denied'] })
  @IsOptional()
  @IsIn(['success', 'failure', 'denied'])
  outcome?: string;

  @ApiPropertyOptional({ description: 'Events at or after this time (ISO-8601)' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'Events at or before this time (ISO-8601)' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;
}

export class ListAuditQueryDto extends IntersectionType(PageQueryDto, AuditFilterDto) {}

export class ExportAuditQueryDto {
  @ApiPropertyOptional({ description: 'Export format', enum: ['ndjson', 'csv'], default: 'ndjson' })
  @IsOptional()
  @IsIn(['ndjson', 'csv'])
  format?: 'ndjson' | 'csv';

  @ApiPropertyOptional({ description: 'Events at or after this time (ISO-8601)' })
  @IsOptional()
  @IsIsoTimestamp()
  from?: string;

  @ApiPropertyOptional({ description: 'Events at or before this time (ISO-8601)' })
  @IsOptional()
  @IsIsoTimestamp()
  to?: string;
}

export class AuditActorDto {
  @ApiProperty({ description: 'Who acted', enum: ['api-key', 'system'] }) type: string;
  @ApiProperty({ description: 'API key id, or null for the system', nullable: true, type: String, format: 'uuid' })
  keyId: string | null;
  @ApiProperty({ description: 'Key name or system component' }) name: string;
  @ApiProperty({ description: 'Role of the key, or null', nullable: true, type: String }) role: string | null;
}

export class AuditEventDto {
  @ApiProperty({ description: 'Position in the chain, contiguous from 1', type: 'integer' }) seq: number;
  @ApiProperty({ description: 'When it happened (ISO-8601 UTC)', format: 'date-time' }) at: string;
  @ApiProperty({ description: 'Who acted', type: AuditActorDto }) actor: AuditActorDto;
  @ApiProperty({ description: 'What was done, e.g. backup.create' }) action: string;
  @ApiProperty({ description: 'Kind of resource acted on' }) resource: string;
  @ApiProperty({ description: 'Id of the resource, or null', nullable: true, type: String }) resourceId: string | null;
  @ApiProperty({ description: 'success, failure or denied', enum: ['success', 'failure', 'denied'] }) outcome: string;
  @ApiProperty({ description: 'Client address', nullable: true, type: String }) ip: string | null;
  @ApiProperty({ description: 'Client user agent', nullable: true, type: String }) userAgent: string | null;
  @ApiProperty({ description: 'Request id (X-Request-Id)', nullable: true, type: String }) requestId: string | null;
  @ApiProperty({ description: 'Action details, secrets redacted', type: Object }) details: Record<string, unknown>;
  @ApiProperty({ description: 'Hash of the previous event (hex)' }) prevHash: string;
  @ApiProperty({ description: "This event's hash (hex)" }) hash: string;
  @ApiProperty({
    description:
      'How much it matters: critical for restores, deletions, retention, maintenance, revoked keys and refused admin requests; warning for failures and other refusals. Derived from action, outcome and resource (all in the hash), not hashed itself',
    enum: ['info', 'warning', 'critical'],
  })
  severity: 'info' | 'warning' | 'critical';
}

export class AuditPageDto {
  @ApiProperty({ type: AuditEventDto, isArray: true, description: 'Events, newest first' }) items: AuditEventDto[];
  @ApiProperty({ description: 'Cursor for the next page, or null', nullable: true, type: String }) nextCursor:
    string | null;
}

export class AuditHeadDto {
  @ApiProperty({ description: 'Last seq checked', type: 'integer' }) seq: number;
  @ApiProperty({ description: 'Its hash (hex)' }) hash: string;
}

export class AuditCheckpointsVerdictDto {
  @ApiProperty({ description: 'Checkpoints compared with the trail', type: 'integer' }) checked: number;
  @ApiProperty({
    description: 'True when every checkpoint is validly signed, they form one history and the trail matches each',
  })
  ok: boolean;
  @ApiProperty({ description: 'Tree size of the first bad checkpoint, or null', nullable: true, type: 'integer' })
  firstBad: number | null;
  @ApiProperty({
    description: 'Why it is bad',
    nullable: true,
    type: String,
    enum: ['malformed', 'bad-signature', 'fork', 'previous-mismatch', 'time-reversed', 'root-mismatch', 'beyond-trail'],
  })
  problem: string | null;
  @ApiProperty({ description: 'A sentence explaining the problem', nullable: true, type: String }) detail:
    string | null;
}

export class AuditVerifyDto {
  @ApiProperty({ description: 'True when every link recomputes and the chain reaches the recorded head' }) ok: boolean;
  @ApiProperty({ description: 'Events checked', type: 'integer' }) checked: number;
  @ApiProperty({ description: 'Last good event', type: AuditHeadDto, nullable: true }) head: AuditHeadDto | null;
  @ApiProperty({ description: 'First bad seq, or null', nullable: true, type: 'integer' }) firstBadSeq: number | null;
  @ApiProperty({
    description: 'Why it is bad',
    nullable: true,
    enum: ['hash-mismatch', 'broken-link', 'seq-gap', 'truncated-tail', 'head-mismatch'],
  })
  problem: string | null;
  @ApiProperty({ description: 'A sentence explaining the problem', nullable: true, type: String }) detail:
    string | null;
  @ApiProperty({
    description: 'The signed checkpoints checked against the trail (signatures, one history, Merkle roots)',
    type: AuditCheckpointsVerdictDto,
  })
  checkpoints: AuditCheckpointsVerdictDto;
}
