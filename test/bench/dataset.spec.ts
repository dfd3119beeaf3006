/**
 * The benchmark dataset must be the same on every run and every engine, or numbers from two
 * runs (and a regression's seed) mean nothing. Seeds real SQLite files and real PostgreSQL
 * databases at a tiny scale.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import {
  copyLine,
  DATASET_TABLES,
  datasetCounts,
  datasetRows,
  DEFAULT_SEED,
  seedPostgres,
  seedSqlite,
} from '../../bench/dataset';
import { createPgDatabase, tempDir, TestDatabase, pgQuery } from '../support/databases';

const SCALE = 0.001;

function digestRows(rows: Iterable<unknown[]>): string {
  const h = createHash('sha256');
  for (const r of rows) h.update(JSON.stringify(r)).update('\n');
  return h.digest('hex');
}

/** Content of a table as text, independent of physical order. */
async function pgTableDigest(url: string, table: string): Promise<string> {
  const [r] = await pgQuery<{ d: string }>(
    url,
    `SELECT md5(string_agg(t::text, E'\\n' ORDER BY id)) AS d FROM ${table} t`,
  );
  return r.d;
}

function sqliteTableDigest(path: string, table: string): string {
  const db = new Database(path, { readonly: true });
  try {
    return digestRows(db.prepare(`SELECT * FROM ${table} ORDER BY id`).raw().iterate() as Iterable<unknown[]>);
  } finally {
    db.close();
  }
}

describe('dataset generator', () => {
  it('yields the same rows for the same seed and different rows for another seed', () => {
    for (const table of DATASET_TABLES) {
      const a = digestRows(datasetRows(table, SCALE));
      expect(digestRows(datasetRows(table, SCALE, DEFAULT_SEED))).toBe(a);
      expect(digestRows(datasetRows(table, SCALE, DEFAULT_SEED + 1))).not.toBe(a);
    }
  });

  it('yields exactly the counted rows, with ids 1..n, in-range foreign keys and bounded text', () => {
    const counts = datasetCounts(SCALE);
    expect(counts).toEqual({ projects: 2, tasks: 380, comments: 850, app_audit: 300 });
    const tasks = [...datasetRows('tasks', SCALE)];
    expect(tasks.map((r) => r[0])).toEqual(Array.from({ length: counts.tasks }, (_, i) => i + 1));
    for (const t of tasks) {
      expect(t[1]).toBeGreaterThanOrEqual(1);
      expect(t[1]).toBeLessThanOrEqual(counts.projects);
      expect((t[3] as string).length).toBeGreaterThanOrEqual(200);
      expect((t[3] as string).length).toBeLessThanOrEqual(2000);
    }
    for (const c of datasetRows('comments', SCALE)) expect(c[1]).toBeLessThanOrEqual(counts.tasks);
  });

  it('rejects a scale that is not a positive number', () => {
    expect(() => datasetCounts(0)).toThrow('dataset scale must be a positive number');
    expect(() => datasetCounts(Number.NaN)).toThrow('dataset scale must be a positive number');
  });

  it('escapes COPY text specials, NULL and arrays', () => {
    expect(copyLine([1, null, 'a\tb\\c\nd\re', ['x"y', 'p,q']])).toBe(
      '1\t\\N\ta\\tb\\\\c\\nd\\re\t{"x\\\\"y","p,q"}\n',
    );
  });
});

describe('seeding SQLite', () => {
  const dir = tempDir('strongroom-dataset-');
  afterAll(() => dir.remove());

  it('writes the counted rows, identically twice, and refuses a file that has the tables', () => {
    const a = join(dir.path, 'a.db');
    const b = join(dir.path, 'b.db');
    const counts = seedSqlite(a, { scale: SCALE });
    seedSqlite(b, { scale: SCALE });
    const db = new Database(a, { readonly: true });
    try {
      for (const t of DATASET_TABLES)
        expect((db.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n).toBe(counts[t]);
      expect(db.pragma('foreign_key_check')).toEqual([]);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
    for (const t of DATASET_TABLES) expect(sqliteTableDigest(b, t)).toBe(sqliteTableDigest(a, t));
    expect(() => seedSqlite(a, { scale: SCALE })).toThrow('already has dataset tables');
  });
});

describe('seeding PostgreSQL', () => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  it('writes the counted rows, identically twice, with valid foreign keys and sequences past the ids', async () => {
    const a = await createPgDatabase('ds');
    const b = await createPgDatabase('ds');
    dbs.push(a, b);
    const counts = await seedPostgres(a.url, { scale: SCALE });
    await seedPostgres(b.url, { scale: SCALE });
    for (const t of DATASET_TABLES) {
      const [{ n }] = await pgQuery<{ n: string }>(a.url, `SELECT count(*)::text AS n FROM ${t}`);
      expect(Number(n)).toBe(counts[t]);
      expect(await pgTableDigest(b.url, t)).toBe(await pgTableDigest(a.url, t));
    }
    const fks = await pgQuery<{ name: string; validated: boolean }>(
      a.url,
      `SELECT conname AS name, convalidated AS validated FROM pg_constraint WHERE contype = 'f' ORDER BY conname`,
    );
    expect(fks).toEqual([
      { name: 'comments_task_id_fkey', validated: true },
      { name: 'tasks_project_id_fkey', validated: true },
    ]);
    const [{ id }] = await pgQuery<{ id: string }>(
      a.url,
      `INSERT INTO tasks (project_id, title, priority, created_at, updated_at) VALUES (1, 'new', 1, now(), now()) RETURNING id::text`,
    );
    expect(Number(id)).toBe(counts.tasks + 1);
    await expect(seedPostgres(a.url, { scale: SCALE })).rejects.toThrow('already has dataset tables');
  });

  it('holds the same text, tags and JSON as the SQLite seed of the same seed', async () => {
    const pg = await createPgDatabase('ds');
    dbs.push(pg);
    await seedPostgres(pg.url, { scale: SCALE });
    const dir = tempDir('strongroom-dataset-');
    try {
      const file = join(dir.path, 'x.db');
      seedSqlite(file, { scale: SCALE });
      const pgRows = await pgQuery<{ id: string; title: string; description: string; tags: string[]; status: string }>(
        pg.url,
        `SELECT id::text, title, description, tags, status::text FROM tasks ORDER BY tasks.id`,
      );
      const db = new Database(file, { readonly: true });
      const liteRows = db.prepare(`SELECT id, title, description, tags, status FROM tasks ORDER BY id`).all() as Array<
        Record<string, string | number>
      >;
      const litePayload = db.prepare(`SELECT payload FROM app_audit WHERE id = 7`).get() as { payload: string };
      db.close();
      expect(pgRows.map((r) => [Number(r.id), r.title, r.description, r.tags, r.status])).toEqual(
        liteRows.map((r) => [r.id, r.title, r.description, JSON.parse(r.tags as string), r.status]),
      );
      const [{ payload }] = await pgQuery<{ payload: unknown }>(pg.url, `SELECT payload FROM app_audit WHERE id = 7`);
      expect(payload).toEqual(JSON.parse(litePayload.payload));
    } finally {
      dir.remove();
    }
  });
});
