import { Controller, Get, HttpCode, Post, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Roles } from '../auth/auth.decorators';
import { ApiErrors, UNREAD_BODY_ERRORS } from '../common/openapi';
import type { RequestWithContext } from '../common/request-context';
import { SYSTEM_ACTOR } from '../common/request-context';
import { RetentionApplyDto, RetentionPreviewDto } from './dto/retention.dto';
import { RetentionService } from './retention.service';

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
    summary: 'Delete what the preview lists (pinned backups and the newest completed backup never)',
  })
  @ApiOkResponse({ type: RetentionApplyDto })
  @ApiErrors([400, 'A body (this route takes none) that is not valid JSON'], ...UNREAD_BODY_ERRORS)
  apply(@Req() req: RequestWithContext): Promise<RetentionApplyDto> {
    return this.retention.apply(req.actor ?? SYSTEM_ACTOR);
  }
}
