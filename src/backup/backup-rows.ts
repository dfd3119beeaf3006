import type { DataSource } from 'typeorm';
import { parseNewestFirstCursor, encodeCursor } from '../common/pagination';
import type { BackupView } from './backup.view';

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

/** A catalog row as the drivers answer it (SQLite: 0/1 booleans; PostgreSQL: bigint as text). */
export interface BackupRow {
  id: string;
  type: string;
  trigger: string;
  status: string;
  schedule_id: string | null;
  description: string | null;
  tags: string | null;
  pinned: boolean | number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  size_bytes: number | string;
  row_count: number | string;
  tables: string | null;
  files: string | null;
  compression: string;
  encrypted: boolean | number;
  key_id: string | null;
  checksum: string | null;
  verified_at: string | null;
  error: string | null;
  progress: string | null;
}

/** The columns of the backup resource (API.md), never the large inventory/exclusions. */
export const BACKUP_VIEW_COLUMNS = [
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
]
  .map((c) => `"${c}"`)
  .join(', ');

/** The view's fallbacks for JSON columns that hold NULL (as jsonText's `from` answers them). */
const EMPTY_ARRAY = '[]';
const EMPTY_FILES = '{"count":0,"bytes":0}';

const str = JSON.stringify;
const bool = (v: boolean | number): string => (v ? 'true' : 'false');
const num = (v: number | string): string => str(Number(v));
const jsonOr = (v: string | null, fallback: string): string => (v === null || v === undefined ? fallback : v);

function progressJson(r: BackupRow): string {
  if (r.progress !== null && r.progress !== undefined && r.progress !== 'null') return r.progress;
  return `{"phase":${str(r.status)},"tablesDone":0,"tablesTotal":0,"rows":0,"bytes":0}`;
}

/** One backup as JSON text, in toBackupView's key order. */
export function backupRowJson(r: BackupRow): string {
  return (
    `{"id":${str(r.id)},"type":${str(r.type)},"trigger":${str(r.trigger)},"status":${str(r.status)}` +
    `,"scheduleId":${str(r.schedule_id)},"description":${str(r.description)},"tags":${jsonOr(r.tags, EMPTY_ARRAY)}` +
    `,"pinned":${bool(r.pinned)},"createdAt":${str(r.created_at)},"startedAt":${str(r.started_at)}` +
    `,"finishedAt":${str(r.finished_at)},"sizeBytes":${num(r.size_bytes)},"rowCount":${num(r.row_count)}` +
    `,"tables":${jsonOr(r.tables, EMPTY_ARRAY)},"files":${jsonOr(r.files, EMPTY_FILES)}` +
    `,"compression":${str(r.compression)},"encrypted":${bool(r.encrypted)},"keyId":${str(r.key_id)}` +
    `,"checksum":${str(r.checksum)},"verifiedAt":${str(r.verified_at)},"error":${str(r.error)}` +
    `,"progress":${progressJson(r)}}`
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
  const rows = (await ds.query(sql, params)) as BackupRow[];
  const n = Math.min(rows.length, limit);
  let items = '';
  for (let i = 0; i < n; i++) items += (i ? ',' : '') + backupRowJson(rows[i]);
  const last = rows[n - 1];
  const next = rows.length > limit && last ? encodeCursor([last.created_at, last.id]) : null;
  return `{"items":[${items}],"nextCursor":${str(next)}}`;
}
