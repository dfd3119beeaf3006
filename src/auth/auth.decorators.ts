import { applyDecorators, SetMetadata } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity } from '@nestjs/swagger';
import { ApiErrors } from '../common/openapi';
import type { Role } from './roles';

export const IS_PUBLIC = 'strongroom:public';
export const REQUIRED_ROLE = 'strongroom:role';
export const AUDIT_ACTION = 'strongroom:audit-action';

/** Opens a route to callers without a key. Every other route needs a role (deny by default). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

/** The least role a route needs (roles include the ones below them). */
export const Roles = (role: Role) =>
  applyDecorators(
    SetMetadata(REQUIRED_ROLE, role),
    ApiBearerAuth('bearer'),
    ApiSecurity('api-key'),
    // Checking the key reads the catalog database: any keyed route can meet its outage (503).
    ApiErrors(401, [403, `Needs role ${role} or higher`], 503),
  );

/**
 * Names the audit action of a route. Changing requests are always recorded; `always`
 * also records reads (reading and exporting the audit trail is itself audited).
 */
export const Audit = (action: string, resource: string, opts: { always?: boolean } = {}) =>
  SetMetadata(AUDIT_ACTION, { action, resource, always: opts.always ?? false });
