/** Test-only schema and data covering every storage class and table shape SQLite has. */
import type Database from 'better-sqlite3';

export const ALL_TYPES_SCHEMA = `
CREATE TABLE all_types (
  id INTEGER PRIMARY KEY,
  i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, flag BOOLEAN, at DATETIME, anything,
  doubled INTEGER GENERATED ALWAYS AS (i * 2) VIRTUAL,
  t_len INTEGER GENERATED ALWAYS AS (length(t)) STORED
);
CREATE INDEX all_types_at ON all_types (at);
CREATE TABLE counter (id INTEGER PRIMARY KEY AUTOINCREMENT, label TEXT NOT NULL);
CREATE TABLE kv (k TEXT PRIMARY KEY COLLATE NOCASE, v BLOB) WITHOUT ROWID;
CREATE TABLE composite (a INTEGER NOT NULL, b TEXT NOT NULL, v REAL, PRIMARY KEY (b, a));
CREATE TABLE tree (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES tree (id), label TEXT);
CREATE TABLE loose (x, y TEXT);
CREATE VIEW tree_roots AS SELECT id, label FROM tree WHERE parent_id IS NULL;
CREATE TRIGGER counter_label_check BEFORE INSERT ON counter WHEN new.label = '' BEGIN SELECT RAISE(ABORT, 'empty label'); END;
`;

export const ALL_TYPES_TABLES = ['all_types', 'counter', 'kv', 'composite', 'tree', 'loose'];

export function fillAllTypes(db: Database.Database): void {
  const ins = db.prepare(
    'INSERT INTO all_types (id, i, r, t, b, n, flag, at, anything) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const rows: unknown[][] = [
    [1n, 0n, 0.1, 'plain', Buffer.from('abc'), '12.50', 1n, '2024-02-29 23:59:59.999', 1],
    [2n, -(2n ** 63n), -Infinity, 'ünïcödé 𝄞 — 漢字', allBytes, '1e3', 0n, '1970-01-01T00:00:00Z', 1n],
    [
      3n,
      2n ** 63n - 1n,
      Infinity,
      'line1\nline2\r\n\ttab "quoted" \\ back',
      Buffer.alloc(0),
      'abc',
      1n,
      '9999-12-31 23:59:59',
      '1',
    ],
    [4n, 2n ** 53n, -0, '{"$b":"AAEC"}', Buffer.from([0]), 9007199254740993n, null, null, Buffer.from([1, 2])],
    [5n, -(2n ** 53n) - 1n, 5e-324, '{"$i":"5"}', null, 0.5, null, null, -0],
    [6n, 9007199254740991n, 1.7976931348623157e308, 'x'.repeat(1024 * 1024), null, null, null, null, 2.5],
    [7n, null, null, null, null, null, null, null, null],
    [8n, 1n, 1, '', null, -0, null, null, '{"$f":"1"}'],
  ];
  for (const r of rows) ins.run(r);
  const c = db.prepare('INSERT INTO counter (label) VALUES (?)');
  for (let i = 0; i < 5; i++) c.run(`c${i}`);
  db.exec(`DELETE FROM counter WHERE id = 5`); // sqlite_sequence stays at 5: rowids are never reused
  const kv = db.prepare('INSERT INTO kv VALUES (?, ?)');
  kv.run('Alpha', Buffer.from('a'));
  kv.run('beta', null);
  kv.run('', Buffer.alloc(0));
  const comp = db.prepare('INSERT INTO composite VALUES (?, ?, ?)');
  for (const [a, b] of [
    [2, 'x'],
    [1, 'x'],
    [1, 'y'],
    [-5, ''],
  ] as const)
    comp.run(BigInt(a), b, a / 4);
  // Children before parents in key order, and a root: restore must not care.
  const tr = db.prepare('INSERT INTO tree VALUES (?, ?, ?)');
  tr.run(10n, null, 'root');
  tr.run(1n, 10n, 'child of 10');
  tr.run(2n, 1n, 'grandchild');
  tr.run(20n, 20n, 'its own parent');
  const lo = db.prepare('INSERT INTO loose VALUES (?, ?)');
  lo.run(1n, 'dup');
  lo.run(1n, 'dup');
  lo.run(null, null);
}
