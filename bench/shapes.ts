/**
 * The data shapes of the benchmark (issue 17): users bring more than one kind of data, and a
 * tool can be fast on one and slow on another. Each shape is about 1 GB in PostgreSQL at
 * scale 1, seeded deterministically from the run's seed, with an equivalent SQLite file.
 * `--shapes a` (the default) is the original application dataset (bench/dataset.ts).
 */
import { seedPostgres, seedSqlite } from './dataset';
import { seedPostgresShape, type Counts, type PgShapeId } from './shapes-pg';
import { seedSqliteShape } from './shapes-sqlite';

export type ShapeId = 'a' | PgShapeId;
export const SHAPE_IDS: readonly ShapeId[] = ['a', 'b', 'c', 'd', 'e', 'f'];

export interface Shape {
  id: ShapeId;
  /** A few words, for headings. */
  title: string;
  /** What the data is, for the report. */
  description: string;
  seedPostgres(url: string, scale: number, seed: number): Promise<Counts>;
  seedSqlite(path: string, scale: number, seed: number): Counts;
  /**
   * Statements that make a copy of the seeded database "newer" than its backup, for the
   * restores over live data: some rows changed, some deleted, some added.
   */
  liveChanges: string[];
  /** Why the archive-size goal says little on this shape, where it does not. */
  sizeCaveat?: string;
}

const pgShape =
  (id: PgShapeId) =>
  (url: string, scale: number, seed: number): Promise<Counts> =>
    seedPostgresShape(url, id, scale, seed);
const sqliteShape =
  (id: PgShapeId) =>
  (path: string, scale: number, seed: number): Counts =>
    seedSqliteShape(path, id, scale, seed);

export const SHAPES: Record<ShapeId, Shape> = {
  a: {
    id: 'a',
    title: 'application dataset',
    description:
      'projects, tasks (200–2000 characters of word-like text, enum status, tag arrays, two indexes), comments and an ' +
      'audit table with ~300-byte JSON payloads; foreign keys tasks → projects and comments → tasks',
    seedPostgres: async (url, scale, seed) => ({ ...(await seedPostgres(url, { scale, seed })) }),
    seedSqlite: (path, scale, seed) => ({ ...seedSqlite(path, { scale, seed }) }),
    liveChanges: [
      `UPDATE tasks SET status = 'done', updated_at = now() WHERE id % 100 = 0`,
      `DELETE FROM comments WHERE id % 50 = 0`,
      `INSERT INTO app_audit (at, actor, action, payload) SELECT now(), 'bench', 'later', '{}' FROM generate_series(1, 100)`,
    ],
  },
  b: {
    id: 'b',
    title: 'text-heavy',
    description:
      'articles with a one-sentence title, a summary paragraph and a body of 1–8 paragraphs of word-like text ' +
      '(≈2 KB, so PostgreSQL TOASTs and compresses many of them), authors; btree indexes on author, date and title, ' +
      'a foreign key to authors',
    seedPostgres: pgShape('b'),
    seedSqlite: sqliteShape('b'),
    liveChanges: [
      `UPDATE articles SET title = title || ' (edited)' WHERE id % 100 = 0`,
      `DELETE FROM articles WHERE id % 97 = 0`,
    ],
  },
  c: {
    id: 'c',
    title: 'JSONB-heavy',
    description:
      'order events whose payload is a nested JSONB document (customer, 1–7 line items, tags, metadata, ≈1 KB); ' +
      'a GIN index on the payload and three expression indexes into it (SQLite: JSON text with json_extract ' +
      'expression indexes, no GIN)',
    seedPostgres: pgShape('c'),
    seedSqlite: sqliteShape('c'),
    liveChanges: [
      `UPDATE events SET payload = payload || '{"edited": true}' WHERE id % 100 = 0`,
      `DELETE FROM events WHERE id % 97 = 0`,
    ],
  },
  d: {
    id: 'd',
    title: 'numeric time series',
    description:
      'about 11 million narrow readings (sensor, timestamp, double, smallint) in time order from 1,000 sensors ' +
      '(SQLite: 26 million, its rows being smaller); ' +
      'a btree primary key (sensor, time), a BRIN index on time, a foreign key to sensors',
    seedPostgres: pgShape('d'),
    seedSqlite: sqliteShape('d'),
    liveChanges: [`UPDATE readings SET quality = 9 WHERE sensor_id = 3`, `DELETE FROM readings WHERE sensor_id = 4`],
  },
  e: {
    id: 'e',
    title: 'bytea/blob-heavy',
    description:
      'files of 1–33 KiB in a bytea column: nine in ten pseudo-random bytes (incompressible), one in ten text',
    seedPostgres: pgShape('e'),
    seedSqlite: sqliteShape('e'),
    liveChanges: [`UPDATE files SET name = name || '.old' WHERE id % 100 = 0`, `DELETE FROM files WHERE id % 97 = 0`],
    sizeCaveat:
      'mostly incompressible: any archive is about the data size, so the size ratio mostly compares encodings ' +
      '(our COPY text escapes bytea as hex, pg_dump -Fc compresses the same text with gzip)',
  },
  f: {
    id: 'f',
    title: 'many small tables',
    description:
      '500 tables of 1,900–95,000 rows (rows fall off like 1/k in blocks of 50), each but the first with a ' +
      'foreign key to an earlier one and an index on it: per-object costs dominate',
    seedPostgres: pgShape('f'),
    seedSqlite: sqliteShape('f'),
    liveChanges: [`UPDATE t250 SET qty = qty + 1 WHERE id % 10 = 0`, `DELETE FROM t500 WHERE id % 10 = 0`],
  },
};

/** `--shapes a,b` or `all`; the default is today's single dataset, so the plain command keeps its meaning. */
export function parseShapes(arg: string | undefined): Shape[] {
  if (arg === undefined) return [SHAPES.a];
  const ids = arg === 'all' ? [...SHAPE_IDS] : arg.split(',').map((s) => s.trim().toLowerCase());
  const unknown = ids.filter((id) => !(SHAPE_IDS as readonly string[]).includes(id));
  if (unknown.length || ids.length === 0)
    throw new Error(`--shapes: unknown shape(s) ${unknown.join(', ') || '(none)'} (use a,b,c,d,e,f or all)`);
  return [...new Set(ids)].map((id) => SHAPES[id as ShapeId]);
}
