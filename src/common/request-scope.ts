import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Response } from 'express';
import type { RequestWithContext } from './request-context';

/**
 * The request a piece of code runs for, without passing it by hand: services read who asked,
 * from where and under which request id (the audit trail), and tell the HTTP audit hook what
 * they recorded themselves, so that one action is one event.
 *
 * Entered after the body parsers (app.setup.ts): a parser resumes the request from a socket
 * callback, where a store entered earlier would already be lost. Work a request starts and
 * that outlives it (a backup job) keeps the store: its events carry the request id that
 * started it, which is what joins them in the trail.
 */
const storage = new AsyncLocalStorage<RequestWithContext>();

export function enterRequestScope(req: RequestWithContext, _res: Response, next: NextFunction): void {
  storage.run(req, next);
}

/** The request the caller runs for, if any (none in scheduled jobs, the CLI, boot). */
export function currentRequest(): RequestWithContext | undefined {
  return storage.getStore();
}

/**
 * Adds details to the event the HTTP audit hook writes for the current request: the
 * before/after values of a change whose service does not record an event itself (API keys
 * live below the audit module). Outside a request: nothing.
 */
export function noteForAudit(details: Record<string, unknown>): void {
  const res = storage.getStore()?.res;
  if (res) res.locals.auditDetails = { ...(res.locals.auditDetails as object | undefined), ...details };
}

/** Runs fn for a request (tests, and code that must attribute work to one). */
export function runInRequestScope<T>(req: RequestWithContext, fn: () => T): T {
  return storage.run(req, fn);
}
