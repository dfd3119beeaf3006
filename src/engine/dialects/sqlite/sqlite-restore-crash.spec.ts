import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createSqliteDatabase, type TestDatabase } from '../../../../test/support/databases';
import { createSqliteDialect } from './sqlite.dialect';
import { exec, query } from './sqlite-test-support';

describe('SQLite restore when the process is killed mid-way', () => {
  let db: TestDatabase;

  beforeAll(() => {
    db = createSqliteDatabase();
    exec(
      db.url,
      `CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT); INSERT INTO items VALUES (1, 'original one'), (2, 'original two');`,
    );
  });

  afterAll(async () => {
    await db.drop();
  });

  it('leaves the database exactly as before, intact and writable', async () => {
    const child = spawn(
      process.execPath,
      ['-r', 'ts-node/register/transpile-only', join(__dirname, 'sqlite-restore-crash.child.ts'), db.url],
      {
        cwd: join(__dirname, '../../../..'),
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('exit', (_code, signal) => resolve(signal)),
    );
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('midway') && resolve());
        child.on('exit', (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
      });
      // The child holds the write lock with thousands of uncommitted rows when it dies.
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }

    expect(query(db.url, 'SELECT id, label FROM items ORDER BY id')).toEqual([
      { id: 1n, label: 'original one' },
      { id: 2n, label: 'original two' },
    ]);
    expect(query(db.url, 'PRAGMA integrity_check')).toEqual([{ integrity_check: 'ok' }]);
    const dialect = createSqliteDialect(db.url);
    try {
      await dialect.applySchema('CREATE TABLE after_crash (x)');
      expect((await dialect.listTables()).map((t) => t.name)).toEqual(['after_crash', 'items']);
    } finally {
      await dialect.close();
    }
  });
});
