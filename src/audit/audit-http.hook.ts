import { Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Response } from 'express';
import { randomUUID } from 'node:crypto';
import type { RequestWithContext } from '../common/request-context';
import { AuditService } from './audit.service';

const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * Gives every request an id (X-Request-Id honoured when sane, else generated; echoed in
 * the response) and, when the response is finished, records in the audit trail every
 * request that tried to change something and every refused one (401, 403, 429), whatever
 * its outcome. Recording at `finish` covers requests that guards stopped before any
 * interceptor could run.
 */
@Injectable()
export class AuditHttpHook implements NestMiddleware {
  constructor(private readonly audit: AuditService) {}

  use(req: RequestWithContext, res: Response, next: NextFunction): void {
    const incoming = req.headers['x-request-id'];
    const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    req.requestId = id;
    res.setHeader('X-Request-Id', id);
    res.on('finish', () => void this.onFinish(req, res));
    next();
  }

  private async onFinish(req: RequestWithContext, res: Response): Promise<void> {
    const status = res.statusCode;
    const denied = status === 401 || status === 403 || status === 429;
    const meta = req.auditAction;
    if (!denied && !CHANGING.has(req.method) && !meta?.always) return;
    const outcome = denied ? 'denied' : status < 400 ? 'success' : 'failure';
    const route = (req.route as { path?: string } | undefined)?.path;
    const resourceId = (req.params?.id as string | undefined) ?? (res.locals.auditResourceId as string | undefined) ?? null;
    await this.audit.recordQuietly({
      actor: req.actor ?? { type: 'api-key', keyId: null, name: 'anonymous', role: null },
      action: meta?.action ?? `http.${req.method.toLowerCase()}`,
      resource: meta?.resource ?? 'http',
      resourceId,
      outcome,
      ip: req.ip ?? null,
      userAgent: (req.headers['user-agent'] as string | undefined) ?? null,
      requestId: req.requestId ?? null,
      details: {
        method: req.method,
        path: req.originalUrl.split('?')[0],
        route: route ?? null,
        status,
        query: req.query,
        body: CHANGING.has(req.method) ? req.body : undefined,
        ...(res.locals.auditDetails as Record<string, unknown> | undefined),
      },
    });
  }
}
