import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Param,
  Patch,
  Post,
  Res,
  type PipeTransform,
} from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiOperation,
  ApiParam,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Audit, Roles } from '../auth/auth.decorators';
import { ApiErrors, BODY_ERRORS, UNREAD_BODY_ERRORS } from '../common/openapi';
import { CreateScopeDto, SCOPE_NAME, ScopeDto, ScopeListDto, UpdateScopeDto } from './dto/scope.dto';

/** A scope name in the path: what a saved scope may be called, or a 400 naming the parameter. */
const NAME: PipeTransform<string, string> = {
  transform(value: string): string {
    if (!SCOPE_NAME.test(value)) throw new BadRequestException('name must be 1-64 letters, digits, _ or -');
    return value;
  },
};
const NAME_PARAM = ApiParam({
  name: 'name',
  description: 'The scope name',
  schema: { type: 'string', pattern: SCOPE_NAME.source },
});
import { ScopesService, toScopeView } from './scopes.service';

@ApiTags('Scopes')
@Controller('api/scopes')
export class ScopesController {
  constructor(private readonly scopes: ScopesService) {}

  @Get()
  @Roles('auditor')
  @ApiOperation({ operationId: 'listScopes', summary: 'Saved scopes, by name' })
  @ApiOkResponse({ type: ScopeListDto })
  @ApiErrors()
  async list(): Promise<ScopeListDto> {
    return { items: (await this.scopes.list()).map(toScopeView), nextCursor: null };
  }

  @Get(':name')
  @Roles('auditor')
  @NAME_PARAM
  @ApiOperation({ operationId: 'getScope', summary: 'One saved scope' })
  @ApiOkResponse({ type: ScopeDto })
  @ApiErrors([400, 'A bad scope name'], [404, 'No such scope'])
  async get(@Param('name', NAME) name: string): Promise<ScopeDto> {
    return toScopeView(await this.scopes.get(name));
  }

  @Post()
  @Roles('admin')
  @Audit('scope.create', 'scope')
  @ApiOperation({ operationId: 'createScope', summary: 'Save a scope definition under a name' })
  @ApiCreatedResponse({ type: ScopeDto, description: 'The scope; Location names it' })
  @ApiErrors(...BODY_ERRORS, [409, 'A scope of that name exists'])
  async create(@Body() dto: CreateScopeDto, @Res({ passthrough: true }) res: Response): Promise<ScopeDto> {
    const row = await this.scopes.create(dto);
    res.locals.auditResourceId = row.name;
    res.setHeader('Location', `/api/scopes/${encodeURIComponent(row.name)}`);
    return toScopeView(row);
  }

  @Patch(':name')
  @Roles('admin')
  @Audit('scope.update', 'scope')
  @NAME_PARAM
  @ApiOperation({ operationId: 'updateScope', summary: 'Change a saved scope' })
  @ApiOkResponse({ type: ScopeDto })
  @ApiErrors(...BODY_ERRORS, [404, 'No such scope'])
  async update(@Param('name', NAME) name: string, @Body() dto: UpdateScopeDto): Promise<ScopeDto> {
    return toScopeView(await this.scopes.update(name, dto));
  }

  @Delete(':name')
  @HttpCode(204)
  @Roles('admin')
  @Audit('scope.delete', 'scope')
  @NAME_PARAM
  @ApiOperation({
    operationId: 'deleteScope',
    summary: 'Delete a saved scope (backups taken with it keep their definition)',
  })
  @ApiNoContentResponse({ description: 'Deleted' })
  @ApiErrors([400, 'An unreadable body'], ...UNREAD_BODY_ERRORS, [404, 'No such scope'])
  async delete(@Param('name', NAME) name: string): Promise<void> {
    await this.scopes.delete(name);
  }
}
