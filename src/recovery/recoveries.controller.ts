import { Body, Controller, ForbiddenException, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiExtraModels, ApiOkResponse, ApiOperation, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { Response } from 'express';
import { Audit, Roles } from '../auth/auth.decorators';
import { roleAtLeast } from '../auth/roles';
import { ExpensiveRoute } from '../common/expensive-route';
import type { RequestWithContext } from '../common/request-context';
import { CreateRecoveryDto, DryRunResultDto, ListRecoveriesQueryDto, RecoveryDto, RecoveryPageDto, RollbackRecoveryDto } from './dto/recovery.dto';
import { RecoveriesService } from './recoveries.service';

const UUID = new ParseUUIDPipe();

@ApiTags('Recoveries')
@ApiExtraModels(RecoveryDto, DryRunResultDto)
@Controller('api/recoveries')
export class RecoveriesController {
  constructor(private readonly recoveries: RecoveriesService) {}

  @Post()
  @HttpCode(202)
  @Roles('operator')
  @Audit('recovery.execute', 'recovery')
  @ExpensiveRoute()
  @ApiOperation({
    summary: 'Restore a backup (admin; 202, runs in the background), or with dryRun only plan it (operator; 200)',
    description:
      'replace and merge need confirm = "RESTORE <backupId>". 409 when the backup is not completed, the table structure differs (unless allowSchemaMismatch), ' +
      'the restore\'s checks find a blocker (the answer lists them in blockers; nothing is recorded or written), or another backup or restore runs. ' +
      'A dry run answers the plan with blockers (what would make the restore fail, row-level checks included) and warnings.',
  })
  @ApiAcceptedResponse({ type: RecoveryDto, description: 'The recovery, started' })
  @ApiOkResponse({ type: DryRunResultDto, description: 'dryRun: what would change, what would stop it, and what it would reach beyond', schema: { $ref: getSchemaPath(DryRunResultDto) } })
  async create(@Body() dto: CreateRecoveryDto, @Req() req: RequestWithContext, @Res({ passthrough: true }) res: Response) {
    if (dto.dryRun) {
      res.status(200);
      return this.recoveries.plan(dto);
    }
    if (!roleAtLeast(req.actor?.role, 'admin')) throw new ForbiddenException('executing a recovery needs the admin role (operators may use dryRun)');
    const recovery = await this.recoveries.start(dto, req.actor);
    res.locals.auditResourceId = recovery.id;
    res.setHeader('Location', `/api/recoveries/${recovery.id}`);
    return recovery;
  }

  @Get()
  @Roles('auditor')
  @ApiOperation({ summary: 'List recoveries, newest first' })
  @ApiOkResponse({ type: RecoveryPageDto })
  list(@Query() q: ListRecoveriesQueryDto) {
    const { limit, cursor, ...filter } = q;
    return this.recoveries.list(filter, limit ?? 50, cursor);
  }

  @Get(':id')
  @Roles('auditor')
  @ApiOperation({ summary: 'One recovery' })
  @ApiOkResponse({ type: RecoveryDto })
  get(@Param('id', UUID) id: string) {
    return this.recoveries.get(id);
  }

  @Post(':id/rollback')
  @HttpCode(202)
  @Roles('admin')
  @Audit('recovery.rollback', 'recovery')
  @ExpensiveRoute()
  @ApiOperation({ summary: 'Restore the safety backup taken before this recovery (replace, same tables); it becomes rolled_back once done' })
  @ApiAcceptedResponse({ type: RecoveryDto, description: 'The rollback, itself a recovery (rollbackOf = this id)' })
  async rollback(@Param('id', UUID) id: string, @Body() dto: RollbackRecoveryDto, @Req() req: RequestWithContext, @Res({ passthrough: true }) res: Response) {
    const recovery = await this.recoveries.rollback(id, dto.confirm, req.actor);
    res.setHeader('Location', `/api/recoveries/${recovery.id}`);
    return recovery;
  }
}
