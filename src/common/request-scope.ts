import { AsyncLocalStorage } from 'node:async_hooks';
import type { NextFunction, Response } from 'express';
import { SYSTEM_ACTOR, type Actor, type RequestWithContext } from './request-context';

/**
 * Who a piece of code acts for, without passing it by hand: services read who asked, from
 * where and under which request id (the audit trail), and tell the HTTP audit hook what
 * they recorded themselves, so that one action is one event.
 *
 * Two kinds of scope. An HTTP request's (enterRequestScope): the actor is whoever the auth
 * guard established. Work that runs for no request — the command line, cron ticks,
 * background loops — says who acts with runAs(actor, fn), explicitly: a timer or cron job
 * created while a request was served would otherwise run inside that request's scope and
 * borrow its caller, IP and request id.
 *
 * The request scope is entered after the body parsers (app.setup.ts): a parser resumes the
 * request from a socket callback, where a store entered earlier would already be lost. Work
 * a request starts and that outlives it (a backup job) keeps the store: its events carry
 * the request id that started it, which is what joins them in the trail.
 */
interface Scope {
  req?: RequestWithContext;
  actor?: Actor;
}

const storage = new AsyncLocalStorage<Scope>();

export function enterRequestScope(req: RequestWithContext, _res: Response, next: NextFunction): void {
  storage.run({ req }, next);
}

/** The request the caller runs for, if any (none in scheduled jobs, the CLI, boot, runAs). */
export function currentRequest(): RequestWithContext | undefined {
  return storage.getStore()?.req;
}

/**
 * Who acts: the actor a runAs() scope names, else the authenticated caller of the request
 * being served, else the system (boot, and background work that names no one).
 */
export function currentActor(): Actor {
  const scope = storage.getStore();
  return scope?.actor ?? scope?.req?.actor ?? SYSTEM_ACTOR;
}

/**
 * Runs fn as `actor`, outside any request (the CLI's operator, the scheduler's system actor).
 * It leaves the request scope it may be called from: nothing done inside is attributed to,
 * or carries the IP and request id of, a request that merely happened to create the timer.
 */
export function runAs<T>(actor: Actor, fn: () => T): T {
  return storage.run({ actor }, fn);
}

/**
 * Adds details to the event the HTTP audit hook writes for the current request: the
 * before/after values of a change whose service does not record an event itself (API keys
 * live below the audit module). Outside a request: nothing.
 */
export function noteForAudit(details: Record<string, unknown>): void {
  const res = storage.getStore()?.req?.res;
  if (res) res.locals.auditDetails = { ...(res.locals.auditDetails as object | undefined), ...details };
}

/** Runs fn for a request (tests, and code that must attribute work to one). */
export function runInRequestScope<T>(req: RequestWithContext, fn: () => T): T {
  return storage.run({ req }, fn);
}
