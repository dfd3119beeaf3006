import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { ApiErrors } from '../common/openapi';
import { AlertStore } from './alert-store';
import { toAlertView } from './alert.view';
import { AlertPageDto, AlertQueryDto } from './dto/alert.dto';

@ApiTags('Status')
@Controller('api/alerts')
@Roles('auditor')
export class AlertsController {
  constructor(private readonly alerts: AlertStore) {}

  @Get()
  @ApiOperation({
    operationId: 'listAlerts',
    summary: 'Alerts, newest first: open ones and those resolved in the last 7 days (or one state)',
  })
  @ApiOkResponse({ type: AlertPageDto })
  @ApiErrors([400, 'A bad limit, cursor, state or key (named)'])
  async list(@Query() q: AlertQueryDto): Promise<AlertPageDto> {
    const page = await this.alerts.list(
      { state: q.state, key: q.key, limit: q.limit ?? 50, cursor: q.cursor },
      new Date(),
    );
    return { items: page.rows.map(toAlertView), nextCursor: page.nextCursor };
  }
}
