import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { RequestWithContext } from '../common/request-context';
import { ApiKeysService } from './api-keys.service';
import { AUDIT_ACTION, IS_PUBLIC, REQUIRED_ROLE } from './auth.decorators';
import { Role, roleAtLeast } from './roles';

/**
 * Global guard: a route is open only when marked @Public(); otherwise it needs a key whose
 * role reaches the route's @Roles(). A route with neither is refused, so a forgotten
 * decorator fails closed (and the auth-matrix test names it).
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly keys: ApiKeysService,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const targets = [ctx.getHandler(), ctx.getClass()];
    const req = ctx.switchToHttp().getRequest<RequestWithContext>();
    req.auditAction = this.reflector.getAllAndOverride(AUDIT_ACTION, targets);
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;

    const presented = extractKey(req);
    if (!presented) throw new UnauthorizedException('missing API key: send Authorization: Bearer <key> or X-API-Key');
    const key = await this.keys.authenticate(presented);
    if (!key) throw new UnauthorizedException('unknown or revoked API key');
    req.actor = { type: 'api-key', keyId: key.id, name: key.name, role: key.role };

    const required = this.reflector.getAllAndOverride<Role>(REQUIRED_ROLE, targets);
    if (!required) throw new ForbiddenException('this route declares no role and is closed by default');
    if (!roleAtLeast(key.role, required)) throw new ForbiddenException(`this action needs the ${required} role`);
    return true;
  }
}

function extractKey(req: RequestWithContext): string | null {
  const auth = req.headers.authorization;
  if (auth) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    if (m) return m[1];
  }
  const header = req.headers['x-api-key'];
  const v = Array.isArray(header) ? header[0] : header;
  return v && v.trim() ? v.trim() : null;
}
