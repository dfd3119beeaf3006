/**
 * Whether a restore committed, from PostgreSQL itself: the restore hands out its transaction
 * id before it writes anything (the caller keeps it), and `txid_status` answers for it
 * after a crash. Nothing is written into the user's database for this.
 */
import type { Client } from 'pg';
import { connect } from './pg-session';

/** Inside the restore's transaction, before it writes: assigns and returns its transaction id. */
export async function transactionToken(c: Client): Promise<string> {
  const { rows } = await c.query<{ xid: string }>(`SELECT txid_current()::text AS xid`);
  return rows[0].xid;
}

const SETTLE_TRIES = 40;
const SETTLE_WAIT_MS = 250;

/**
 * True when the transaction committed, false when it aborted (or never began), null when
 * PostgreSQL no longer knows (too old). A transaction still in progress belongs to a restore
 * whose owner is gone or cut off (it is only asked then): its backend is terminated so it can
 * never commit later, and the answer is read once it has rolled back.
 */
export async function transactionCommitted(url: string, token: string | null): Promise<boolean | null> {
  if (!token) return false;
  const c = await connect(url, 'strongroom-reconcile');
  try {
    for (let i = 0; ; i++) {
      const { rows } = await c.query<{ s: string | null }>(`SELECT txid_status($1::bigint) AS s`, [token]);
      const status = rows[0].s;
      if (status === 'committed') return true;
      if (status === 'aborted') return false;
      if (status === null) return null;
      if (i >= SETTLE_TRIES) throw new Error(`restore transaction ${token} is still in progress`);
      await c.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_xid::text = ($1::bigint % 4294967296)::text`,
        [token],
      );
      await new Promise((r) => setTimeout(r, SETTLE_WAIT_MS));
    }
  } finally {
    await c.end().catch(() => undefined);
  }
}
