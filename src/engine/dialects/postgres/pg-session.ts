/**
 * Connection helpers shared by every PostgreSQL code path. COPY text output depends on
 * session settings (DateStyle, TimeZone, float digits...), so every connection that reads
 * or writes row data pins them: the same rows then always encode to the same bytes.
 */
import { Client } from 'pg';

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
];

export async function connect(url: string, applicationName = 'strongroom'): Promise<Client> {
  const client = new Client({ connectionString: url, application_name: applicationName });
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

/** Tables live in schema `public`; names are always quoted so case and symbols survive. */
export function qualify(table: string): string {
  return `public.${quoteIdent(table)}`;
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
