import { applyDecorators, ExecutionContext, SetMetadata } from '@nestjs/common';
import { ApiErrors } from './openapi';

const EXPENSIVE_ROUTE = 'strongroom:expensive-route';

/**
 * Marks a route that starts heavy work (a backup, import, delete, download or restore): the
 * global ThrottlerGuard then applies THROTTLE_EXPENSIVE_LIMIT per THROTTLE_EXPENSIVE_TTL_SECONDS
 * to it instead of the general limit. The limits are read from configuration at request
 * time, which static @Throttle() values could not be.
 */
export const ExpensiveRoute = () =>
  applyDecorators(
    SetMetadata(EXPENSIVE_ROUTE, true),
    ApiErrors([
      429,
      'Too many expensive requests from this client (THROTTLE_EXPENSIVE_LIMIT); retry after Retry-After seconds',
    ]),
  );

export function isExpensiveRoute(ctx: ExecutionContext): boolean {
  return Reflect.getMetadata(EXPENSIVE_ROUTE, ctx.getHandler()) === true;
}
