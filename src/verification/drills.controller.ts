import { Controller, Get, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { ApiErrors } from '../common/openapi';
import { PageQueryDto } from '../common/pagination';
import { DrillPageDto } from './dto/drill.dto';
import { RestoreDrills } from './restore-drills.service';

@ApiTags('Status')
@Controller('api/drills')
export class DrillsController {
  constructor(private readonly drills: RestoreDrills) {}

  @Get()
  @Roles('auditor')
  @ApiOperation({
    operationId: 'listRestoreDrills',
    summary: 'Restore drills, newest first: backup, duration (the measured RTO), outcome, baseline',
  })
  @ApiOkResponse({ type: DrillPageDto })
  @ApiErrors([400, 'A bad limit or cursor (named)'])
  list(@Query() q: PageQueryDto): Promise<DrillPageDto> {
    return this.drills.list(q.limit ?? 50, q.cursor);
  }
}
