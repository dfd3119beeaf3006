import { Injectable, Logger, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Response } from 'express';
import type { RequestWithContext } from '../common/request-context';
import { requestIdOf } from '../common/request-id';
import { boundedCopy, columnText, DETAIL_BOUNDS, REFUSED_BOUNDS } from './audit-details';
import { AuditRefusals } from './audit-refusals';
import { AuditInput, AuditService } from './audit.service';

const CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const ANONYMOUS = { type: 'api-key' as const, keyId: null, name: 'anonymous', role: null };

/**
 * Mounted first of all middleware (app.setup.ts), before body parsing, so every request has
 * its id (X-Request-Id honoured when sane, else generated; echoed in the response) and is
 * seen here even when its body is refused. When the response is finished, records every
 * request that tried to change something and every refused one (401, 403, 429), whatever
 * its outcome; recording at `finish` covers requests that guards or the body parsers stopped
 * before any interceptor could run.
 *
 * What is kept is bounded (audit-details.ts): a body only for an authenticated request that
 * was not refused, else its size and SHA-256 prefix. Refusals anyone can cause in bulk go
 * through AuditRefusals (one event per client, route and status per window, with a count).
 * Nothing here may throw: a failure to record is logged.
 */
@Injectable()
export class AuditHttpHook implements NestMiddleware {
  private readonly logger = new Logger('AuditHttpHook');

  constructor(
    private readonly audit: AuditService,
    private readonly refusals: AuditRefusals,
  ) {}

  use(req: RequestWithContext, res: Response, next: NextFunction): void {
    requestIdOf(req, res);
    res.on('finish', () => {
      this.onFinish(req, res).catch((e: unknown) => this.logger.error(`audit hook failed: ${(e as Error).message}`));
    });
    next();
  }

  private async onFinish(req: RequestWithContext, res: Response): Promise<void> {
    const status = res.statusCode;
    const denied = status === 401 || status === 403 || status === 429;
    const meta = req.auditAction;
    if (!denied && !CHANGING.has(req.method) && !meta?.always) return;
    // One action, one event: a service that recorded this action itself, in the transaction
    // of the change and with this request's context, has written it already.
    if (!denied && status < 400 && meta && req.auditRecorded?.has(meta.action)) return;
    const input = this.describe(req, res, status, denied);
    const route = (req.route as { path?: string } | undefined)?.path ?? null;
    const bulk = status === 429 || (!req.actor && status >= 400);
    if (bulk && this.refusals.take(input, status, route, req.method)) return;
    await this.audit.recordQuietly(input);
  }

  private describe(req: RequestWithContext, res: Response, status: number, denied: boolean): AuditInput {
    const route = (req.route as { path?: string } | undefined)?.path ?? null;
    // A client that proved no key, or was refused, gets no say in what the trail stores.
    const trusted = !!req.actor && status !== 429 && !denied;
    const bounds = trusted ? DETAIL_BOUNDS : REFUSED_BOUNDS;
    const path = req.originalUrl.split('?')[0];
    const hasBody = CHANGING.has(req.method) && req.body !== undefined;
    return {
      actor: req.actor ?? ANONYMOUS,
      action: req.auditAction?.action ?? `http.${req.method.toLowerCase()}`.slice(0, 100),
      resource: req.auditAction?.resource ?? 'http',
      resourceId: columnText(
        (req.params?.id as string | undefined) ?? (res.locals.auditResourceId as string | undefined),
        200,
      ),
      outcome: denied ? 'denied' : status < 400 ? 'success' : 'failure',
      ip: columnText(req.ip, 64),
      userAgent: columnText(req.headers['user-agent'], trusted ? 500 : 200),
      requestId: req.requestId ?? null,
      details: {
        method: req.method,
        path: path.length > 300 ? `${path.slice(0, 300)}…` : path,
        route,
        status,
        query: boundedCopy(req.query, bounds),
        body: trusted && hasBody ? boundedCopy(req.body, DETAIL_BOUNDS) : undefined,
        bodyDigest: !trusted ? this.digest(req) : undefined,
        ...handlerDetails(res.locals.auditDetails),
      },
    };
  }

  /** Size and SHA-256 prefix of a body not stored; from the parser, else the declared length. */
  private digest(req: RequestWithContext): { bytes: number | null; sha256: string | null } | undefined {
    if (req.bodyDigest) return req.bodyDigest;
    const declared = Number(req.headers['content-length']);
    return Number.isSafeInteger(declared) && declared > 0 ? { bytes: declared, sha256: null } : undefined;
  }
}

/** What a handler added (res.locals.auditDetails): server-made, so generous bounds, but bounds all the same. */
const HANDLER_BOUNDS = { depth: 12, string: 10_000, items: 1000, budget: 64 * 1024 };

function handlerDetails(value: unknown): Record<string, unknown> {
  if (!value || typeof value !== 'object') return {};
  const copy = boundedCopy(value, HANDLER_BOUNDS);
  return copy && typeof copy === 'object' && !Array.isArray(copy) ? (copy as Record<string, unknown>) : {};
}
