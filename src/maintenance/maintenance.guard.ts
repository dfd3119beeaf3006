import { CanActivate, ExecutionContext, HttpException, HttpStatus, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Response } from 'express';
import type { RequestWithContext } from '../common/request-context';
import { MAINTENANCE_RETRY_AFTER_SECONDS, maintenanceMessage, SAFE_METHODS } from './maintenance-state';
import { MaintenanceService } from './maintenance.service';

const ALLOWED_IN_MAINTENANCE = 'strongroom:allowed-in-maintenance';

/** A changing route that still answers during maintenance (turning it off). */
export const AllowedInMaintenance = () => SetMetadata(ALLOWED_IN_MAINTENANCE, true);

/**
 * Global guard after authentication: while Strongroom is in maintenance, a request that may
 * change something is a 503 with Retry-After and the reason; reads always pass. A restore's
 * own work runs inside the service, not through HTTP, so nothing it does is refused here.
 */
@Injectable()
export class MaintenanceGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly maintenance: MaintenanceService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const req = ctx.switchToHttp().getRequest<RequestWithContext>();
    if (SAFE_METHODS.has(req.method.toUpperCase())) return true;
    if (this.reflector.getAllAndOverride<boolean>(ALLOWED_IN_MAINTENANCE, [ctx.getHandler(), ctx.getClass()]))
      return true;
    const state = await this.maintenance.state();
    if (!state.active) return true;
    ctx.switchToHttp().getResponse<Response>().setHeader('Retry-After', String(MAINTENANCE_RETRY_AFTER_SECONDS));
    throw new HttpException(maintenanceMessage(state), HttpStatus.SERVICE_UNAVAILABLE);
  }
}
