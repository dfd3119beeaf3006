/**
 * Proof that a restore committed, kept in the target itself: the restore's own transaction
 * inserts a row naming the recovery into a small Strongroom table, so the row exists exactly
 * when the restored data does. After a crash between that commit and the catalog update,
 * the row says what really happened. The table is Strongroom's (prefix `strongroom_`): never
 * backed up, never introspected as user data.
 */
import { beginImmediate, openConnection, type SqliteDb, type SqliteDialectOptions } from './sqlite-connection';

export const COMMIT_MARKER_TABLE = 'strongroom_restore_commits';
// Markers only matter until the recovery's outcome is recorded; old ones are pruned on the way.
const KEEP_MARKERS_MS = 90 * 86_400_000;

/** Inside the restore's transaction, just before its COMMIT. */
export function writeCommitMarker(db: SqliteDb, recoveryId: string): void {
  db.exec(
    `CREATE TABLE IF NOT EXISTS main.${COMMIT_MARKER_TABLE} (recovery_id TEXT PRIMARY KEY NOT NULL, committed_at TEXT NOT NULL)`,
  );
  const now = Date.now();
  db.prepare(`DELETE FROM main.${COMMIT_MARKER_TABLE} WHERE committed_at < ?`).run(
    new Date(now - KEEP_MARKERS_MS).toISOString(),
  );
  db.prepare(`INSERT OR REPLACE INTO main.${COMMIT_MARKER_TABLE} (recovery_id, committed_at) VALUES (?, ?)`).run(
    recoveryId,
    new Date(now).toISOString(),
  );
}

/**
 * Whether the restore of `recoveryId` committed. It takes the write lock first: a restore
 * still under way (its process alive but cut off) holds it, and its outcome is not known
 * until it ends; then this throws (busy) and the caller asks again later.
 */
export async function readCommitMarker(
  path: string,
  recoveryId: string,
  opts: SqliteDialectOptions = {},
): Promise<boolean> {
  const db = openConnection(path, opts);
  try {
    await beginImmediate(db, opts);
    try {
      const table = db
        .prepare(`SELECT 1 FROM main.sqlite_master WHERE type = 'table' AND name = ?`)
        .get(COMMIT_MARKER_TABLE);
      if (!table) return false;
      return !!db.prepare(`SELECT 1 FROM main.${COMMIT_MARKER_TABLE} WHERE recovery_id = ?`).get(recoveryId);
    } finally {
      db.exec('ROLLBACK');
    }
  } finally {
    db.close();
  }
}
