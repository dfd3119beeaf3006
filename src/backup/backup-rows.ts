import { QueryFailedError, type DataSource } from 'typeorm';
import { parseNewestFirstCursor, encodeCursor } from '../common/pagination';
import type { BackupProgressView } from './backup.entity';
import { progressView, type BackupView } from './backup.view';

/**
 * The catalog's hot reads (GET /api/backups, GET /api/status) without TypeORM's query builder
 * and entity hydration, which profiles showed as a third of a list request's CPU: plain
 * parameterised SQL through the data source, and rows written straight to the JSON that
 * `JSON.stringify(toBackupView(entity))` would produce, byte for byte (backup-rows.spec.ts
 * holds the two side by side). Everything else keeps using the entity.
 *
 * The JSON columns (tags, tables, files, progress) are spliced in as stored: they are only
 * ever written by `jsonText` (database/columns.ts), i.e. as `JSON.stringify` output, so
 * parsing and re-serializing them would give back the same text at a cost.
 */

/** The columns of the backup resource (API.md), never the large inventory/exclusions. */
const COLUMNS = [
  'id',
  'type',
  'trigger',
  'status',
  'schedule_id',
  'description',
  'tags',
  'pinned',
  'created_at',
  'started_at',
  'finished_at',
  'size_bytes',
  'row_count',
  'tables',
  'files',
  'compression',
  'encrypted',
  'key_id',
  'checksum',
  'verified_at',
  'error',
  'progress',
  'offsite_status',
  'offsite_at',
  'offsite_attempts',
  'offsite_error',
  'offsite_next_at',
  'scope',
] as const;

export const BACKUP_VIEW_COLUMNS = COLUMNS.map((c) => `"${c}"`).join(', ');

/** A column's position in a row selected with BACKUP_VIEW_COLUMNS. */
export const COL = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as { [K in (typeof COLUMNS)[number]]: number };

/**
 * A catalog row as an array in BACKUP_VIEW_COLUMNS order, as the drivers answer it: strings
 * and nulls; SQLite 0/1 for booleans and numbers for bigints, PostgreSQL booleans and bigints
 * as text. Arrays, not objects: better-sqlite3 spent twice as long building a 22-key object
 * per row as reading the row.
 */
export type BackupRow = readonly unknown[];

/** The view's fallbacks for JSON columns that hold NULL (as jsonText's `from` answers them). */
const EMPTY_ARRAY = '[]';
const EMPTY_FILES = '{"count":0,"bytes":0}';

const str = (v: unknown): string => JSON.stringify(v ?? null);
const bool = (v: unknown): string => (v ? 'true' : 'false');
const num = (v: unknown): string => JSON.stringify(Number(v));
const jsonOr = (v: unknown, fallback: string): string => (v === null || v === undefined ? fallback : (v as string));

/** Progress through the view's own function (small; its byte fields get their defaults there). */
function progressJson(r: BackupRow): string {
  const p = r[COL.progress];
  const stored = p !== null && p !== undefined && p !== 'null' ? (JSON.parse(p as string) as BackupProgressView) : null;
  return JSON.stringify(progressView(stored, r[COL.status] as string));
}

function offsiteJson(r: BackupRow): string {
  return (
    `{"status":${str(r[COL.offsite_status])},"at":${str(r[COL.offsite_at])}` +
    `,"attempts":${num(r[COL.offsite_attempts] ?? 0)},"error":${str(r[COL.offsite_error])}` +
    `,"nextAttemptAt":${str(r[COL.offsite_next_at])}}`
  );
}

/** One backup as JSON text, in toBackupView's key order. */
export function backupRowJson(r: BackupRow): string {
  return (
    `{"id":${str(r[COL.id])},"type":${str(r[COL.type])},"trigger":${str(r[COL.trigger])}` +
    `,"status":${str(r[COL.status])},"scheduleId":${str(r[COL.schedule_id])}` +
    `,"description":${str(r[COL.description])},"tags":${jsonOr(r[COL.tags], EMPTY_ARRAY)}` +
    `,"pinned":${bool(r[COL.pinned])},"createdAt":${str(r[COL.created_at])},"startedAt":${str(r[COL.started_at])}` +
    `,"finishedAt":${str(r[COL.finished_at])},"sizeBytes":${num(r[COL.size_bytes])}` +
    `,"rowCount":${num(r[COL.row_count])},"tables":${jsonOr(r[COL.tables], EMPTY_ARRAY)}` +
    `,"files":${jsonOr(r[COL.files], EMPTY_FILES)},"compression":${str(r[COL.compression])}` +
    `,"encrypted":${bool(r[COL.encrypted])},"keyId":${str(r[COL.key_id])},"checksum":${str(r[COL.checksum])}` +
    `,"verifiedAt":${str(r[COL.verified_at])},"error":${str(r[COL.error])},"progress":${progressJson(r)}` +
    `,"offsite":${offsiteJson(r)},"scope":${jsonOr(r[COL.scope], 'null')}}`
  );
}

/** One backup as the view object (for answers that are not written as text, e.g. the status). */
export function backupRowView(r: BackupRow): BackupView {
  return JSON.parse(backupRowJson(r)) as BackupView;
}

export interface BackupListFilter {
  status?: string;
  type?: string;
  trigger?: string;
  tag?: string;
  from?: string;
  to?: string;
}

interface RawStatement {
  raw(on: boolean): RawStatement;
  all(...params: unknown[]): unknown[][];
}
interface SqliteConnection {
  prepare(sql: string): RawStatement;
}

/** Prepared statements per SQLite connection; the SQL texts are few (filter combinations). */
const statements = new WeakMap<SqliteConnection, Map<string, RawStatement>>();
const MAX_STATEMENTS = 500;

/**
 * Rows as arrays in the SELECT's column order, through the data source's own connection.
 * SQLite: the statement prepared once and read in better-sqlite3's raw (array) mode; it is the
 * connection TypeORM's queries use, so it sees what they see. PostgreSQL: the data source's
 * query (pg's row objects keep the SELECT's order).
 */
export async function selectRows(ds: DataSource, sql: string, params: unknown[]): Promise<BackupRow[]> {
  if (ds.options.type === 'postgres') {
    const rows = (await ds.query(sql, params)) as Record<string, unknown>[];
    return rows.map((r) => Object.values(r));
  }
  const db = (ds.driver as unknown as { databaseConnection: SqliteConnection }).databaseConnection;
  let cache = statements.get(db);
  if (!cache) statements.set(db, (cache = new Map<string, RawStatement>()));
  try {
    let stmt = cache.get(sql);
    if (!stmt) {
      stmt = db.prepare(sql).raw(true);
      if (cache.size >= MAX_STATEMENTS) cache.clear();
      cache.set(sql, stmt);
    }
    return stmt.all(...params);
  } catch (e) {
    // As TypeORM reports a failed query, so errors are classified alike (database-unavailable.ts).
    throw new QueryFailedError(sql, params, e as Error);
  }
}

/** `?` for SQLite, `$n` for PostgreSQL. */
export function placeholders(ds: DataSource): (n: number) => string {
  return ds.options.type === 'postgres' ? (n) => `$${n}` : () => '?';
}

/**
 * A page of the list as JSON text: `{"items":[...],"nextCursor":...}`, newest first, keyset
 * pagination over (created_at, id) exactly as common/pagination.ts hands cursors out (one
 * validation for both). Filters as BackupCatalogService always applied them.
 */
export async function listBackupsJson(
  ds: DataSource,
  f: BackupListFilter,
  limit: number,
  cursor: string | undefined,
): Promise<string> {
  const p = placeholders(ds);
  const where: string[] = [];
  const params: unknown[] = [];
  /** Binds a value and answers its placeholder. */
  const arg = (v: unknown): string => {
    params.push(v);
    return p(params.length);
  };
  if (f.status) where.push(`"status" = ${arg(f.status)}`);
  if (f.type) where.push(`"type" = ${arg(f.type)}`);
  if (f.trigger) where.push(`"trigger" = ${arg(f.trigger)}`);
  // Tags are stored as a JSON array; match the quoted element.
  if (f.tag) where.push(`"tags" LIKE ${arg(`%${JSON.stringify(f.tag).replace(/[%_]/g, '')}%`)}`);
  if (f.from) where.push(`"created_at" >= ${arg(new Date(f.from).toISOString())}`);
  if (f.to) where.push(`"created_at" <= ${arg(new Date(f.to).toISOString())}`);
  const c = parseNewestFirstCursor(cursor);
  if (c) {
    // The leading `created_at <=` is implied by the rest; it lets both engines seek the
    // (created_at, id) index to the cursor instead of filtering every newer row on the way.
    where.push(
      `("created_at" <= ${arg(c[0])} AND ("created_at" < ${arg(c[0])} OR ("created_at" = ${arg(c[0])} AND "id" < ${arg(c[1])})))`,
    );
  }
  const sql =
    `SELECT ${BACKUP_VIEW_COLUMNS} FROM "strongroom_backups"` +
    (where.length ? ` WHERE ${where.join(' AND ')}` : '') +
    ` ORDER BY "created_at" DESC, "id" DESC LIMIT ${arg(limit + 1)}`;
  const rows = await selectRows(ds, sql, params);
  const n = Math.min(rows.length, limit);
  let items = '';
  for (let i = 0; i < n; i++) items += (i ? ',' : '') + backupRowJson(rows[i]);
  const last = rows[n - 1];
  const next =
    rows.length > limit && last ? encodeCursor([last[COL.created_at] as string, last[COL.id] as string]) : null;
  return `{"items":[${items}],"nextCursor":${str(next)}}`;
}
