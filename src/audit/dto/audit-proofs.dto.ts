import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';
import { AuditEventDto } from './audit-query.dto';

const MAX_SIZE = Number.MAX_SAFE_INTEGER;

export class AuditPublicKeyDto {
  @ApiProperty({ description: 'Signature algorithm of the checkpoints', enum: ['ed25519'] }) algorithm: 'ed25519';
  @ApiProperty({ description: 'The Ed25519 public key, 32 bytes, base64' }) publicKey: string;
  @ApiProperty({ description: "The log's origin: first line of every checkpoint and the key's name" }) origin: string;
  @ApiProperty({
    description:
      'The same key as a signed-note verifier key (`<name>+<key id>+<key>`), as other transparency-log tools take it',
  })
  verifierKey: string;
}

export class AuditCheckpointDto {
  @ApiProperty({ description: 'Number of events (leaves) the checkpoint covers', type: 'integer' }) treeSize: number;
  @ApiProperty({ description: 'Merkle root hash of those events (hex; base64 in the note)' }) rootHash: string;
  @ApiProperty({ description: 'When it was signed (ISO-8601 UTC)', format: 'date-time' }) time: string;
  @ApiProperty({
    description:
      'The signed checkpoint, a C2SP signed note: origin, tree size, root, extension lines, blank line, signature',
  })
  note: string;
  @ApiProperty({
    description: 'When it was written to backup storage, or null while that is still pending',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  storedAt: string | null;
  @ApiProperty({
    description:
      'When it was written to the offsite storage, or null while that is pending or no offsite storage is configured',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  offsiteStoredAt: string | null;
}

export class AuditCheckpointPageDto {
  @ApiProperty({ type: AuditCheckpointDto, isArray: true, description: 'Checkpoints, newest (largest) first' })
  items: AuditCheckpointDto[];
  @ApiProperty({ description: 'Cursor for the next page, or null', nullable: true, type: String })
  nextCursor: string | null;
}

export class AuditSeqParamDto {
  @ApiProperty({ description: 'The event seq (leaf index + 1)', type: 'integer', minimum: 1 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_SIZE)
  seq: number;
}

export class AuditProofQueryDto {
  @ApiPropertyOptional({
    description: "Tree size to prove against (a checkpoint's); default the latest checkpoint's",
    type: 'integer',
    minimum: 1,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_SIZE)
  size?: number;
}

export class AuditConsistencyQueryDto {
  @ApiProperty({ description: 'The smaller tree size', type: 'integer', minimum: 1 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_SIZE)
  from: number;

  @ApiProperty({ description: 'The larger tree size, at most the latest checkpoint', type: 'integer', minimum: 1 })
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(MAX_SIZE)
  to: number;
}

export class AuditInclusionDto {
  @ApiProperty({ description: 'The event', type: AuditEventDto }) event: AuditEventDto;
  @ApiProperty({
    description: 'The checkpoint of that tree size, or null when none was signed at exactly that size',
    type: AuditCheckpointDto,
    nullable: true,
  })
  checkpoint: AuditCheckpointDto | null;
  @ApiProperty({ description: 'Leaf index: seq - 1', type: 'integer' }) leafIndex: number;
  @ApiProperty({ description: 'Tree size the proof is for', type: 'integer' }) treeSize: number;
  @ApiProperty({ description: 'Merkle root of that tree (hex)' }) rootHash: string;
  @ApiProperty({
    description:
      "Inclusion proof (RFC 9162 §2.1.3), hex, leaf side first; the leaf is SHA-256(0x00 ‖ the event's hash bytes)",
    type: [String],
  })
  proof: string[];
}

export class AuditConsistencyDto {
  @ApiProperty({ description: 'The smaller tree size', type: 'integer' }) from: number;
  @ApiProperty({ description: 'The larger tree size', type: 'integer' }) to: number;
  @ApiProperty({ description: 'Merkle root at from (hex)' }) fromRoot: string;
  @ApiProperty({ description: 'Merkle root at to (hex)' }) toRoot: string;
  @ApiProperty({ description: 'Consistency proof (RFC 9162 §2.1.4), hex', type: [String] }) proof: string[];
}
