import { Controller, Get, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { Public, Roles } from '../auth/auth.decorators';
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
  @ApiOperation({ summary: 'Is the data safe: newest and newest verified backup, RPO, storage, next runs, problems' })
  @ApiOkResponse({ type: StatusDto })
  get() {
    return this.status.check();
  }

  @Get('metrics')
  @Public()
  @UseGuards(MetricsAccessGuard)
  @ApiOperation({ summary: 'Prometheus metrics (text format); needs an auditor key when METRICS_PUBLIC=false' })
  @ApiProduces('text/plain')
  async scrape(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  }
}
