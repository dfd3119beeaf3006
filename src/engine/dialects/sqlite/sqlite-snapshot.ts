/**
 * A backup's consistent view: one dedicated connection holding one read transaction. In WAL
 * mode the transaction's snapshot is fixed by its first read; writers carry on meanwhile and
 * nothing they commit afterwards is seen. Several tables may stream at once: better-sqlite3
 * allows concurrent read iterators on one connection.
 */
import { Readable } from 'node:stream';
import type { InventoryShape, PageImage, SequenceValue, Snapshot, TableExport, TableInfo } from '../dialect';
import {
  DEFAULT_BATCH_ROWS,
  openConnection,
  quoteIdent,
  type SqliteDb,
  type SqliteDialectOptions,
} from './sqlite-connection';
import {
  describeTables,
  hasAutoincrementCounters,
  isWithoutRowid,
  listTableNames,
  rowidAlias,
  storedColumns,
} from './sqlite-introspect';
import {
  canEncodeInSql,
  lineFromSql,
  rawRowValues,
  registerSqlValueFunction,
  RowChunker,
  sqlRawSelect,
  sqlRowJsonBytes,
} from './sqlite-row-codec';
import { summarize } from './sqlite-inventory';
import { buildSchemaSql, type SchemaSqlResult } from './sqlite-schema-sql';
import { openPageImage, type OpenedPageImage } from './sqlite-page-image';

/**
 * A chunk goes down the part pipeline (digest, zstd, encryption, write) synchronously, inside
 * the step that filled it, and better-sqlite3 reads synchronously too: the chunk size bounds
 * how long one step holds the event loop (the service answers requests between steps). zstd
 * keeps its window across chunks, so smaller chunks cost no ratio.
 */
const CHUNK_BYTES = 64 * 1024;

/** `ORDER BY` that makes export order a function of the data alone, so re-exports match byte for byte. */
export function exportOrder(db: SqliteDb, table: TableInfo): string {
  const pk = table.primaryKey.map(quoteIdent);
  if (isWithoutRowid(db, table.name)) return pk.join(', ');
  const names = new Set(table.columns.map((c) => c.name.toLowerCase()));
  const rowid = ['rowid', '_rowid_', 'oid'].find((n) => !names.has(n));
  // A rowid table may hold NULL or duplicate-looking keys (SQLite's legacy rule), so rowid breaks ties.
  return [...pk, ...(rowid ? [rowid] : [])].join(', ');
}

export class SqliteSnapshot implements Snapshot {
  private readonly streams = new Set<{ stream: Readable; end(): void }>();
  private closed = false;
  private image: OpenedPageImage | null = null;

  private constructor(
    private readonly db: SqliteDb,
    readonly tables: TableInfo[],
    private readonly batchRows: number,
    /** Read once: a PRAGMA cannot run while another table's rows are still being iterated. */
    private readonly textEncoding: string,
    /** Export order per table, also read up front for the same reason (pragma_table_list). */
    private readonly orders: Map<string, string>,
    /** Every table of the file a backup could carry (listTableNames), read at the snapshot. */
    private readonly fileTables: string[],
  ) {}

  static async open(path: string, tableNames: string[], opts: SqliteDialectOptions = {}): Promise<SqliteSnapshot> {
    const db = openConnection(path, opts);
    try {
      db.pragma('query_only = ON');
      registerSqlValueFunction(db);
      db.exec('BEGIN');
      // The snapshot is taken by the first read, not by BEGIN.
      const existing = listTableNames(db);
      const known = new Map(existing.map((n) => [n.toLowerCase(), n]));
      const missing = tableNames.filter((n) => !known.has(n.toLowerCase()));
      if (missing.length > 0) throw new Error(`SQLite table(s) not found: ${missing.join(', ')}`);
      const tables = describeTables(
        db,
        tableNames.map((n) => known.get(n.toLowerCase()) as string),
      );
      const encoding = String(db.pragma('encoding', { simple: true }));
      const orders = new Map(tables.map((t) => [t.name, exportOrder(db, t)]));
      return new SqliteSnapshot(db, tables, opts.batchRows ?? DEFAULT_BATCH_ROWS, encoding, orders, existing);
    } catch (err) {
      if (db.inTransaction) db.exec('ROLLBACK');
      db.close();
      throw err;
    }
  }

  private schema: SchemaSqlResult | undefined;

  async schemaSql(): Promise<string> {
    this.assertOpen();
    this.schema ??= buildSchemaSql(
      this.db,
      this.tables.map((t) => t.name),
    );
    return this.schema.sql;
  }

  /** SQLite's own schema is the whole database, so every backup keeps an inventory (tables keyed `main.<name>`). */
  async inventory(_ddl: unknown, rows: Record<string, number>): Promise<InventoryShape> {
    await this.schemaSql();
    const qualified = Object.fromEntries(Object.entries(rows).map(([name, n]) => [`main.${name}`, n]));
    return { schemas: { main: summarize((this.schema as SchemaSqlResult).objects) }, rows: qualified };
  }

  /**
   * AUTOINCREMENT counters (sqlite_sequence) of the tables in scope. The counter can be past
   * every rowid (the newest rows were deleted); restoring it keeps those ids from being
   * handed out again, which is what AUTOINCREMENT promises.
   */
  async sequences(): Promise<SequenceValue[]> {
    this.assertOpen();
    if (!hasAutoincrementCounters(this.db)) return [];
    const inScope = new Set(this.tables.map((t) => t.name));
    const rows = this.db
      .prepare(`SELECT name, seq FROM main.sqlite_sequence ORDER BY name`)
      .raw(true)
      .safeIntegers(true)
      .all() as [string, bigint][];
    return rows
      .filter(([name]) => inScope.has(name))
      .map(([name, seq]) => ({ name, lastValue: String(seq), isCalled: true }));
  }

  /**
   * The file's pages at this snapshot, when they hold nothing but the tables in scope (and what
   * SQLite keeps beside them: indexes, triggers, views, statistics, full-text shadow tables).
   * A file that also holds Strongroom's own tables (the service's embedded database) or tables
   * the caller left out gets null: its backups carry rows table by table.
   */
  async pageImage(opts: { workDir: string; signal?: AbortSignal }): Promise<PageImage | null> {
    this.assertOpen();
    if (this.image) return this.image;
    const inScope = new Set(this.tables.map((t) => t.name.toLowerCase()));
    if (this.fileTables.some((n) => !inScope.has(n.toLowerCase()))) return null;
    this.image = await openPageImage(this.db, opts);
    if (this.closed) this.image.close();
    return this.image;
  }

  async rowCounts(): Promise<Record<string, number>> {
    this.assertOpen();
    const counts: Record<string, number> = {};
    for (const t of this.tables)
      counts[t.name] = Number(
        this.db
          .prepare(`SELECT count(*) FROM main.${quoteIdent(t.name)}`)
          .pluck()
          .get(),
      );
    return counts;
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    return this.db.prepare(sql).all() as Record<string, unknown>[];
  }

  exportTable(name: string, rowFilter?: string): TableExport {
    this.assertOpen();
    const table =
      this.tables.find((t) => t.name === name) ?? this.tables.find((t) => t.name.toLowerCase() === name.toLowerCase());
    if (!table) throw new Error(`SQLite table ${name} is not in this snapshot`);
    const cols = storedColumns(table).map((c) => quoteIdent(c.name));
    // A carried rowid travels first (see TableInfo.rowid).
    if (table.rowid) cols.unshift(rowidAlias(table.columns) as string);
    const inSql = canEncodeInSql(this.textEncoding, cols.length);
    const select = inSql ? sqlRowJsonBytes(cols) : sqlRawSelect(cols);
    const filter = rowFilter ? ` WHERE ${rowFilter}` : '';
    const sql = `SELECT ${select} FROM main.${quoteIdent(table.name)}${filter} ORDER BY ${this.orders.get(table.name) as string}`;
    const stmt = this.db.prepare(sql);
    const rows = (inSql ? stmt.pluck(true) : stmt.raw(true).safeIntegers(true)).iterate() as IterableIterator<unknown>;
    const where = (): string => `table ${table.name} row ${count + 1}`;
    let count = 0;
    let finished = false;
    const end = (): void => {
      if (!finished) {
        finished = true;
        rows.return?.();
      }
    };
    let emitted = false;
    const chunker = new RowChunker(CHUNK_BYTES, (chunk) => {
      emitted = true;
      stream.push(chunk);
    });
    const fill = (): void => {
      if (stream.destroyed || finished) return;
      emitted = false;
      try {
        for (let n = 0; n < this.batchRows; n++) {
          const r = rows.next();
          if (r.done) {
            finished = true;
            chunker.flush();
            stream.push(null);
            return;
          }
          if (inSql) chunker.addBytes(lineFromSql(r.value as Buffer));
          else chunker.add(rawRowValues(r.value as unknown[], this.textEncoding, where));
          count++;
        }
        // The stream asks again only after a push, so a step that filled no chunk schedules the next itself.
        if (!emitted) setImmediate(fill);
      } catch (err) {
        stream.destroy(
          new Error(`Exporting SQLite table ${table.name} failed after ${count} rows: ${(err as Error).message}`),
        );
      }
    };
    const entry = { stream: undefined as unknown as Readable, end };
    const stream = new Readable({
      // Each step encodes a bounded batch on a later tick, so other I/O runs between batches.
      read: () => void setImmediate(fill),
      destroy: (err, cb) => {
        end();
        this.streams.delete(entry);
        cb(err);
      },
    });
    stream.on('end', () => this.streams.delete(entry));
    entry.stream = stream;
    this.streams.add(entry);
    return { stream, rowCount: () => count };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.streams]) {
      s.end();
      // A reader mid-way must learn its data is incomplete; an unread stream just goes away.
      if (s.stream.listenerCount('error') > 0)
        s.stream.destroy(new Error('SQLite snapshot closed while the table was still being read'));
      else s.stream.destroy();
    }
    this.streams.clear();
    try {
      this.image?.close();
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    } finally {
      this.db.close();
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('SQLite snapshot is closed');
  }
}
