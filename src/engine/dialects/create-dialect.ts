import type { Dialect } from './dialect';
import { createPostgresDialect } from './postgres/postgres.dialect';
import { createSqliteDialect } from './sqlite';

/** The dialect for a `sqlite:` or `postgres://` URL. */
export function createDialect(url: string, opts: { parallel?: number } = {}): Dialect {
  if (url.startsWith('sqlite:')) return createSqliteDialect(url, { busyTimeoutMs: 15_000 });
  if (/^postgres(ql)?:\/\//.test(url)) return createPostgresDialect(url, { parallel: opts.parallel });
  throw new Error('database URL must be sqlite:<path> or postgres://…');
}
