/**
 * The protected application of one campaign instance: two tables with a foreign key in the
 * target database, two file-artefact roots, a deterministic "edit" that turns the state at
 * backup time into a different one, and fingerprints of both to compare states exactly.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import type { TestDatabase } from '../support/databases';
import { execSql, queryRows } from '../support/sample-data';

export const APP_TABLES = ['accounts', 'entries'];

export async function seedTarget(db: TestDatabase, rows: number): Promise<void> {
  await execSql(db, [
    `CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT NOT NULL, balance INTEGER NOT NULL)`,
    `CREATE TABLE entries (id INTEGER PRIMARY KEY, account_id INTEGER NOT NULL REFERENCES accounts(id), amount INTEGER NOT NULL, note TEXT NOT NULL)`,
  ]);
  await execSql(
    db,
    db.engine === 'postgres'
      ? [
          `INSERT INTO accounts SELECT g, 'account ' || g, g * 100 FROM generate_series(1, 100) g`,
          `INSERT INTO entries SELECT g, 1 + g % 100, g % 977, md5(g::text) || repeat('x', 60) FROM generate_series(1, ${rows}) g`,
        ]
      : [
          `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < 100) INSERT INTO accounts SELECT g, 'account ' || g, g * 100 FROM s`,
          `WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < ${rows}) INSERT INTO entries SELECT g, 1 + g % 100, g % 977, hex(randomblob(16)) || printf('%.60c', 'x') FROM s`,
        ],
  );
}

/** The same edit every time, so the edited state has one fingerprint. */
export async function editTarget(db: TestDatabase, roots: string[]): Promise<void> {
  await execSql(db, [
    `UPDATE entries SET note = 'changed' WHERE id % 3 = 0`,
    `DELETE FROM entries WHERE id % 7 = 0`,
    `UPDATE accounts SET balance = balance + 1 WHERE id % 2 = 0`,
  ]);
  for (const [i, root] of roots.entries()) {
    writeFileSync(join(root, 'a.txt'), `edited ${i}\n`);
    rmSync(join(root, 'sub', 'c.bin'), { force: true });
    writeFileSync(join(root, 'new.txt'), `added after the backup ${i}\n`);
  }
}

export function seedFiles(parent: string, count = 2): string[] {
  const roots: string[] = [];
  for (let i = 0; i < count; i++) {
    const root = join(parent, `root${i}`);
    mkdirSync(join(root, 'sub'), { recursive: true });
    writeFileSync(join(root, 'a.txt'), `original ${i}\n`);
    writeFileSync(join(root, 'b.txt'), `second file ${i}\n`.repeat(100));
    writeFileSync(join(root, 'sub', 'c.bin'), createHash('sha512').update(`bin ${i}`).digest());
    roots.push(root);
  }
  return roots;
}

/** Per-table content hash (row order by primary key). */
export async function dbFingerprint(db: TestDatabase): Promise<string> {
  const parts: string[] = [];
  if (db.engine === 'postgres') {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      for (const t of APP_TABLES) {
        const r = await c.query(`SELECT count(*) AS n, md5(string_agg(md5(t::text), '' ORDER BY id)) AS h FROM ${t} t`);
        parts.push(`${t}:${r.rows[0].n}:${r.rows[0].h}`);
      }
    } finally {
      await c.end();
    }
  } else {
    const d = new Database(db.url.slice('sqlite:'.length), { readonly: true });
    d.pragma('busy_timeout = 10000');
    try {
      for (const t of APP_TABLES) {
        const h = createHash('sha256');
        let n = 0;
        for (const row of d.prepare(`SELECT * FROM ${t} ORDER BY id`).raw().iterate()) {
          h.update(JSON.stringify(row));
          n++;
        }
        parts.push(`${t}:${n}:${h.digest('hex').slice(0, 32)}`);
      }
    } finally {
      d.close();
    }
  }
  return parts.join(' ');
}

function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) out.push(...walk(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}:${createHash('sha256').update(readFileSync(full)).digest('hex').slice(0, 16)}`);
  }
  return out;
}

/** One hash per root (so a mixed result says which root is old and which new); a missing root reads "absent". */
export function filesFingerprint(roots: string[]): string[] {
  return roots.map((r) => {
    try {
      return createHash('sha256').update(walk(r).join('\n')).digest('hex').slice(0, 16);
    } catch {
      return 'absent';
    }
  });
}

/** Anything next to the roots that is not a root: staging or old copies a file restore left behind. */
export function filesLeftovers(parent: string, roots: string[]): string[] {
  const names = new Set(roots.map((r) => r.slice(parent.length + 1)));
  return readdirSync(parent).filter((n) => !names.has(n));
}

export async function leftoverRestoreSchemas(db: TestDatabase): Promise<string[]> {
  if (db.engine !== 'postgres') return [];
  const rows = await queryRows<{ nspname: string }>(
    db,
    `SELECT nspname FROM pg_namespace WHERE nspname LIKE 'strongroom\\_restore\\_%'`,
  );
  return rows.map((r) => r.nspname);
}
