/**
 * What a database engine must provide so that Strongroom can back it up and restore it.
 * Plain TypeScript, no Nest: shared by the server, the CLI and the benchmarks.
 *
 * Row data travels as an engine-specific byte stream ("row encoding"): PostgreSQL uses
 * COPY text format (`pg-copy-text`), SQLite uses one JSON array per line (`sqlite-ndjson`).
 * A table's content checksum is the SHA-256 of its row-encoding bytes as exported; a
 * table exported again after a restore into an empty database yields the same bytes.
 * A PostgreSQL table of built-in types only may travel in binary COPY format instead
 * (`pg-copy-binary`, pg-copy-binary.ts): the manifest says so per table (`rowFormat`).
 */
import type { PgCopySource } from './postgres/pg-copy-out';
import type { FileRangeSource } from '../archive/file-range';
import type { Readable } from 'node:stream';

export type EngineName = 'postgres' | 'sqlite';
export type RowEncoding = 'pg-copy-text' | 'sqlite-ndjson';
export type RestoreMode = 'replace' | 'merge' | 'missing-only';
/** A table's rows in another form than its engine's RowEncoding: PostgreSQL's binary COPY. */
export type TableRowFormat = 'pg-copy-binary';

export interface ColumnInfo {
  name: string;
  /** Engine type as the catalog spells it (e.g. `bigint`, `timestamp with time zone`, `TEXT`). */
  type: string;
  nullable: boolean;
  /** Generated (computed) columns are not exported and not written on import. */
  generated: boolean;
}

export interface ForeignKeyInfo {
  name: string;
  columns: string[];
  refTable: string;
  refColumns: string[];
}

export interface TableInfo {
  /** Table name; PostgreSQL: bare for schema `public`, `schema.name` elsewhere. */
  name: string;
  /** PostgreSQL: a partitioned table (its rows are those of its partitions; ONLY would read none). */
  partitioned?: boolean;
  columns: ColumnInfo[];
  /** Primary key columns in key order; empty when the table has none. */
  primaryKey: string[];
  foreignKeys: ForeignKeyInfo[];
  /**
   * SQLite: each row carries its rowid as its first value (a rowid table without an INTEGER
   * PRIMARY KEY, whose rowids are otherwise renumbered by a restore; a virtual table).
   */
  rowid?: boolean;
  /**
   * SQLite: a virtual table whose rows are read and written through its module (FTS3/4/5 with
   * their own content, R*Tree, Geopoly): merge and missing-only match its rows by rowid.
   */
  virtual?: string;
  /** SQLite: a shadow table of this contentless full-text index; the index is restored whole (replace) only. */
  contentlessIndex?: string;
}

export interface SequenceValue {
  name: string;
  /** Value `nextval` would have returned minus one; null when never called. */
  lastValue: string | null;
  isCalled: boolean;
}

export interface TableExport {
  /** Encoded rows, not compressed. Ends when the table was fully read. */
  stream: Readable;
  /** Rows emitted so far; final once `stream` has ended. */
  rowCount(): number;
}

/** Per schema ('' for database-wide objects) and object kind: count and fingerprint of the definitions; rows per table. */
export interface Inventory {
  schemas: Record<string, Record<string, { count: number; fingerprint: string }>>;
  rows: Record<string, number>;
}

/** Something a full backup left out on purpose, and why. */
export interface ExcludedObject {
  kind: 'schema' | 'table' | 'table-data';
  name: string;
  reason: string;
}

/** A full backup's DDL in pg_dump's sections: before the rows, and after them. */
export interface DatabaseDdl {
  preData: string;
  postData: string;
}

/** A role as a full backup archives it (PostgreSQL): its attributes, never its password. */
export interface ArchivedRole {
  name: string;
  superuser: boolean;
  inherit: boolean;
  createRole: boolean;
  createDb: boolean;
  login: boolean;
  replication: boolean;
  bypassRls: boolean;
  /** -1: no limit. */
  connectionLimit: number;
  /** ISO 8601 or 'infinity'; null when the role has no expiry. */
  validUntil: string | null;
}

/** The roles a database's objects need, and the memberships among them (and in PostgreSQL's predefined roles). */
export interface ArchivedRoles {
  roles: ArchivedRole[];
  memberships: { role: string; member: string; admin: boolean }[];
}

/** What `--create-roles` did: roles created, and archived roles the cluster already had (left as they are). */
export interface RoleCreation {
  created: string[];
  skipped: string[];
}

/**
 * A full backup's page image (SQLite): the database file as of the snapshot, read in byte ranges
 * (see sqlite-page-image.ts). Its pages are read until the snapshot closes.
 */
export interface PageImage {
  kind: 'sqlite-pages';
  pageSize: number;
  pageCount: number;
  /** pageSize × pageCount: the image's length. */
  bytes: number;
  /** The live file under the snapshot's lock, or a temporary copy made by SQLite's online backup API. */
  source: 'file' | 'copy';
  /**
   * Where bytes [start, end) of the image are: read with readFileRange (file-range.ts), here or
   * by a part worker itself.
   */
  range(start: number, end: number): FileRangeSource;
}

/** One consistent read-only view of the database for the duration of a backup. */
export interface Snapshot {
  /** Tables in scope, with their structure, in dependency-friendly order (parents first). */
  readonly tables: TableInfo[];
  /** DDL for the tables in scope (PostgreSQL: `pg_dump --schema-only`; SQLite: its schema SQL). */
  schemaSql(): Promise<string>;
  /** Sequence values (PostgreSQL); empty for SQLite. */
  sequences(): Promise<SequenceValue[]>;
  /**
   * Streams one table's rows. Several tables may stream at once (PostgreSQL: parallel workers on
   * the same snapshot). `where` (SQL over the table's columns) keeps only some rows: a scope's.
   */
  exportTable(name: string, where?: string, format?: TableRowFormat): TableExport;
  /**
   * The same rows as exportTable, described for a part worker that reads them itself on a
   * connection of its own at this snapshot (PostgreSQL), so the main thread is left with storage.
   */
  workerSource?(name: string, where?: string, format?: TableRowFormat): PgCopySource;
  /**
   * The form a table's rows are best archived in, when other than the engine's RowEncoding
   * (PostgreSQL: binary COPY for a table of built-in types only). exportTable and workerSource
   * use `format` when given, the engine's RowEncoding otherwise.
   */
  rowFormat?(name: string): TableRowFormat | undefined;
  /** Runs a read-only statement on the snapshot and returns its rows (a scope's keyed queries). */
  query?(sql: string): Promise<Record<string, unknown>[]>;
  /** Ends the snapshot: closes transactions and connections, kills child processes. Safe to call twice. */
  close(): Promise<void>;
  /** Whole-database snapshots (PostgreSQL): what configuration and the caller left out. */
  readonly excluded?: ExcludedObject[];
  /** Whole-database snapshots: the DDL in sections (pg_dump's pre-data and post-data). */
  databaseDdl?(): Promise<DatabaseDdl>;
  /** Whole-database snapshots: large objects' contents as SQL, null when there are none. */
  largeObjects?(): Promise<Readable | null>;
  /** Whole-database snapshots: the cluster's roles the database's objects need (no passwords). */
  roles?(): Promise<ArchivedRoles>;
  /**
   * The inventory at the snapshot, checked against what was archived (`ddl` where the backup
   * took the whole database's, and `rows` per exported table); throws naming the first object
   * that was not captured. Undefined where the engine keeps none for this kind of backup.
   * Call after `schemaSql` / `databaseDdl`.
   */
  inventory?(ddl: DatabaseDdl | null, rows: Record<string, number>): Promise<Inventory | undefined>;
  /**
   * Full backups of engines that can (SQLite): the database's pages at the snapshot, or null when
   * the file holds tables outside `tables` (Strongroom's own, which no backup may hold). A
   * temporary copy, if one is made under `workDir`, is removed by `close` (or when this rejects).
   */
  pageImage?(opts: { workDir: string; signal?: AbortSignal }): Promise<PageImage | null>;
  /** Row counts of `tables` at the snapshot, counted without reading the rows out (a page image's inventory). */
  rowCounts?(): Promise<Record<string, number>>;
}

/** The SQLite dialect's name for the inventory. */
export type InventoryShape = Inventory;

export interface RestoreTableInput {
  name: string;
  /** Structure as recorded in the backup manifest. */
  table: TableInfo;
  mode: RestoreMode;
  /** Plaintext bytes of its rows when known (the manifest's), to share the load between connections. */
  bytes?: number;
  /** The rows are in this form rather than the backup's RowEncoding (the manifest's `rowFormat`). */
  rowFormat?: TableRowFormat;
  /** Opens the table's decoded row stream (decrypted, decompressed, checksum-verified). */
  open(): Promise<Readable>;
}

/** Reads inside a restore's own transaction: it sees the rows the restore wrote so far. */
export interface TransactionReader {
  query<T = Record<string, unknown>>(sql: string): Promise<T[]>;
}

/**
 * Checks that must hold for the restore to commit, run inside its transaction (so nothing can
 * change in between); throwing rolls the whole restore back.
 */
export interface RestoreGuard {
  /** After the tables in scope are locked, before any row is written. */
  beforeLoad(db: TransactionReader): Promise<void>;
  /** After every row is written, just before the commit. */
  beforeCommit(db: TransactionReader): Promise<void>;
}

/**
 * Lets a caller learn after a crash whether a restore committed (Dialect.restoreCommitted):
 * the restore leaves proof in the target that commits or rolls back with its data.
 */
export interface RestoreCommitMarker {
  /** The recovery's id, recorded in the target by the restore's own transaction (SQLite). */
  id: string;
  /**
   * Awaited once the restore's transaction has begun and before it writes anything, with a
   * token to keep durably (PostgreSQL: its transaction id). If it rejects, nothing is written.
   */
  onToken?(token: string): Promise<void>;
}

/** A disaster restore of a full backup into an empty database (PostgreSQL). */
export interface DatabaseRestoreInput {
  ddl: DatabaseDdl;
  /** Large objects' contents as SQL (see Snapshot.largeObjects). */
  largeObjects: (() => Promise<Readable>) | null;
  /** Leave out ALTER ... OWNER TO (objects belong to whoever restores), like pg_restore --no-owner. */
  noOwner?: boolean;
  /** Leave out GRANT/REVOKE, like pg_restore --no-privileges. */
  noPrivileges?: boolean;
  /** The backup's roles; null for backups taken before roles were archived. */
  roles?: ArchivedRoles | null;
  /** Create the archived roles the cluster lacks before the DDL, in the same transaction. */
  createRoles?: boolean;
}

export interface DatabaseRestoreResult {
  tables: RestoreTableResult[];
  /** Roles the backup names (owners, grantees) that the target cluster lacks; their statements were skipped. */
  missingRoles: string[];
  /** With createRoles: what was created and what already existed. */
  roles?: RoleCreation;
}

export interface RestoreInput {
  encoding: RowEncoding;
  /**
   * The backup's DDL as text (PostgreSQL: pg_dump's sections; SQLite: its schema SQL), read
   * through its checks, for the checks that look at what the archive names (roles). Optional.
   */
  archivedDdl?(): Promise<string>;
  tables: RestoreTableInput[];
  /** Sequences to set past the restored values (PostgreSQL). */
  sequences: SequenceValue[];
  onProgress?(p: { table: string; rows: number }): void;
  /** Something went wrong after the restore committed (its rows are in): worth logging, not failing. */
  onWarning?(message: string): void;
  signal?: AbortSignal;
  guard?: RestoreGuard;
  /**
   * How the foreign keys between the restored tables are checked (PostgreSQL). 'revalidate', the
   * default: lifted for the load and re-added, which validates each referencing table whole, the
   * cheapest check of a table loaded whole. 'written-rows': keys between tables that are only
   * merged into (not truncated, not swapped) stay on, deferred to the end of the load, and are
   * checked for the rows written: a scope writes a few rows into large tables.
   */
  foreignKeyChecks?: 'revalidate' | 'written-rows';
  commitMarker?: RestoreCommitMarker;
  /**
   * Awaited last, inside the transaction, right before COMMIT: the point of no return. If it
   * rejects the restore rolls back; once it resolved the restore commits. A caller that lets a
   * restore be cancelled decides there, once, whether the cancel or the commit wins.
   */
  commitGate?(): Promise<void>;
}

export interface RestoreTableResult {
  name: string;
  rowsWritten: number;
}

export interface PlanTableResult {
  name: string;
  insert: number;
  update: number;
  delete: number;
  unchanged: number;
}

/**
 * What a dry run finds would stop a restore (a blocker) or change more than the tables asked
 * for (a warning), found without writing anything. Kinds:
 * - missing-schema, missing-table, missing-column: the target lacks what the rows go into;
 * - not-null: a live NOT NULL column the backup has no value for, or backup rows with NULL in it;
 * - rows-rejected: the target refuses the backup's values themselves (an enum label or a domain
 *   it lacks, a value its column type cannot hold); the database's own message says which;
 * - foreign-key: restored rows reference rows missing from a table outside the restore;
 * - referenced-rows: rows of a table outside the restore reference rows a replace removes
 *   (a blocker when the key refuses that, a warning when it cascades or sets null/default);
 * - unique: restored rows collide with each other or with live rows that stay, on a unique key;
 * - check: restored rows fail a CHECK constraint of the target;
 * - missing-sequence: the backup's sequence value has no sequence to go to (a warning);
 * - missing-role: roles the archive's ownership and grants name that the target cluster lacks
 *   (a warning: a restore into live tables keeps the live ownership and grants, a schema
 *   restore skips those statements and lists the roles);
 * - missing-extension: an extension the archive's schema creates that the server cannot install.
 */
export type RestoreIssueKind =
  | 'missing-schema'
  | 'missing-table'
  | 'missing-column'
  | 'not-null'
  | 'rows-rejected'
  | 'foreign-key'
  | 'referenced-rows'
  | 'unique'
  | 'check'
  | 'missing-sequence'
  | 'missing-role'
  | 'missing-extension';

export interface RestoreIssue {
  kind: RestoreIssueKind;
  /** What it is about: a table, `table.column`, `table.constraint`, a schema, role or extension. */
  object: string;
  message: string;
  /** Rows concerned, where the check counts them. */
  count?: number;
  /** A few of them (key or column values as text), at most RESTORE_ISSUE_EXAMPLES. */
  examples?: string[];
}

export const RESTORE_ISSUE_EXAMPLES = 3;

export interface RestoreChecks {
  blockers: RestoreIssue[];
  warnings: RestoreIssue[];
}

/** A dry run: per-table counts, and what would stop the restore or reach beyond it. */
export interface DryRunResult extends RestoreChecks {
  /** Tables a blocker keeps from being read at all (a missing table or column) are left out. */
  tables: PlanTableResult[];
  /** A scoped restore with its files: paths (as the files column names them) it would write and remove. */
  files?: { write: string[]; remove: string[] };
}

export interface SchemaDifference {
  table: string;
  kind: 'missing-table' | 'extra-table' | 'missing-column' | 'extra-column' | 'type-changed' | 'primary-key-changed';
  column?: string;
  expected?: string;
  actual?: string;
}

export interface Dialect {
  readonly engine: EngineName;
  readonly encoding: RowEncoding;
  serverVersion(): Promise<string>;
  /** All user tables, structure included, minus the names in `exclude`. */
  listTables(exclude?: string[]): Promise<TableInfo[]>;
  /** Stable SHA-256 over table names, column names/types/nullability and primary keys. */
  fingerprint(tables: TableInfo[]): string;
  /** Compares recorded structure with the live database. */
  compareSchema(expected: TableInfo[]): Promise<SchemaDifference[]>;
  /**
   * Opens one consistent snapshot over `tables`; `parallel` readers may share it. With
   * `wholeDatabase` the snapshot also carries the whole database's DDL, large objects,
   * every sequence and an inventory (engines that support it).
   */
  openSnapshot(tables: string[], opts?: { parallel?: number; wholeDatabase?: boolean }): Promise<Snapshot>;
  /**
   * Starts, without waiting for it, what only a backup needs (PostgreSQL: finding pg_dump and the
   * thread that runs it), so that it overlaps the snapshot's opening. Called as a backup begins;
   * other snapshots (a scoped restore's plan, a deep verify) do without it.
   */
  prepareBackup?(): void;
  /**
   * Compares the live database (a deep verify's scratch restore of `tables`) with a backup's
   * inventory: the first differing object in words, or null when they match.
   */
  compareInventory?(expected: Inventory, tables: string[], schemaSql: string): Promise<string | null>;
  /** Runs DDL from a backup into an empty database (disaster recovery, deep verify). */
  applySchema(sql: string): Promise<void>;
  /**
   * Writes the rows all-or-nothing: either every table is restored as asked, or the
   * database is exactly as before (also when the process is killed). Foreign keys in any
   * order, self-references and cycles work; sequences end past the restored values.
   */
  restore(input: RestoreInput): Promise<RestoreTableResult[]>;
  /** What `restore` would do, per table, without writing anything visible. Bounded memory. */
  plan(input: RestoreInput): Promise<PlanTableResult[]>;
  /**
   * What stops a restore of `input` into the live database, from the catalogs alone: no row of
   * the backup is read, so it is cheap enough to run before every restore (missing schemas,
   * tables and columns, NOT NULL columns the backup has no value for, sequences and roles).
   */
  checkRestore(input: RestoreInput): Promise<RestoreChecks>;
  /**
   * `plan` plus `checkRestore` plus the checks that need the backup's rows (foreign keys,
   * unique keys, NOT NULL, CHECK, values the target refuses), set-based in the database on the
   * rows the plan stages anyway. Writes nothing visible; bounded memory.
   */
  dryRun(input: RestoreInput): Promise<DryRunResult>;
  /**
   * Removes what restores killed mid-way left outside the data (PostgreSQL: shadow tables of
   * parallel loads). The data itself is never affected. Engines without such leftovers omit it.
   */
  dropAbandonedRestoreData?(): Promise<void>;
  /**
   * Whether the restore given `marker` (with the token its onToken received, if any)
   * committed: true, false, or null when the target can no longer tell. Asked only once that
   * restore's process is gone or cut off; a restore still under way is stopped (PostgreSQL)
   * or waited for (SQLite) first.
   */
  restoreCommitted(marker: { id: string; token: string | null }): Promise<boolean | null>;
  /**
   * Recreates a full backup's database in an empty one, all or nothing in one transaction:
   * pre-data DDL, rows, sequences, large objects, post-data DDL (indexes, constraints, NOT VALID
   * ones included, triggers, policies, matview refreshes). A failure leaves the target empty.
   */
  restoreDatabase?(db: DatabaseRestoreInput, input: RestoreInput): Promise<DatabaseRestoreResult>;
  /**
   * What stops `restoreDatabase` of this DDL into this (empty) database, found without writing:
   * extensions the server cannot install (blockers), roles the ownership and grants name that
   * the cluster lacks (warnings: those statements are skipped).
   */
  checkRestoreDatabase?(db: Pick<DatabaseRestoreInput, 'ddl' | 'noOwner' | 'noPrivileges'>): Promise<RestoreChecks>;
  /** The live database's inventory (object kinds per schema; `rows` left empty), to compare with a manifest's. */
  inventory?(): Promise<Inventory>;
  close(): Promise<void>;
}
