import { ApiProperty } from '@nestjs/swagger';
import { IsIn, IsNotEmpty, IsString, MaxLength } from 'class-validator';
import { ROLES, type Role } from '../roles';

export class CreateApiKeyDto {
  @ApiProperty({ description: 'A name that says who or what uses the key', example: 'nightly-ci', maxLength: 200 })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  name: string;

  @ApiProperty({ description: 'Role granted: admin > operator > auditor', enum: ROLES, example: 'operator' })
  @IsIn(ROLES as unknown as string[])
  role: Role;
}

export class ApiKeyDto {
  @ApiProperty({ description: 'Key id (UUID)', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Name given at creation' }) name: string;
  @ApiProperty({ description: 'Role of the key', enum: ROLES }) role: string;
  @ApiProperty({ description: 'When the key was created (ISO-8601 UTC)', format: 'date-time' }) createdAt: string;
  @ApiProperty({ description: 'When the key was revoked, or null', nullable: true, type: String, format: 'date-time' })
  revokedAt: string | null;
  @ApiProperty({
    description: 'Last time the key authenticated (minute precision), or null',
    nullable: true,
    type: String,
    format: 'date-time',
  })
  lastUsedAt: string | null;
}

export class CurrentApiKeyDto {
  @ApiProperty({ description: 'Key id (UUID)', format: 'uuid' }) id: string;
  @ApiProperty({ description: 'Name given at creation' }) name: string;
  @ApiProperty({ description: 'Role of the key: admin > operator > auditor', enum: ROLES }) role: string;
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key itself. Shown this once: only its hash is stored.' }) key: string;
}

export class ApiKeyPageDto {
  @ApiProperty({ description: 'Keys, newest first, revoked ones included', type: [ApiKeyDto] }) items: ApiKeyDto[];
  @ApiProperty({ description: 'Always null: one page holds every key', nullable: true, type: String }) nextCursor:
    string | null;
}
