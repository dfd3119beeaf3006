import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public, Roles } from '../auth/auth.decorators';
import { ApiErrors } from '../common/openapi';
import { StatusDto } from './status.dto';
import { MetricsAccessGuard } from './metrics-access.guard';
import { MetricsService } from './metrics.service';
import { StatusService } from './status.service';
import { UseGuards } from '@nestjs/common';

@ApiTags('Status')
@Controller()
export class StatusController {
  constructor(
    private readonly status: StatusService,
    private readonly metrics: MetricsService,
  ) {}

  @Get('api/status')
  @Roles('auditor')
  @ApiOperation({
    operationId: 'getStatus',
    summary: 'Is the data safe: newest and newest verified backup, RPO, storage, next runs, problems',
  })
  @ApiOkResponse({ type: StatusDto, description: 'The status; healthy is false when there are problems (still 200)' })
  get(): Promise<StatusDto> {
    return this.status.check();
  }

  @Get('metrics')
  @Public()
  @UseGuards(MetricsAccessGuard)
  @ApiOperation({
    operationId: 'getMetrics',
    summary: 'Prometheus metrics (text format); needs an auditor key when METRICS_PUBLIC=false',
  })
  @ApiOkResponse({
    description: 'Prometheus exposition format',
    content: { 'text/plain': { schema: { type: 'string' } } },
  })
  @ApiErrors(
    [401, 'METRICS_PUBLIC=false and no or an unknown key'],
    [403, 'METRICS_PUBLIC=false and a key below auditor'],
    503,
  )
  async scrape(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  }
}
