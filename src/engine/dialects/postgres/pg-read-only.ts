import { connect, quoteIdent } from './pg-session';

/**
 * Makes new sessions of a database read-only (ALTER DATABASE … SET
 * default_transaction_read_only), or takes that back (RESET). Sessions already open keep what
 * they had; Strongroom's own sessions set it off for themselves (pg-session.ts), so a restore
 * still writes. Needs the database's owner or a superuser.
 */
export async function setDatabaseReadOnly(url: string, on: boolean): Promise<void> {
  const client = await connect(url, 'strongroom-maintenance');
  try {
    const { rows } = await client.query<{ db: string }>('SELECT current_database() AS db');
    const db = quoteIdent(rows[0].db);
    await client.query(
      on
        ? `ALTER DATABASE ${db} SET default_transaction_read_only = on`
        : `ALTER DATABASE ${db} RESET default_transaction_read_only`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
}
