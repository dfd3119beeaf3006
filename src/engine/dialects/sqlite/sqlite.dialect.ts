/**
 * The SQLite engine: a file opened in WAL mode, rows as `sqlite-ndjson` (see sqlite-row-codec).
 * Each backup, restore and plan gets its own connection, so their transactions never mix;
 * the dialect's own connection only reads the catalog and applies schema.
 */
import type {
  Dialect,
  PlanTableResult,
  RestoreInput,
  RestoreTableResult,
  SchemaDifference,
  Snapshot,
  TableInfo,
} from '../dialect';
import { openConnection, sqlitePathFromUrl, type SqliteDb, type SqliteDialectOptions } from './sqlite-connection';
import { describeTables, listTableNames } from './sqlite-introspect';
import { planSqlite } from './sqlite-plan';
import { readCommitMarker } from './sqlite-commit-marker';
import { restoreSqlite } from './sqlite-restore';
import { diffTables, fingerprintTables } from './sqlite-schema-compare';
import { SqliteSnapshot } from './sqlite-snapshot';

export class SqliteDialect implements Dialect {
  readonly engine = 'sqlite' as const;
  readonly encoding = 'sqlite-ndjson' as const;
  private db: SqliteDb | undefined;
  private closed = false;

  constructor(
    readonly path: string,
    private readonly opts: SqliteDialectOptions = {},
  ) {}

  private conn(): SqliteDb {
    if (this.closed) throw new Error('SQLite dialect is closed');
    this.db ??= openConnection(this.path, this.opts);
    return this.db;
  }

  async serverVersion(): Promise<string> {
    return String(this.conn().prepare('SELECT sqlite_version() AS v').pluck().get());
  }

  async listTables(exclude: string[] = []): Promise<TableInfo[]> {
    const skip = new Set(exclude.map((n) => n.toLowerCase()));
    const db = this.conn();
    // One read transaction so the structure of all tables comes from the same moment.
    return db.transaction(() => describeTables(db, listTableNames(db).filter((n) => !skip.has(n.toLowerCase()))))();
  }

  fingerprint(tables: TableInfo[]): string {
    return fingerprintTables(tables);
  }

  /** `opts.exclude` leaves tables out of the extra-table check (e.g. Strongroom's bookkeeping tables). */
  async compareSchema(expected: TableInfo[], opts: { exclude?: string[] } = {}): Promise<SchemaDifference[]> {
    return diffTables(expected, await this.listTables(opts.exclude));
  }

  async openSnapshot(tables: string[]): Promise<Snapshot> {
    if (this.closed) throw new Error('SQLite dialect is closed');
    return SqliteSnapshot.open(this.path, tables, this.opts);
  }

  async applySchema(sql: string): Promise<void> {
    const db = this.conn();
    try {
      db.transaction(() => db.exec(sql))();
    } catch (err) {
      throw new Error(`Applying schema to SQLite database ${this.path} failed: ${(err as Error).message}`, { cause: err });
    }
  }

  async restore(input: RestoreInput): Promise<RestoreTableResult[]> {
    if (this.closed) throw new Error('SQLite dialect is closed');
    return restoreSqlite(this.path, input, this.opts);
  }

  async restoreCommitted(marker: { id: string }): Promise<boolean> {
    if (this.closed) throw new Error('SQLite dialect is closed');
    return readCommitMarker(this.path, marker.id, this.opts);
  }

  async plan(input: RestoreInput): Promise<PlanTableResult[]> {
    if (this.closed) throw new Error('SQLite dialect is closed');
    return planSqlite(this.path, input, this.opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.db?.close();
    this.db = undefined;
  }
}

export function createSqliteDialect(url: string, opts: SqliteDialectOptions = {}): SqliteDialect {
  return new SqliteDialect(sqlitePathFromUrl(url), opts);
}
