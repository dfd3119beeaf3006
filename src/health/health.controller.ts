import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, TypeOrmHealthIndicator } from '@nestjs/terminus';
import { Public } from '../auth/auth.decorators';
import { BACKUP_STORAGE } from '../backup/storage.provider';
import { Inject } from '@nestjs/common';
import type { BackupStorage } from '../engine/storage/storage';

@ApiTags('Health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
  ) {}

  @Get()
  @Public()
  @HealthCheck()
  @ApiOperation({ operationId: 'getHealth', summary: 'Liveness and readiness: database and backup storage' })
  check() {
    return this.health.check([
      () => this.db.pingCheck('database', { timeout: 3000 }),
      async () => {
        const indicator = this.indicators.check('storage');
        try {
          await this.storage.check();
          return indicator.up({ kind: this.storage.kind });
        } catch (e) {
          return indicator.down({ kind: this.storage.kind, message: (e as Error).message });
        }
      },
    ]);
  }
}
