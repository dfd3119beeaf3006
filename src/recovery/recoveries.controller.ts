import { AllowedInMaintenance } from '../maintenance/maintenance.guard';
import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Param,
  ParseUUIDPipe,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Audit, Roles } from '../auth/auth.decorators';
import { roleAtLeast } from '../auth/roles';
import { ExpensiveRoute } from '../common/expensive-route';
import { ApiErrors, UNREAD_BODY_ERRORS } from '../common/openapi';
import type { RequestWithContext } from '../common/request-context';
import {
  CreateRecoveryDto,
  DryRunResultDto,
  ListRecoveriesQueryDto,
  RecoveryDto,
  RecoveryPageDto,
  RollbackRecoveryDto,
} from './dto/recovery.dto';
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
    operationId: 'createRecovery',
    summary: 'Restore a backup (admin; 202, runs in the background), or with dryRun only plan it (operator; 200)',
    description:
      'Start with a dry run: `{ "backupId": "…", "dryRun": true }` writes nothing and answers the per-table plan. ' +
      "`replace` and `merge` need `confirm` equal to `RESTORE {backupId}` (the backup's id in place of `{backupId}`); " +
      '`missing-only` needs no confirmation. 409 when the backup is not completed, the table structure differs ' +
      "(unless `allowSchemaMismatch`), the restore's checks find a blocker (the answer lists them in `blockers`; nothing is recorded or written), " +
      'or another backup or restore runs. A dry run answers the plan with `blockers` (what would make the restore fail, row-level checks included) and `warnings`.',
  })
  @ApiBody({
    type: CreateRecoveryDto,
    examples: {
      dryRun: {
        summary: 'Plan a restore (dry run: nothing is written)',
        value: { backupId: '0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11', mode: 'replace', dryRun: true },
      },
      replace: {
        summary: 'Execute a replace restore (admin; confirm names the same backup)',
        value: {
          backupId: '0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11',
          mode: 'replace',
          confirm: 'RESTORE 0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11',
        },
      },
      missingOnly: {
        summary: 'Add back only the rows that are missing (admin; no confirmation needed)',
        value: { backupId: '0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11', mode: 'missing-only', tables: ['tasks'] },
      },
    },
  })
  @ApiAcceptedResponse({
    type: RecoveryDto,
    description: 'The recovery, started; Location names it',
    headers: { Location: { description: '/api/recoveries/{id}', schema: { type: 'string' } } },
  })
  @ApiOkResponse({
    type: DryRunResultDto,
    description: 'dryRun: what would change, what would stop it, and what it would reach beyond',
    schema: { $ref: getSchemaPath(DryRunResultDto) },
  })
  @ApiErrors(
    [
      400,
      'Invalid input, a missing or wrong confirm phrase (the message states the exact phrase), or an unknown table',
    ],
    [403, 'Needs role operator or higher; executing (no dryRun) needs admin'],
    [404, 'No such backup'],
    [
      409,
      'The backup is not completed or cannot be read, the structure differs, a check of the target finds a blocker (listed in blockers, with warnings), or another backup or restore runs',
    ],
    413,
    415,
    [422, "The backup is refused (e.g. it lists Strongroom's own bookkeeping tables, named in tables)"],
  )
  async create(
    @Body() dto: CreateRecoveryDto,
    @Req() req: RequestWithContext,
    @Res({ passthrough: true }) res: Response,
  ): Promise<DryRunResultDto | RecoveryDto> {
    if (dto.dryRun) {
      res.status(200);
      return this.recoveries.plan(dto);
    }
    if (!roleAtLeast(req.actor?.role, 'admin'))
      throw new ForbiddenException('executing a recovery needs the admin role (operators may use dryRun)');
    const recovery = await this.recoveries.start(dto);
    res.locals.auditResourceId = recovery.id;
    res.setHeader('Location', `/api/recoveries/${recovery.id}`);
    return recovery;
  }

  @Get()
  @Roles('auditor')
  @ApiOperation({ operationId: 'listRecoveries', summary: 'List recoveries, newest first' })
  @ApiOkResponse({ type: RecoveryPageDto })
  @ApiErrors([400, 'A bad filter, limit or cursor (named)'])
  list(@Query() q: ListRecoveriesQueryDto): Promise<RecoveryPageDto> {
    const { limit, cursor, ...filter } = q;
    return this.recoveries.list(filter, limit ?? 50, cursor);
  }

  @Get(':id')
  @Roles('auditor')
  @ApiOperation({ operationId: 'getRecovery', summary: 'One recovery' })
  @ApiOkResponse({ type: RecoveryDto })
  @ApiErrors([400, 'id is not a UUID'], [404, 'No such recovery'])
  get(@Param('id', UUID) id: string): Promise<RecoveryDto> {
    return this.recoveries.get(id);
  }

  @Post(':id/cancel')
  @HttpCode(202)
  @Roles('admin')
  @Audit('recovery.cancel', 'recovery')
  // Stopping work is never refused for maintenance: cancelling the restore that holds it is how an admin ends it early.
  @AllowedInMaintenance()
  @ApiOperation({
    operationId: 'cancelRecovery',
    summary:
      'Stop a pending or running recovery before its commit: the restore rolls back, the target stays as it was, and it ends cancelled (202)',
    description:
      'Once the restore has committed it is too late: 409 says so (roll the recovery back instead once it completed).',
  })
  @ApiAcceptedResponse({
    type: RecoveryDto,
    description: 'The recovery; its status becomes cancelled once the job has stopped',
  })
  @ApiErrors(
    ...UNREAD_BODY_ERRORS,
    [400, 'id is not a UUID'],
    [404, 'No such recovery'],
    [409, 'The recovery has already finished, or its restore has committed (too late to cancel)'],
  )
  cancel(@Param('id', UUID) id: string): Promise<RecoveryDto> {
    return this.recoveries.cancel(id);
  }

  @Post(':id/rollback')
  @HttpCode(202)
  @Roles('admin')
  @Audit('recovery.rollback', 'recovery')
  @ExpensiveRoute()
  @ApiOperation({
    operationId: 'rollbackRecovery',
    summary:
      'Restore the safety backup taken before this recovery (replace, same tables); it becomes rolled_back once done',
    description: "`confirm` must be `ROLLBACK {recoveryId}`, with this recovery's id in place of `{recoveryId}`.",
  })
  @ApiAcceptedResponse({
    type: RecoveryDto,
    description: 'The rollback, itself a recovery (rollbackOf = this id); Location names it',
  })
  @ApiErrors(
    [400, 'Invalid input, or a missing or wrong confirm phrase (the message states the exact phrase)'],
    [404, 'No such recovery'],
    [
      409,
      'The recovery is not completed, had no safety backup, its safety backup is gone, or another backup or restore runs',
    ],
    413,
    415,
    [422, 'The safety backup is refused'],
  )
  async rollback(
    @Param('id', UUID) id: string,
    @Body() dto: RollbackRecoveryDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<RecoveryDto> {
    const recovery = await this.recoveries.rollback(id, dto.confirm);
    res.setHeader('Location', `/api/recoveries/${recovery.id}`);
    return recovery;
  }
}
