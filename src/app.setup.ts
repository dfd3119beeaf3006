import { INestApplication, ValidationPipe } from '@nestjs/common';
import { NestExpressApplication } from '@nestjs/platform-express';
import type { NextFunction, Request, Response } from 'express';
import { Logger } from 'nestjs-pino';
import { AuditHttpHook } from './audit/audit-http.hook';
import { bodyParsers } from './common/body-parsing';
import { ForegroundActivity } from './common/foreground-activity';
import { HttpLogging } from './common/http-logging';
import { setupOpenApi } from './common/openapi';
import type { RequestWithContext } from './common/request-context';
import { enterRequestScope } from './common/request-scope';
import { SafeInputPipe } from './common/safe-input.pipe';
import { consoleMiddleware } from './console/console-static';
import { AppConfig } from './config/app-config';

/** Everything main.ts and the HTTP tests share: request pipeline, pipes, proxy trust, Swagger, shutdown. */
export function configureApp(app: INestApplication): void {
  const config = app.get(AppConfig);
  const express = app as NestExpressApplication;
  if (config.TRUST_PROXY) express.set('trust proxy', true);
  express.disable('x-powered-by');
  app.useLogger(app.get(Logger));

  // The order of the request pipeline, before any route: (1) the request id, assigned once, and
  // the audit hook that records the request when its response finishes; (2) the request log,
  // under that id; (3) body parsing with its limits. A body refused in (3) is thus still logged
  // and audited. Mounted here, ahead of Nest's own middleware; the parsers carry the names Nest
  // checks for, so it adds no unbounded parsers of its own.
  const hook = app.get(AuditHttpHook);
  express.use((req: Request, res: Response, next: NextFunction) => hook.use(req as RequestWithContext, res, next));
  express.use(app.get(HttpLogging).middleware);
  // Requests in flight: a running backup gives way to them (foreground-activity.ts).
  express.use(app.get(ForegroundActivity).middleware);
  for (const parser of bodyParsers({ maxBytes: config.BODY_MAX_BYTES, maxDepth: config.BODY_MAX_DEPTH }))
    express.use(parser);
  // (4) the request scope services read their audit context from (request-scope.ts).
  express.use((req: Request, res: Response, next: NextFunction) =>
    enterRequestScope(req as RequestWithContext, res, next),
  );
  // The operator console: static files under /console, ahead of the routes (it adds none).
  if (config.CONSOLE_ENABLED) express.use('/console', consoleMiddleware());

  app.useGlobalPipes(
    new SafeInputPipe(),
    new ValidationPipe({
      whitelist: true,
      forbidNonWhitelisted: true,
      transform: true,
      transformOptions: { enableImplicitConversion: false },
    }),
  );
  app.enableShutdownHooks();

  setupOpenApi(app);
}
