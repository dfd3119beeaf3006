/**
 * A deterministic application database for benchmarks and the sample walkthrough: projects,
 * tasks (word-like text, enum status, tag arrays), comments and an audit table with JSON
 * payloads. The same seed and scale give the same rows on every machine. Scale 1.0 is about
 * 1 GB on disk in PostgreSQL. Rows are generated while they are written (COPY on PostgreSQL,
 * prepared inserts in transactions on SQLite), so memory does not grow with the scale.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { deriveSeed, Prng, vocabulary, words } from './prng';

export const DEFAULT_SEED = 20240601;
export const DATASET_TABLES = ['projects', 'tasks', 'comments', 'app_audit'] as const;
export type DatasetTable = (typeof DATASET_TABLES)[number];
export type DatasetCounts = Record<DatasetTable, number>;

/** Rows per table at scale 1.0, calibrated so that PostgreSQL reports about 1 GB. */
const ROWS_AT_SCALE_1: DatasetCounts = { projects: 2_000, tasks: 380_000, comments: 850_000, app_audit: 300_000 };

export function datasetCounts(scale: number): DatasetCounts {
  if (!(scale > 0) || !Number.isFinite(scale)) throw new Error(`dataset scale must be a positive number, got ${scale}`);
  const n = (t: DatasetTable) => Math.max(1, Math.round(ROWS_AT_SCALE_1[t] * scale));
  return { projects: n('projects'), tasks: n('tasks'), comments: n('comments'), app_audit: n('app_audit') };
}

/** One generated value: text, number, SQL NULL, or a text array (tags). */
export type Value = string | number | null | string[];

export const COLUMNS: Record<DatasetTable, string[]> = {
  projects: ['id', 'name', 'owner_email', 'budget', 'created_at', 'settings'],
  tasks: [
    'id',
    'project_id',
    'title',
    'description',
    'status',
    'priority',
    'due_date',
    'tags',
    'created_at',
    'updated_at',
  ],
  comments: ['id', 'task_id', 'author_email', 'body', 'created_at'],
  app_audit: ['id', 'at', 'actor', 'action', 'payload'],
};

export const TASK_STATUSES = ['todo', 'in_progress', 'review', 'done', 'archived'] as const;
const TAGS = [
  'backend',
  'frontend',
  'bug',
  'feature',
  'urgent',
  'ops',
  'docs',
  'design',
  'security',
  'billing',
  'mobile',
  'infra',
];
const ACTIONS = [
  'login',
  'logout',
  'project.create',
  'project.update',
  'task.create',
  'task.update',
  'task.close',
  'comment.create',
  'export',
];
const DOMAINS = ['example.com', 'example.org', 'acme.test', 'initech.test'];
const EPOCH = Date.UTC(2022, 0, 1);
const TWO_YEARS_MS = 2 * 365 * 24 * 3600 * 1000;

function isoAt(rng: Prng, from = EPOCH, span = TWO_YEARS_MS): { ms: number; iso: string } {
  const ms = from + Math.floor(rng.next() * span);
  return { ms, iso: new Date(ms).toISOString() };
}

function email(rng: Prng, vocab: readonly string[]): string {
  return `${vocab[rng.int(12, 900)]}.${vocab[rng.int(12, 900)]}@${rng.pick(DOMAINS)}`;
}

/** The rows of one table, in id order, generated lazily. */
export function* datasetRows(table: DatasetTable, scale: number, seed = DEFAULT_SEED): Generator<Value[]> {
  const counts = datasetCounts(scale);
  const vocab = vocabulary(seed);
  const rng = new Prng(deriveSeed(seed, table));
  const count = counts[table];
  for (let id = 1; id <= count; id++) {
    switch (table) {
      case 'projects': {
        const settings = {
          visibility: rng.pick(['private', 'team', 'public']),
          notifications: { email: rng.next() < 0.7, digest: rng.pick(['daily', 'weekly', 'never']) },
          labels: [rng.pick(TAGS), rng.pick(TAGS)],
        };
        yield [
          id,
          words(rng, vocab, 8, 40),
          email(rng, vocab),
          (rng.int(0, 50_000_000) / 100).toFixed(2),
          isoAt(rng).iso,
          JSON.stringify(settings),
        ];
        break;
      }
      case 'tasks': {
        const created = isoAt(rng);
        const updated = isoAt(rng, created.ms, 90 * 24 * 3600 * 1000);
        const due =
          rng.next() < 0.3 ? null : new Date(created.ms + rng.int(1, 120) * 86_400_000).toISOString().slice(0, 10);
        const tags = Array.from({ length: rng.int(0, 4) }, () => rng.pick(TAGS));
        yield [
          id,
          rng.int(1, counts.projects),
          words(rng, vocab, 12, 80),
          words(rng, vocab, 200, 2000),
          rng.pick(TASK_STATUSES),
          rng.int(1, 5),
          due,
          tags,
          created.iso,
          updated.iso,
        ];
        break;
      }
      case 'comments':
        yield [id, rng.int(1, counts.tasks), email(rng, vocab), words(rng, vocab, 20, 600), isoAt(rng).iso];
        break;
      case 'app_audit': {
        const payload = {
          ip: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
          userAgent: `Mozilla/5.0 (${rng.pick(['X11; Linux x86_64', 'Macintosh; Intel Mac OS X 14_4', 'Windows NT 10.0; Win64; x64'])})`,
          requestId: rng.next().toString(16).slice(2, 14) + rng.next().toString(16).slice(2, 14),
          target: { type: rng.pick(['project', 'task', 'comment']), id: rng.int(1, counts.tasks) },
          changes: { field: rng.pick(['title', 'status', 'priority', 'due_date']), note: words(rng, vocab, 60, 140) },
        };
        // Audit rows arrive in time order, like a real append-only log.
        const at = new Date(EPOCH + Math.floor((id / count) * TWO_YEARS_MS)).toISOString();
        yield [id, at, email(rng, vocab), rng.pick(ACTIONS), JSON.stringify(payload)];
        break;
      }
    }
  }
}

// ---------------------------------------------------------------- PostgreSQL

export const PG_TABLES_DDL = `
CREATE TYPE task_status AS ENUM (${TASK_STATUSES.map((s) => `'${s}'`).join(', ')});
CREATE TABLE projects (
  id serial PRIMARY KEY, name text NOT NULL, owner_email text NOT NULL, budget numeric(12, 2),
  created_at timestamptz NOT NULL, settings jsonb NOT NULL DEFAULT '{}');
CREATE TABLE tasks (
  id bigserial PRIMARY KEY, project_id integer NOT NULL, title text NOT NULL, description text,
  status task_status NOT NULL DEFAULT 'todo', priority smallint NOT NULL, due_date date,
  tags text[] NOT NULL DEFAULT '{}', created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL);
CREATE TABLE comments (
  id bigserial PRIMARY KEY, task_id bigint NOT NULL, author_email text NOT NULL, body text NOT NULL,
  created_at timestamptz NOT NULL);
CREATE TABLE app_audit (
  id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL, actor text NOT NULL,
  action text NOT NULL, payload jsonb NOT NULL);
`;

/** Indexes and foreign keys come after the load: building them once is far faster than per row. */
export const PG_CONSTRAINTS_DDL = `
ALTER TABLE tasks ADD CONSTRAINT tasks_project_id_fkey FOREIGN KEY (project_id) REFERENCES projects(id);
ALTER TABLE comments ADD CONSTRAINT comments_task_id_fkey FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE;
CREATE INDEX tasks_project_id_idx ON tasks (project_id);
CREATE INDEX tasks_status_idx ON tasks (status);
CREATE INDEX comments_task_id_idx ON comments (task_id);
CREATE INDEX app_audit_at_idx ON app_audit (at);
`;

const PG_SEQUENCES: Array<[DatasetTable, string]> = [
  ['projects', `pg_get_serial_sequence('projects', 'id')`],
  ['tasks', `pg_get_serial_sequence('tasks', 'id')`],
  ['comments', `pg_get_serial_sequence('comments', 'id')`],
  ['app_audit', `pg_get_serial_sequence('app_audit', 'id')`],
];

/** COPY text format: backslash, tab, newline and carriage return are escaped. */
function copyText(s: string): string {
  return /[\\\t\n\r]/.test(s)
    ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c] as string)
    : s;
}

function pgArray(items: string[]): string {
  return `{${items.map((i) => `"${i.replace(/["\\]/g, (c) => `\\${c}`)}"`).join(',')}}`;
}

export function copyLine(row: Value[]): string {
  return (
    row
      .map((v) =>
        v === null ? '\\N' : typeof v === 'number' ? String(v) : Array.isArray(v) ? copyText(pgArray(v)) : copyText(v),
      )
      .join('\t') + '\n'
  );
}

/** A readable of COPY text that produces rows only as fast as the database takes them. */
function copySource(table: DatasetTable, scale: number, seed: number, onRows?: (n: number) => void): Readable {
  const rows = datasetRows(table, scale, seed);
  let n = 0;
  return new Readable({
    highWaterMark: 256 * 1024,
    read() {
      let chunk = '';
      for (;;) {
        const r = rows.next();
        if (r.done) {
          if (chunk) this.push(chunk);
          this.push(null);
          return;
        }
        chunk += copyLine(r.value);
        if (++n % 10_000 === 0) onRows?.(n);
        if (chunk.length >= 64 * 1024) {
          if (!this.push(chunk)) return;
          chunk = '';
        }
      }
    },
  });
}

export interface SeedOptions {
  scale: number;
  seed?: number;
  onProgress?(table: DatasetTable, rows: number): void;
}

/** Fills an empty PostgreSQL database (schema `public`); refuses one that already has the tables. */
export async function seedPostgres(url: string, opts: SeedOptions): Promise<DatasetCounts> {
  const seed = opts.seed ?? DEFAULT_SEED;
  const counts = datasetCounts(opts.scale);
  const client = new Client({ connectionString: url, application_name: 'strongroom-bench-seed' });
  await client.connect();
  try {
    const existing = await client.query(
      `SELECT 1 FROM pg_class WHERE relname = ANY($1::text[]) AND relnamespace = 'public'::regnamespace`,
      [[...DATASET_TABLES]],
    );
    if (existing.rowCount)
      throw new Error('seeding PostgreSQL: the target database already has dataset tables; use an empty database');
    await client.query(PG_TABLES_DDL);
    for (const table of DATASET_TABLES) {
      try {
        const sink = client.query(copyFrom(`COPY ${table} (${COLUMNS[table].join(', ')}) FROM STDIN`));
        await pipeline(
          copySource(table, opts.scale, seed, (n) => opts.onProgress?.(table, n)),
          sink,
        );
      } catch (err) {
        throw new Error(`seeding PostgreSQL table "${table}" failed: ${(err as Error).message}`);
      }
      opts.onProgress?.(table, counts[table]);
    }
    await client.query(PG_CONSTRAINTS_DDL);
    for (const [table, seq] of PG_SEQUENCES) await client.query(`SELECT setval(${seq}, $1::bigint)`, [counts[table]]);
    await client.query('VACUUM (ANALYZE)');
    return counts;
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------- SQLite

export const SQLITE_TABLES_DDL = `
CREATE TABLE projects (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL, owner_email TEXT NOT NULL, budget NUMERIC,
  created_at TEXT NOT NULL, settings TEXT NOT NULL DEFAULT '{}');
CREATE TABLE tasks (
  id INTEGER PRIMARY KEY AUTOINCREMENT, project_id INTEGER NOT NULL REFERENCES projects(id), title TEXT NOT NULL,
  description TEXT, status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN (${TASK_STATUSES.map((s) => `'${s}'`).join(', ')})),
  priority INTEGER NOT NULL, due_date TEXT, tags TEXT NOT NULL DEFAULT '[]', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
CREATE TABLE comments (
  id INTEGER PRIMARY KEY AUTOINCREMENT, task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
  author_email TEXT NOT NULL, body TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE app_audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL, payload TEXT NOT NULL);
`;

export const SQLITE_INDEXES_DDL = `
CREATE INDEX tasks_project_id_idx ON tasks (project_id);
CREATE INDEX tasks_status_idx ON tasks (status);
CREATE INDEX comments_task_id_idx ON comments (task_id);
CREATE INDEX app_audit_at_idx ON app_audit (at);
`;

function sqliteValue(v: Value): string | number | null {
  return Array.isArray(v) ? JSON.stringify(v) : v;
}

const SQLITE_BATCH = 5_000;

/** Fills a new or empty SQLite file; refuses one that already has the tables. */
export function seedSqlite(path: string, opts: SeedOptions): DatasetCounts {
  const seed = opts.seed ?? DEFAULT_SEED;
  const counts = datasetCounts(opts.scale);
  const db = new Database(path);
  try {
    const existing = db
      .prepare(
        `SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN (${DATASET_TABLES.map(() => '?').join(', ')})`,
      )
      .get(...DATASET_TABLES) as { n: number };
    if (existing.n > 0) throw new Error(`seeding SQLite ${path}: the file already has dataset tables; use a new file`);
    // The service opens its database in WAL mode; seed it that way so nothing has to switch later.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(SQLITE_TABLES_DDL);
    for (const table of DATASET_TABLES) {
      const cols = COLUMNS[table];
      const insert = db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`);
      const rows = datasetRows(table, opts.scale, seed);
      let n = 0;
      let done = false;
      const batch = db.transaction(() => {
        for (let i = 0; i < SQLITE_BATCH; i++) {
          const r = rows.next();
          if (r.done) {
            done = true;
            return;
          }
          insert.run(...r.value.map(sqliteValue));
          n++;
        }
      });
      try {
        while (!done) {
          batch();
          opts.onProgress?.(table, n);
        }
      } catch (err) {
        throw new Error(`seeding SQLite table "${table}" failed: ${(err as Error).message}`);
      }
    }
    db.exec(SQLITE_INDEXES_DDL);
    db.exec('ANALYZE');
    db.pragma('wal_checkpoint(TRUNCATE)');
    return counts;
  } finally {
    db.close();
  }
}
