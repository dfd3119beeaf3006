import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { STATUS_CODES } from 'node:http';
import { DomainError, ERROR_STATUS } from './domain-error';

/**
 * Every error leaves as `{ statusCode, error, message }` (API.md). Domain errors map by
 * code; anything unexpected is a 500 whose details stay in the log, never in the answer.
 */
@Catch()
export class HttpExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpExceptionFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let status = HttpStatus.INTERNAL_SERVER_ERROR;
    let message: string | string[] = 'Internal server error';
    let extra: Record<string, unknown> | undefined;
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      const body = exception.getResponse();
      message = typeof body === 'string' ? body : ((body as { message?: string | string[] }).message ?? exception.message);
    } else if (exception instanceof DomainError) {
      status = ERROR_STATUS[exception.code];
      message = exception.message;
      extra = exception.details;
    } else if (isPayloadTooLarge(exception)) {
      status = HttpStatus.PAYLOAD_TOO_LARGE;
      message = 'request body too large';
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

function isPayloadTooLarge(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { type?: string }).type === 'entity.too.large';
}
