/**
 * The TOAST compression a restore's rows are written with. PostgreSQL compresses every value
 * over about 2 KB as it stores it, with the session's default_toast_compression unless the
 * column names its own method; pglz, the built-in default, is slow. Loading the text-heavy
 * benchmark shape's 450,000 articles (1 GB) by COPY took 14.5 / 15.4 s with pglz and 8.6 / 6.5 s
 * with lz4, for a table of 958 MB against 902 MB (PostgreSQL 15, two cores, 2026-12-03).
 *
 * So under the `auto` policy (RESTORE_TOAST_COMPRESSION) a restore writes with lz4 when the
 * server was built with it and nobody has chosen a method: the setting still has its built-in
 * value, from no configuration file, ALTER SYSTEM, ALTER DATABASE or ALTER ROLE. A chosen method
 * is kept, as is a column's own (ALTER TABLE ... SET COMPRESSION). Values read back the same
 * either way, and pg_dump prints the same; only pg_column_compression() and the size on disk
 * tell. pg_restore, for comparison, writes with whatever the target server's setting is.
 * `server`: the restore always writes with the server's setting, as pg_restore does.
 */
import type { Queryable } from './pg-catalog';

export type ToastCompressionPolicy = 'auto' | 'server';

export const TOAST_COMPRESSION_POLICIES: readonly ToastCompressionPolicy[] = ['auto', 'server'];

/** The method a restore's sessions should SET, or null to leave the server's own. */
export async function restoreToastCompression(db: Queryable, policy: ToastCompressionPolicy): Promise<string | null> {
  if (policy === 'server') return null;
  // No row before PostgreSQL 14, which has no choice of method.
  const { rows } = await db.query<{ source: string; lz4: boolean }>(
    `SELECT source, 'lz4' = ANY(enumvals) AS lz4 FROM pg_settings WHERE name = 'default_toast_compression'`,
  );
  return rows.length && rows[0].lz4 && rows[0].source === 'default' ? 'lz4' : null;
}
