/**
 * Connection helpers shared by every PostgreSQL code path. COPY text output depends on
 * session settings (DateStyle, TimeZone, float digits...), so every connection that reads
 * or writes row data pins them: the same rows then always encode to the same bytes.
 */
import type { Client } from 'pg';
import { pgDriver } from './pg-driver';

export const SESSION_SETTINGS: ReadonlyArray<[string, string]> = [
  ['client_encoding', 'UTF8'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['TimeZone', 'UTC'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  // A synchronized scan may start mid-table, which would reorder tables without a key.
  ['synchronize_seqscans', 'off'],
  // Backups and restores legitimately run long; server defaults must not cut them off.
  ['statement_timeout', '0'],
  ['idle_in_transaction_session_timeout', '0'],
  // Maintenance may make the target read-only for new sessions (pg-read-only.ts); a restore's own must still write.
  ['default_transaction_read_only', 'off'],
];

export async function connect(url: string, applicationName = 'strongroom'): Promise<Client> {
  const client = new (pgDriver().Client)({ connectionString: url, application_name: applicationName });
  // An idle client whose socket dies emits 'error'; without a listener that would crash the process.
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`cannot connect to PostgreSQL at ${describeUrl(url)}: ${(err as Error).message}`);
  }
  const sets = SESSION_SETTINGS.map(([k, v]) => `SET ${k} = ${quoteLiteral(v)}`).join('; ');
  await client.query(sets);
  return client;
}

/** Closes a client even when it is stuck in a COPY: ending politely would wait forever. */
export function destroyClient(client: Client): void {
  const conn = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
  conn?.stream?.destroy();
  client.end().catch(() => undefined);
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

export function quoteLiteral(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/**
 * Table and sequence names as Strongroom shows and records them: bare for schema `public` (as
 * before there were other schemas, so older backups and requests keep their meaning),
 * `schema.name` elsewhere. A public name that could read as qualified keeps its `public.`, and
 * a schema whose name holds a dot or starts with a quote is written quoted.
 */
export function displayName(schema: string, rel: string): string {
  if (schema === 'public' && !rel.includes('.') && !rel.startsWith('"')) return rel;
  if (!schema.includes('.') && !schema.startsWith('"')) return `${schema}.${rel}`;
  return `${quoteIdent(schema)}.${rel}`;
}

/** The SQL twin of displayName, over aliases of pg_namespace and pg_class. */
export function displayNameSql(n: string, c: string): string {
  return `(CASE WHEN ${n}.nspname = 'public' AND strpos(${c}.relname, '.') = 0 AND left(${c}.relname, 1) <> '"' THEN ${c}.relname::text
    WHEN strpos(${n}.nspname, '.') = 0 AND left(${n}.nspname, 1) <> '"' THEN ${n}.nspname || '.' || ${c}.relname
    ELSE '"' || replace(${n}.nspname, '"', '""') || '".' || ${c}.relname END)`;
}

/** The inverse of displayName. */
export function splitName(name: string): { schema: string; rel: string } {
  if (name.startsWith('"')) {
    let i = 1;
    let schema = '';
    while (i < name.length) {
      if (name[i] === '"') {
        if (name[i + 1] === '"') {
          schema += '"';
          i += 2;
          continue;
        }
        break;
      }
      schema += name[i++];
    }
    if (name[i + 1] === '.') return { schema, rel: name.slice(i + 2) };
    return { schema: 'public', rel: name };
  }
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: 'public', rel: name } : { schema: name.slice(0, dot), rel: name.slice(dot + 1) };
}

/** A recorded table name as SQL; always quoted so case and symbols survive. */
export function qualify(table: string): string {
  const { schema, rel } = splitName(table);
  return `${schema === 'public' ? 'public' : quoteIdent(schema)}.${quoteIdent(rel)}`;
}

/** host:port/db for messages; never the password. */
export function describeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparsable database URL)';
  }
}

/** A URL without its password plus the env that carries it, for child processes (pg_dump). */
export function childConnection(url: string): { url: string; env: Record<string, string> } {
  const u = new URL(url);
  const env: Record<string, string> = {};
  if (u.password) env.PGPASSWORD = decodeURIComponent(u.password);
  u.password = '';
  return { url: u.toString(), env };
}
