/**
 * Test-only helpers for the SQLite dialect specs: export a database through a real snapshot
 * and feed those bytes back to restore/plan. Collecting a table in memory is fine here:
 * test tables are small by construction.
 */
import Database from 'better-sqlite3';
import { Readable } from 'node:stream';
import type { RestoreInput, RestoreMode, SequenceValue, TableInfo } from '../dialect';
import { sqlitePathFromUrl } from './sqlite-connection';
import type { SqliteDialect } from './sqlite.dialect';

export interface Exported {
  tables: TableInfo[];
  schemaSql: string;
  sequences: SequenceValue[];
  data: Map<string, Buffer>;
  rows: Map<string, number>;
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(Buffer.isBuffer(c) ? c : Buffer.from(c));
  return Buffer.concat(parts);
}

export async function exportAll(dialect: SqliteDialect, names?: string[]): Promise<Exported> {
  const tables = names ?? (await dialect.listTables()).map((t) => t.name);
  const snap = await dialect.openSnapshot(tables);
  try {
    const data = new Map<string, Buffer>();
    const rows = new Map<string, number>();
    for (const t of snap.tables) {
      const exp = snap.exportTable(t.name);
      data.set(t.name, await readAll(exp.stream));
      rows.set(t.name, exp.rowCount());
    }
    return { tables: snap.tables, schemaSql: await snap.schemaSql(), sequences: await snap.sequences(), data, rows };
  } finally {
    await snap.close();
  }
}

export function restoreInputFor(
  exported: Exported,
  mode: RestoreMode | Record<string, RestoreMode>,
  opts: { only?: string[]; open?: (name: string, bytes: Buffer) => Readable; signal?: AbortSignal } = {},
): RestoreInput {
  const tables = exported.tables.filter((t) => !opts.only || opts.only.includes(t.name));
  return {
    encoding: 'sqlite-ndjson',
    sequences: exported.sequences,
    signal: opts.signal,
    tables: tables.map((t) => ({
      name: t.name,
      table: t,
      mode: typeof mode === 'string' ? mode : (mode[t.name] ?? 'replace'),
      open: async () => {
        const bytes = exported.data.get(t.name) as Buffer;
        // Small chunks exercise line reassembly across chunk boundaries.
        return opts.open ? opts.open(t.name, bytes) : Readable.from(chunks(bytes, 7777));
      },
    })),
  };
}

export function chunks(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

/** A separate plain connection, as another process (the service's ORM) would have. */
export function rawConnection(url: string): Database.Database {
  const db = new Database(sqlitePathFromUrl(url));
  db.pragma('busy_timeout = 5000');
  return db;
}

export function query<T = Record<string, unknown>>(url: string, sql: string, ...params: unknown[]): T[] {
  const db = rawConnection(url);
  try {
    return db
      .prepare(sql)
      .safeIntegers(true)
      .all(...params) as T[];
  } finally {
    db.close();
  }
}

export function exec(url: string, sql: string): void {
  const db = rawConnection(url);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}
