/**
 * Tells a catalog database that cannot be reached (down, restarting, out of connections,
 * locked for longer than the busy timeout) from a query that failed on its own merits.
 * The first is not the client's fault and not a bug: the exception filter answers 503 with
 * Retry-After instead of 500. Errors are matched by the codes the drivers document, looking
 * through TypeORM's QueryFailedError (driverError) and error causes.
 */

/** Socket-level failures (node, pg, pg-pool). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
]);

/** PostgreSQL SQLSTATEs: class 08 connection exception, 57P01-03 shutdown/cannot connect now, 53300 too many connections. */
const PG_UNAVAILABLE = /^(08...|57P0[123]|53300|53100|53200)$/;

/** SQLite primary result codes that mean the file cannot be used right now. */
const SQLITE_UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|PROTOCOL|NOTADB)/;

/** Messages of pg, pg-pool, better-sqlite3 and TypeORM that carry no code. */
const MESSAGES = [
  /^Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error and is not queryable/i,
  /Cannot use a pool after calling end on the pool/i,
  /The database connection is not open/i,
  /Connection with .* database is not established/i,
];

const TYPEORM_NAMES = new Set([
  'ConnectionIsNotSetError',
  'CannotExecuteNotConnectedError',
  'CannotConnectAlreadyConnectedError',
]);

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 4 || typeof error !== 'object' || error === null) return false;
  const e = error as {
    code?: unknown;
    name?: unknown;
    message?: unknown;
    driverError?: unknown;
    cause?: unknown;
    errors?: unknown;
  };
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || PG_UNAVAILABLE.test(code) || SQLITE_UNAVAILABLE.test(code)) return true;
  if (typeof e.name === 'string' && TYPEORM_NAMES.has(e.name)) return true;
  const message = typeof e.message === 'string' ? e.message : '';
  if (MESSAGES.some((m) => m.test(message))) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true; // AggregateError (dual-stack connect)
  return isDatabaseUnavailable(e.driverError, depth + 1) || isDatabaseUnavailable(e.cause, depth + 1);
}

/** Seconds a client is told to wait before retrying a request the unavailable database refused. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;
