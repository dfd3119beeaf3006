import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Roles } from '../auth/auth.decorators';
import { ApiErrors, UNREAD_BODY_ERRORS } from '../common/openapi';
import {
  ConfirmRetentionDto,
  ListRetentionDecisionsQueryDto,
  RetentionApplyDto,
  RetentionDecisionPageDto,
  RetentionPendingDecisionDto,
  RetentionPreviewDto,
} from './dto/retention.dto';
import { RetentionService } from './retention.service';

const UUID = new ParseUUIDPipe();

@ApiTags('Retention')
@Controller('api/retention')
export class RetentionController {
  constructor(private readonly retention: RetentionService) {}

  @Get('preview')
  @Roles('auditor')
  @ApiOperation({
    operationId: 'previewRetention',
    summary: 'What a cleanup would keep and delete now, with reasons; changes nothing',
  })
  @ApiOkResponse({ type: RetentionPreviewDto })
  preview(): Promise<RetentionPreviewDto> {
    return this.retention.preview();
  }

  @Post('apply')
  @HttpCode(200)
  @Roles('admin')
  @Audit('retention.apply', 'backup')
  @ApiOperation({
    operationId: 'applyRetention',
    summary:
      'Delete what the preview lists (pinned backups, the newest completed and the newest verified backup never); held groups get a pending decision',
  })
  @ApiOkResponse({ type: RetentionApplyDto })
  @ApiErrors([400, 'A body (this route takes none) that is not valid JSON'], ...UNREAD_BODY_ERRORS)
  apply(): Promise<RetentionApplyDto> {
    return this.retention.apply();
  }

  @Get('decisions')
  @Roles('auditor')
  @ApiOperation({
    operationId: 'listRetentionDecisions',
    summary: 'Cleanups that stopped because they would delete too much of a group, newest first',
  })
  @ApiOkResponse({ type: RetentionDecisionPageDto })
  @ApiErrors([400, 'A bad status, limit or cursor (named)'])
  list(@Query() q: ListRetentionDecisionsQueryDto): Promise<RetentionDecisionPageDto> {
    return this.retention.listDecisions(q.status, q.limit ?? 50, q.cursor);
  }

  @Get('decisions/:id')
  @Roles('auditor')
  @ApiOperation({ operationId: 'getRetentionDecision', summary: 'One retention decision' })
  @ApiOkResponse({ type: RetentionPendingDecisionDto })
  @ApiErrors([400, 'id is not a UUID'], [404, 'No such decision'])
  get(@Param('id', UUID) id: string): Promise<RetentionPendingDecisionDto> {
    return this.retention.decision(id);
  }

  @Post('decisions/:id/confirm')
  @HttpCode(200)
  @Roles('admin')
  @Audit('retention.confirm', 'retention-decision')
  @ApiOperation({
    operationId: 'confirmRetentionDecision',
    summary: 'Let retention delete the backups a pending decision names, and run the cleanup now',
    description:
      '`confirm` must be `DELETE {decisionId}`. 409 when the decision is not pending, or the plan now deletes backups of the group the decision does not name (a new decision is recorded: confirm that one), or while the last verification of the newest backup failed (nothing is deleted then).',
  })
  @ApiOkResponse({ type: RetentionApplyDto })
  @ApiErrors(
    [400, 'Invalid input, or a missing or wrong confirm phrase (the message states the exact phrase)'],
    [404, 'No such decision'],
    [409, 'The decision is not pending, or the plan changed since (a new decision replaces it)'],
    413,
    415,
  )
  confirm(@Param('id', UUID) id: string, @Body() dto: ConfirmRetentionDto): Promise<RetentionApplyDto> {
    return this.retention.confirm(id, dto.confirm);
  }
}
