import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { ApiErrors, BODY_ERRORS, UNREAD_BODY_ERRORS } from '../common/openapi';
import type { RequestWithContext } from '../common/request-context';
import { ApiKeysService } from './api-keys.service';
import { Audit, Roles } from './auth.decorators';
import { ApiKeyPageDto, CreateApiKeyDto, CreatedApiKeyDto, CurrentApiKeyDto } from './dto/create-api-key.dto';

@ApiTags('API keys')
@Controller('api/keys')
@Roles('admin')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysService) {}

  @Post()
  @Audit('api-key.create', 'api-key')
  @ApiOperation({ operationId: 'createApiKey', summary: 'Create an API key (the key is shown once)' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto })
  @ApiErrors(...BODY_ERRORS)
  create(@Body() dto: CreateApiKeyDto): Promise<CreatedApiKeyDto> {
    return this.keys.create(dto.name, dto.role);
  }

  @Get()
  @ApiOperation({
    operationId: 'listApiKeys',
    summary: 'List API keys, newest first (never the keys themselves); one page holds them all',
  })
  @ApiOkResponse({ type: ApiKeyPageDto })
  async list(): Promise<ApiKeyPageDto> {
    return { items: await this.keys.list(), nextCursor: null };
  }

  /**
   * Who the presented key is: lets a client (the console) offer only what the key's role may
   * do, without probing guarded routes (each refused probe would be a denied audit event).
   */
  @Get('me')
  @Roles('auditor')
  @ApiOperation({ operationId: 'getCurrentApiKey', summary: 'The presented key: its id, name and role' })
  @ApiOkResponse({ type: CurrentApiKeyDto })
  me(@Req() req: RequestWithContext): CurrentApiKeyDto {
    const actor = req.actor!;
    return { id: actor.keyId!, name: actor.name, role: actor.role! };
  }

  @Delete(':id')
  @HttpCode(204)
  @Audit('api-key.revoke', 'api-key')
  @ApiOperation({ operationId: 'revokeApiKey', summary: 'Revoke an API key' })
  @ApiNoContentResponse({ description: 'Revoked' })
  @ApiErrors([400, 'id is not a UUID, or an unreadable body'], ...UNREAD_BODY_ERRORS, [
    404,
    'No such key, or already revoked',
  ])
  async revoke(@Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.keys.revoke(id);
  }
}
