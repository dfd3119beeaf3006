import { CanActivate, ExecutionContext, Injectable } from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard';
import { Roles } from '../auth/auth.decorators';
import { AppConfig } from '../config/app-config';

/** Carries the role /metrics needs when it is not public, for the real AuthGuard to read. */
class MetricsWhenPrivate {
  @Roles('auditor')
  scrape(): void {}
}

/**
 * /metrics is public by default (Prometheus scrapers rarely send keys). With
 * METRICS_PUBLIC=false the route is checked by the same AuthGuard as every other route,
 * shown a handler that requires the auditor role, so no authentication logic is duplicated.
 */
@Injectable()
export class MetricsAccessGuard implements CanActivate {
  constructor(
    private readonly config: AppConfig,
    private readonly auth: AuthGuard,
  ) {}

  canActivate(ctx: ExecutionContext): Promise<boolean> | boolean {
    if (this.config.METRICS_PUBLIC) return true;
    const asPrivate = Object.create(ctx, {
      getHandler: { value: () => MetricsWhenPrivate.prototype.scrape },
      getClass: { value: () => MetricsWhenPrivate },
    }) as ExecutionContext;
    return this.auth.canActivate(asPrivate);
  }
}
