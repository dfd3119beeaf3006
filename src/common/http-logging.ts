import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import pino, { DestinationStream, Logger } from 'pino';
import { HttpLogger, pinoHttp } from 'pino-http';
import { AppConfig } from '../config/app-config';
import { redactSecrets, redactUrl } from './redact';
import { requestIdOf } from './request-id';

/** Where log lines go: stdout; tests put a stream of their own here to read them. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');
export const logDestinationProvider = {
  provide: LOG_DESTINATION,
  useFactory: (): DestinationStream => pino.destination({ dest: 1, sync: true }),
};

interface SerializedRequest {
  url?: string;
  query?: unknown;
  [key: string]: unknown;
}

/**
 * The request logger (pino-http) and the process logger it derives from. app.setup.ts mounts
 * the middleware right after the audit hook and before body parsing, so every request is
 * logged (bodies refused included) under the one id the audit trail records; nestjs-pino
 * uses this logger for application logs (`useExisting`), so those carry the id too.
 * Secrets never reach a line: key headers and cookies are redacted, and so are the values
 * of secret-looking query parameters (`?key=`, `api_key`, `token`, `confirm`, …).
 */
@Injectable()
export class HttpLogging {
  readonly middleware: HttpLogger<IncomingMessage, ServerResponse>;

  constructor(config: AppConfig, @Inject(LOG_DESTINATION) destination: DestinationStream) {
    const full = pinoHttp(
      {
        level: config.LOG_LEVEL,
        genReqId: (req, res) => requestIdOf(req, res),
        redact: {
          paths: [
            'req.headers.authorization',
            'req.headers["x-api-key"]',
            'req.headers.cookie',
            'res.headers["set-cookie"]',
          ],
          censor: '[REDACTED]',
        },
        serializers: {
          req: (req: SerializedRequest) => {
            if (typeof req.url === 'string') req.url = redactUrl(req.url);
            if (req.query && typeof req.query === 'object') req.query = redactSecrets(req.query);
            return req;
          },
        },
      },
      destination,
    );
    this.middleware = full.logger.isLevelEnabled('info') ? full : quietRequestLogger(full.logger);
  }

  get logger(): Logger {
    return this.middleware.logger;
  }
}

/**
 * Below `info`, pino-http writes no line of its own (it logs requests at info), yet it still
 * made a child logger per request, serializing and redacting the whole request for its
 * bindings: measurable on every request of a busy service. Here the request id is assigned
 * the same way and `req.log` (which nestjs-pino hands to application logs) is that same child
 * logger, made the first time something logs during the request, if anything does.
 */
function quietRequestLogger(logger: Logger): HttpLogger<IncomingMessage, ServerResponse> {
  const middleware = ((
    req: IncomingMessage & { id?: unknown; log?: Logger },
    res: ServerResponse,
    next?: () => void,
  ) => {
    req.id = req.id || requestIdOf(req, res);
    let child: Logger | undefined;
    req.log = lazyLogger(() => (child ??= logger.child({ req })));
    next?.();
  }) as HttpLogger<IncomingMessage, ServerResponse>;
  middleware.logger = logger;
  return middleware;
}

/** A logger that is made by `make` on first use, and is that logger from then on. */
function lazyLogger(make: () => Logger): Logger {
  return new Proxy({} as Logger, {
    get(_target, prop) {
      const real = make();
      const value: unknown = Reflect.get(real, prop, real);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(real) : value;
    },
    set: (_target, prop, value) => Reflect.set(make(), prop, value),
    has: (_target, prop) => prop in make(),
  });
}
