/**
 * Data for the recovery tests: the all-types tables of the dialect specs (adapted), a
 * small keyed table for merge semantics, and an engine-independent dump of table contents
 * to compare "as at the backup moment".
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { ALL_TYPES_PG_LINKS, ALL_TYPES_PG_SCHEMA } from '../../src/engine/dialects/postgres/pg-fixtures';
import { ALL_TYPES_SCHEMA, ALL_TYPES_TABLES, fillAllTypes } from '../../src/engine/dialects/sqlite/sqlite-fixtures';
import type { TestDatabase } from '../support/databases';
import { execSql, queryRows } from '../support/sample-data';

const PG_ROWS = [
  `INSERT INTO everything (region, s, i, b, n, r, d, t, by, bo, da, ts, tstz, iv, u, j, jb, ia, ta, m, ma)
   VALUES (1, -32768, 2147483647, -9223372036854775808, 123456789012345678901234567890.123456789, 'NaN', 'Infinity',
           E'tab\\there\\nnew line \\\\ backslash — ünicode 🚀 \\r', '\\x00ff10', true, '4713-01-01 BC',
           '2024-02-29 23:59:59.999999', '1999-12-31 23:59:59.5+05:30', '1 year 2 mons -3 days 04:05:06.789',
           'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{ "spaced" : [1, 2.50, "x"] }', '{"b": {"c": [true, null]}}',
           '{1,NULL,3}', '{"a b",NULL,"quote\\"d",""}', 'happy', '{sad,NULL,ok}'),
          (1, 32767, -2147483648, 9223372036854775807, 'NaN', '-Infinity', 'NaN', '', '\\x', false, 'infinity',
           '-infinity', 'infinity', '-178000000 years', '00000000-0000-0000-0000-000000000000', 'null', '[]', '{}', '{}', 'sad', '{}'),
          (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
  ...ALL_TYPES_PG_LINKS,
];

export const ITEMS = 'items';

/** Tables of the all-types set per engine, plus `items`. */
export function appTables(db: TestDatabase): string[] {
  return db.engine === 'postgres' ? ['everything', 'Mixed Case', 'no_key', ITEMS] : [...ALL_TYPES_TABLES, ITEMS];
}

/** A table without a primary key, which merge and missing-only refuse. */
export const keylessTable = (db: TestDatabase) => (db.engine === 'postgres' ? 'no_key' : 'loose');

export async function seedAllTypes(db: TestDatabase): Promise<void> {
  if (db.engine === 'postgres') {
    await execSql(db, [ALL_TYPES_PG_SCHEMA, ...PG_ROWS]);
  } else {
    const d = new Database(db.url.slice('sqlite:'.length));
    d.pragma('busy_timeout = 10000');
    try {
      d.exec(ALL_TYPES_SCHEMA);
      fillAllTypes(d);
    } finally {
      d.close();
    }
  }
  await execSql(db, [
    `CREATE TABLE ${ITEMS} (id INTEGER PRIMARY KEY, v TEXT)`,
    `INSERT INTO ${ITEMS} VALUES (1, 'a'), (2, 'b'), (3, 'c')`,
  ]);
}

/**
 * Changes rows of every kind in the all-types set: update, delete, insert. Safe to repeat;
 * each call also adds a row with a fresh key, so the data always differs afterwards.
 */
export async function changeAllTypes(db: TestDatabase): Promise<void> {
  if (db.engine === 'postgres') {
    await execSql(db, [
      `UPDATE everything SET t = 'changed', jb = '{"changed": true}' WHERE region = 1`,
      `UPDATE everything SET parent_region = NULL, parent_id = NULL WHERE id = 1`,
      `DELETE FROM everything WHERE id = 3`,
      `INSERT INTO everything (region, t) VALUES (3, 'new')`,
      `INSERT INTO "Mixed Case" VALUES ('new', 'row') ON CONFLICT DO NOTHING`,
      `DELETE FROM no_key WHERE x = 1`,
      `INSERT INTO no_key VALUES (99, 'new')`,
    ]);
  } else {
    await execSql(db, [
      `UPDATE all_types SET t = 'changed', b = x'00' WHERE id IN (1, 2)`,
      `DELETE FROM all_types WHERE id = 7`,
      `INSERT INTO all_types (id, i) VALUES (100, 5) ON CONFLICT DO NOTHING`,
      `DELETE FROM tree WHERE id = 2`,
      `INSERT INTO kv VALUES ('gamma', x'ff') ON CONFLICT DO NOTHING`,
      `DELETE FROM loose WHERE x IS NULL`,
    ]);
  }
  const fresh = 1000 + Math.floor(Math.random() * 1e9);
  await execSql(db, [
    `UPDATE ${ITEMS} SET v = 'x' WHERE id = 1`,
    `DELETE FROM ${ITEMS} WHERE id = 2`,
    `INSERT INTO ${ITEMS} VALUES (4, 'd') ON CONFLICT DO NOTHING`,
    `INSERT INTO ${ITEMS} VALUES (${fresh}, 'fresh')`,
  ]);
}

/**
 * The tables' contents, independent of Strongroom's own encodings: PostgreSQL through
 * `pg_dump --data-only`; SQLite as each row's `quote()` literals (type and bytes exact), sorted.
 */
export async function dumpData(db: TestDatabase, tables: string[] = appTables(db)): Promise<string> {
  if (db.engine === 'postgres') {
    const args = ['--data-only', '--no-owner', ...tables.flatMap((t) => ['-t', `public."${t}"`]), `--dbname=${db.url}`];
    const res = spawnSync('pg_dump', args, { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
    if (res.status !== 0) throw new Error(`pg_dump failed: ${res.stderr}`);
    return normalizePgDump(res.stdout);
  }
  const out: string[] = [];
  for (const t of tables) {
    const cols = (
      await queryRows<{ name: string; hidden: number }>(db, `SELECT name, hidden FROM pragma_table_xinfo('${t}')`)
    ).map((c) => `quote("${c.name}")`);
    const rows = await queryRows<{ r: string }>(db, `SELECT ${cols.join(` || ',' || `)} AS r FROM "${t}"`);
    out.push(`-- ${t}`, ...rows.map((r) => r.r).sort());
  }
  return out.join('\n');
}

/**
 * Rows inside each COPY block sorted (heap order changes with every rewrite), comments and
 * sequence positions dropped: sequences only ever move forward on restore, by design, so
 * ids handed out after the backup are never handed out again.
 */
function normalizePgDump(dump: string): string {
  const out: string[] = [];
  let block: string[] | null = null;
  for (const line of dump.split('\n')) {
    if (block) {
      if (line === '\\.') {
        out.push(...block.sort(), line);
        block = null;
      } else block.push(line);
      continue;
    }
    if (line.startsWith('--') || line.startsWith('\\') || line.includes('pg_catalog.setval(') || !line.trim()) continue;
    out.push(line);
    if (line.startsWith('COPY ')) block = [];
  }
  return out.join('\n');
}

export async function items(db: TestDatabase): Promise<[number, string][]> {
  const rows = await queryRows<{ id: number | string; v: string }>(db, `SELECT id, v FROM ${ITEMS} ORDER BY id`);
  return rows.map((r) => [Number(r.id), r.v]);
}
