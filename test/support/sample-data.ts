/** A small application schema with data, written straight into a test database. */
import Database from 'better-sqlite3';
import { Client } from 'pg';
import type { TestDatabase } from './databases';

const DDL = [
  `CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL, budget NUMERIC)`,
  `CREATE TABLE tasks (id INTEGER PRIMARY KEY, project_id INTEGER NOT NULL REFERENCES projects(id), title TEXT, done BOOLEAN)`,
];

export async function seedSample(db: TestDatabase, tasks = 500): Promise<void> {
  await execSql(db, DDL);
  if (db.engine === 'postgres') {
    await execSql(db, [
      `INSERT INTO projects SELECT g, 'project ' || g, g * 10.5 FROM generate_series(1, 20) g`,
      `INSERT INTO tasks SELECT g, 1 + g % 20, 'task ' || g, g % 2 = 0 FROM generate_series(1, ${tasks}) g`,
    ]);
  } else {
    const d = new Database(db.url.slice('sqlite:'.length));
    const p = d.prepare('INSERT INTO projects VALUES (?, ?, ?)');
    const t = d.prepare('INSERT INTO tasks VALUES (?, ?, ?, ?)');
    d.transaction(() => {
      for (let i = 1; i <= 20; i++) p.run(i, `project ${i}`, i * 10.5);
      for (let i = 1; i <= tasks; i++) t.run(i, 1 + (i % 20), `task ${i}`, i % 2);
    })();
    d.close();
  }
}

export async function execSql(db: TestDatabase, statements: string[]): Promise<void> {
  if (db.engine === 'postgres') {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      for (const s of statements) await c.query(s);
    } finally {
      await c.end();
    }
  } else {
    const d = new Database(db.url.slice('sqlite:'.length));
    d.pragma('busy_timeout = 10000');
    try {
      for (const s of statements) d.exec(s);
    } finally {
      d.close();
    }
  }
}

export async function queryRows<T = Record<string, unknown>>(db: TestDatabase, sql: string): Promise<T[]> {
  if (db.engine === 'postgres') {
    const c = new Client({ connectionString: db.url });
    await c.connect();
    try {
      return (await c.query(sql)).rows as T[];
    } finally {
      await c.end();
    }
  }
  const d = new Database(db.url.slice('sqlite:'.length), { readonly: true });
  try {
    return d.prepare(sql).all() as T[];
  } finally {
    d.close();
  }
}
