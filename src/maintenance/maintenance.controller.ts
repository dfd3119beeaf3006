import { Body, Controller, Get, Put } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { Audit, Roles } from '../auth/auth.decorators';
import { ApiErrors } from '../common/openapi';
import { MaintenanceDto, SetMaintenanceDto } from './dto/maintenance.dto';
import { AllowedInMaintenance } from './maintenance.guard';
import { MaintenanceService } from './maintenance.service';

@ApiTags('Maintenance')
@Controller('api/maintenance')
export class MaintenanceController {
  constructor(private readonly maintenance: MaintenanceService) {}

  @Get()
  @Roles('auditor')
  @ApiOperation({
    operationId: 'getMaintenance',
    summary: 'Whether Strongroom is in maintenance, since when, why and by what',
  })
  @ApiOkResponse({ type: MaintenanceDto })
  get(): Promise<MaintenanceDto> {
    return this.maintenance.state();
  }

  @Put()
  @Roles('admin')
  @Audit('maintenance.set', 'maintenance')
  @AllowedInMaintenance()
  @ApiOperation({
    operationId: 'setMaintenance',
    summary: 'Turn maintenance on (with a reason) or off; answers the state after the change',
    description:
      "While maintenance is on, changing requests other than this one get 503 with Retry-After and the reason. Turning it off ends only an admin's maintenance: a running restore keeps it until the restore ends.",
  })
  @ApiOkResponse({ type: MaintenanceDto })
  @ApiErrors([400, 'Invalid input (named)'], 413, 415)
  set(@Body() dto: SetMaintenanceDto): Promise<MaintenanceDto> {
    return this.maintenance.set(dto.active, dto.reason ?? null);
  }
}
