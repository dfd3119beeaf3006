/** Parses the two database URL forms Strongroom accepts: `sqlite:<path>` and `postgres://…`. */
import { resolve } from 'node:path';

export type ParsedDatabaseUrl = { engine: 'sqlite'; path: string } | { engine: 'postgres'; url: string };

export function parseDatabaseUrl(url: string): ParsedDatabaseUrl {
  if (url.startsWith('sqlite:')) {
    const raw = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!raw) throw new Error('sqlite URL needs a path: sqlite:<path>');
    return { engine: 'sqlite', path: raw === ':memory:' ? raw : resolve(raw) };
  }
  if (/^postgres(ql)?:\/\//.test(url)) return { engine: 'postgres', url };
  throw new Error('database URL must be sqlite:<path> or postgres://…');
}

/** The URL with any password replaced, for logs and error messages. */
export function redactDatabaseUrl(url: string): string {
  if (!/^postgres(ql)?:\/\//.test(url)) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://…';
  }
}
