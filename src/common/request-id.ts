import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';

/** What a client may send as X-Request-Id and have honoured (anything else gets a fresh id). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * The one id of a request, generated once: the first middleware that asks (the audit hook,
 * mounted first) assigns it and echoes it as X-Request-Id; pino-http's genReqId and the audit
 * trail then read the same value, so log lines and audit events join on it.
 */
export function requestIdOf(req: IncomingMessage & { requestId?: string }, res?: ServerResponse): string {
  if (req.requestId) return req.requestId;
  const incoming = req.headers['x-request-id'];
  const id = typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : randomUUID();
  req.requestId = id;
  if (res && !res.headersSent) res.setHeader('X-Request-Id', id);
  return id;
}
