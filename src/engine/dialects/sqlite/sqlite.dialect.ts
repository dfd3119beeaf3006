/**
 * The SQLite engine: a file in its own journal mode, rows as `sqlite-ndjson` (see sqlite-row-codec).
 * Each backup, restore and plan gets its own connection, so their transactions never mix;
 * the dialect's own connection only reads the catalog and applies schema.
 */
import Database from 'better-sqlite3';
import type {
  Dialect,
  DryRunResult,
  InventoryShape,
  PlanTableResult,
  RestoreChecks,
  RestoreInput,
  RestoreTableResult,
  SchemaDifference,
  Snapshot,
  TableInfo,
} from '../dialect';
import {
  openConnection,
  quoteIdent,
  sqlitePathFromUrl,
  type SqliteDb,
  type SqliteDialectOptions,
} from './sqlite-connection';
import { describeTables, listTableNames } from './sqlite-introspect';
import { dryRunSqlite, planSqlite } from './sqlite-plan';
import { catalogChecks } from './sqlite-restore-checks';
import { readCommitMarker } from './sqlite-commit-marker';
import { restoreSqlite } from './sqlite-restore';
import { diffTables, fingerprintTables } from './sqlite-schema-compare';
import { SqliteSnapshot } from './sqlite-snapshot';
import { firstObjectDifference, listObjects, summarize, type ObjectKind, type SqliteObjects } from './sqlite-inventory';
import { splitFileSetup } from './sqlite-schema-sql';

/** One kind of object as a backup's schema script defines it (replayed in memory; pragmas read from the script). */
function objectsOfSchemaSql(sql: string, kind: string): SqliteObjects {
  const { setup, rest } = splitFileSetup(sql);
  const mem = new Database(':memory:');
  try {
    for (const p of setup) mem.exec(p);
    mem.exec(rest);
    const all = listObjects(mem);
    return new Map([[kind as ObjectKind, all.get(kind as ObjectKind) ?? new Map<string, string>()]]);
  } finally {
    mem.close();
  }
}

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
    return db.transaction(() =>
      describeTables(
        db,
        listTableNames(db).filter((n) => !skip.has(n.toLowerCase())),
        { lenient: true },
      ),
    )();
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
      // Encoding, page size and auto-vacuum only take effect before the file has any page.
      const { setup, rest } = splitFileSetup(sql);
      for (const p of setup) db.exec(p);
      db.transaction(() => db.exec(rest))();
    } catch (err) {
      throw new Error(`Applying schema to SQLite database ${this.path} failed: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async compareInventory(expected: InventoryShape, tables: string[], schemaSql: string): Promise<string | null> {
    const db = this.conn();
    const actual = listObjects(db);
    const want = expected.schemas.main ?? {};
    const got = summarize(actual);
    for (const kind of [...new Set([...Object.keys(want), ...Object.keys(got)])].sort()) {
      const w = want[kind];
      const g = got[kind];
      if (w && g && w.count === g.count && w.fingerprint === g.fingerprint) continue;
      const named = firstObjectDifference(
        objectsOfSchemaSql(schemaSql, kind),
        new Map([[kind as ObjectKind, actual.get(kind as ObjectKind) ?? new Map<string, string>()]]),
        {
          expected: 'the backup',
          actual: 'the restored database',
        },
      );
      const counts = `${w?.count ?? 0} in the inventory, ${g?.count ?? 0} restored`;
      return `${kind}s differ from the inventory (${counts})${named ? `: ${named}` : ''}`;
    }
    const inScope = new Set(tables);
    for (const [qualified, rows] of Object.entries(expected.rows).sort(([a], [b]) => (a < b ? -1 : 1))) {
      const name = qualified.replace(/^main\./, '');
      if (!inScope.has(name)) return `table ${name} of the inventory was not restored`;
      const n = Number(
        db
          .prepare(`SELECT count(*) FROM main.${quoteIdent(name)}`)
          .pluck()
          .get(),
      );
      if (n !== rows) return `table ${name} has ${n} rows restored, ${rows} in the inventory`;
    }
    return null;
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

  async checkRestore(input: RestoreInput): Promise<RestoreChecks> {
    if (this.closed) throw new Error('SQLite dialect is closed');
    const db = openConnection(this.path, this.opts);
    try {
      const { blockers, warnings } = catalogChecks(db, input);
      return { blockers, warnings };
    } finally {
      db.close();
    }
  }

  async dryRun(input: RestoreInput): Promise<DryRunResult> {
    if (this.closed) throw new Error('SQLite dialect is closed');
    return dryRunSqlite(this.path, input, this.opts);
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
