import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { BodyError } from './body-parsing';
import { DATABASE_RETRY_AFTER_SECONDS, isDatabaseUnavailable } from './database-unavailable';
import { RestoreError } from '../engine/restore/restore-error';
import { DomainError, ERROR_STATUS } from './domain-error';
import { RESTORE_ERROR_STATUS } from './restore-error-status';

/**
 * Every error leaves as `{ statusCode, error, message }` (API.md). Domain and restore errors map by code;
 * errors of body parsing map to their 4xx; an unreachable catalog database is a 503 with
 * Retry-After; anything else is a 500 whose details stay in the log, never in the answer.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let status = HttpStatus.INTERNAL_SERVER_ERROR;
    let message: string | string[] = 'Internal server error';
    let extra: Record<string, unknown> | undefined;
    const body = bodyError(exception);
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const response = exception.getResponse();
      message =
        typeof response === 'string'
          ? response
          : ((response as { message?: string | string[] }).message ?? exception.message);
    } else if (exception instanceof DomainError) {
      status = ERROR_STATUS[exception.code];
      message = exception.message;
      extra = exception.details;
    } else if (exception instanceof RestoreError) {
      status = RESTORE_ERROR_STATUS[exception.code];
      message = exception.message;
      extra = exception.details;
    } else if (body) {
      ({ status, message } = body);
    } else if (isDatabaseUnavailable(exception)) {
      status = HttpStatus.SERVICE_UNAVAILABLE;
      message = 'the catalog database is unavailable; retry later';
      this.logger.warn(
        `catalog database unavailable: ${exception instanceof Error ? exception.message : String(exception)}`,
      );
      if (!res.headersSent) res.setHeader('Retry-After', String(DATABASE_RETRY_AFTER_SECONDS));
    } else {
      this.logger.error(exception instanceof Error ? exception.stack : String(exception));
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.status(status).json({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message, ...extra });
  }
}

/** A 4xx from body parsing: BodyError, or any http-errors style error that says it may be shown. */
function bodyError(e: unknown): { status: number; message: string } | null {
  if (e instanceof BodyError) return { status: e.status, message: e.message };
  if (!(e instanceof Error)) return null;
  const { status, expose } = e as Error & { status?: unknown; expose?: unknown };
  return typeof status === 'number' && status >= 400 && status < 500 && expose === true
    ? { status, message: 'request refused' }
    : null;
}
