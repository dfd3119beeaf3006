import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateIf,
} from 'class-validator';
import { IsOptionalNotNull } from '../../common/validators';

export const SCOPE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const NAME_MESSAGE = 'name must be 1-64 letters, digits, _ or - (starting with a letter or digit)';

export class CreateScopeDto {
  @ApiProperty({
    description: 'Name operators use for the scope, e.g. in `--scope engagement=<id>`',
    example: 'engagement',
  })
  @IsString()
  @Matches(SCOPE_NAME, { message: NAME_MESSAGE })
  name: string;

  @ApiProperty({ description: 'Root table (`schema.table` outside the default schema)', example: 'engagements' })
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  table: string;

  @ApiPropertyOptional({
    description: 'Tables the scope never enters (e.g. a shared audit log)',
    type: [String],
    example: ['app_audit_log'],
  })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(200)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  exclude?: string[];

  @ApiPropertyOptional({
    description: '`<table>.<column>` holding paths (relative to BACKUP_FILE_PATHS) of files the scope carries',
    example: 'artefacts.storage_path',
    nullable: true,
    type: String,
  })
  @IsOptional()
  @IsString()
  @Matches(/^.+\..+$/, { message: 'filesColumn must be <table>.<column>' })
  @MaxLength(300)
  filesColumn?: string | null;
}

export class UpdateScopeDto {
  @ApiPropertyOptional({ description: 'New root table', example: 'engagements' })
  @IsOptionalNotNull()
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  table?: string;

  @ApiPropertyOptional({ description: 'Replaces the excluded tables', type: [String] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(200)
  @IsString({ each: true })
  @IsNotEmpty({ each: true })
  @MaxLength(200, { each: true })
  exclude?: string[];

  @ApiPropertyOptional({ description: 'New files column (null: none)', nullable: true, type: String })
  @IsOptional()
  @IsString()
  @Matches(/^.+\..+$/, { message: 'filesColumn must be <table>.<column>' })
  @MaxLength(300)
  filesColumn?: string | null;
}

export class ScopeDto {
  @ApiProperty({ description: 'The scope name' }) name: string;
  @ApiProperty({ description: 'Root table' }) table: string;
  @ApiProperty({ description: 'Tables the scope never enters', type: [String] }) exclude: string[];
  @ApiProperty({ description: 'Column naming the files the scope carries', nullable: true, type: String })
  filesColumn: string | null;
  @ApiProperty({ description: 'When it was saved' }) createdAt: string;
  @ApiProperty({ description: 'When it last changed' }) updatedAt: string;
}

export class ScopeListDto {
  @ApiProperty({ description: 'Saved scopes, by name', type: [ScopeDto] }) items: ScopeDto[];
  @ApiProperty({ description: 'Always null: the list is short and comes whole', nullable: true, type: String })
  nextCursor: string | null;
}

/**
 * A scope in a backup or recovery request: either a root table with keys, or a saved scope's
 * name with keys. Validated in depth by the service against the live tables (400 naming the field).
 */
export class ScopeRequestDto {
  @ApiPropertyOptional({ description: 'A saved scope (instead of table/exclude/filesColumn)', example: 'engagement' })
  @IsOptionalNotNull()
  @IsString()
  @Matches(SCOPE_NAME, { message: NAME_MESSAGE })
  name?: string;

  @ApiPropertyOptional({ description: 'Root table (when no name is given)', example: 'engagements' })
  @ValidateIf((o: ScopeRequestDto) => o.name === undefined)
  @IsString()
  @IsNotEmpty()
  @MaxLength(200)
  table?: string;

  @ApiProperty({
    description: 'Root rows: one object per row, with every primary key column of the root table',
    example: [{ id: 'eng-0002' }],
    type: 'array',
    items: { type: 'object', additionalProperties: true },
  })
  @IsArray()
  @ArrayMaxSize(1000)
  @IsObject({ each: true })
  keys: Record<string, unknown>[];

  @ApiPropertyOptional({ description: 'Tables the scope never enters', type: [String] })
  @IsOptionalNotNull()
  @IsArray()
  @ArrayMaxSize(200)
  @IsString({ each: true })
  @MaxLength(200, { each: true })
  exclude?: string[];

  @ApiPropertyOptional({ description: '`<table>.<column>` naming files the scope carries', type: String })
  @IsOptionalNotNull()
  @IsString()
  @Matches(/^.+\..+$/, { message: 'filesColumn must be <table>.<column>' })
  @MaxLength(300)
  filesColumn?: string;
}
