/**
 * What a database engine must provide so that Strongroom can back it up and restore it.
 * Plain TypeScript, no Nest: shared by the server, the CLI and the benchmarks.
 *
 * Row data travels as an engine-specific byte stream ("row encoding"): PostgreSQL uses
 * COPY text format (`pg-copy-text`), SQLite uses one JSON array per line (`sqlite-ndjson`).
 * A table's content checksum is the SHA-256 of its row-encoding bytes as exported; a
 * table exported again after a restore into an empty database yields the same bytes.
 */
import type { Readable } from 'node:stream';

export type EngineName = 'postgres' | 'sqlite';
export type RowEncoding = 'pg-copy-text' | 'sqlite-ndjson';
export type RestoreMode = 'replace' | 'merge' | 'missing-only';

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

/** One consistent read-only view of the database for the duration of a backup. */
export interface Snapshot {
  /** Tables in scope, with their structure, in dependency-friendly order (parents first). */
  readonly tables: TableInfo[];
  /** DDL for the tables in scope (PostgreSQL: `pg_dump --schema-only`; SQLite: its schema SQL). */
  schemaSql(): Promise<string>;
  /** Sequence values (PostgreSQL); empty for SQLite. */
  sequences(): Promise<SequenceValue[]>;
  /** Streams one table's rows. Several tables may stream at once (PostgreSQL: parallel workers on the same snapshot). */
  exportTable(name: string): TableExport;
  /** Ends the snapshot: closes transactions and connections, kills child processes. Safe to call twice. */
  close(): Promise<void>;
  /** Whole-database snapshots (PostgreSQL): what configuration and the caller left out. */
  readonly excluded?: ExcludedObject[];
  /** Whole-database snapshots: the DDL in sections (pg_dump's pre-data and post-data). */
  databaseDdl?(): Promise<DatabaseDdl>;
  /** Whole-database snapshots: large objects' contents as SQL, null when there are none. */
  largeObjects?(): Promise<Readable | null>;
  /**
   * Whole-database snapshots: the inventory at the snapshot, checked against what was archived
   * (`ddl`, and `rows` per exported table); throws naming the first object that was not captured.
   */
  inventory?(ddl: DatabaseDdl, rows: Record<string, number>): Promise<Inventory>;
}

export interface RestoreTableInput {
  name: string;
  /** Structure as recorded in the backup manifest. */
  table: TableInfo;
  mode: RestoreMode;
  /** Plaintext bytes of its rows when known (the manifest's), to share the load between connections. */
  bytes?: number;
  /** Opens the table's decoded row stream (decrypted, decompressed, checksum-verified). */
  open(): Promise<Readable>;
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
}

export interface DatabaseRestoreResult {
  tables: RestoreTableResult[];
  /** Roles the backup names (owners, grantees) that the target cluster lacks; their statements were skipped. */
  missingRoles: string[];
}

export interface RestoreInput {
  encoding: RowEncoding;
  tables: RestoreTableInput[];
  /** Sequences to set past the restored values (PostgreSQL). */
  sequences: SequenceValue[];
  onProgress?(p: { table: string; rows: number }): void;
  /** Something went wrong after the restore committed (its rows are in): worth logging, not failing. */
  onWarning?(message: string): void;
  signal?: AbortSignal;
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
  /** Opens one consistent snapshot over `tables`; `parallel` readers may share it. */
  /**
   * Opens one consistent snapshot over `tables`; `parallel` readers may share it. With
   * `wholeDatabase` the snapshot also carries the whole database's DDL, large objects,
   * every sequence and an inventory (engines that support it).
   */
  openSnapshot(tables: string[], opts?: { parallel?: number; wholeDatabase?: boolean }): Promise<Snapshot>;
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
   * Removes what restores killed mid-way left outside the data (PostgreSQL: shadow tables of
   * parallel loads). The data itself is never affected. Engines without such leftovers omit it.
   */
  dropAbandonedRestoreData?(): Promise<void>;
  /**
   * Recreates a full backup's database in an empty one, all or nothing in one transaction:
   * pre-data DDL, rows, sequences, large objects, post-data DDL (indexes, constraints, NOT VALID
   * ones included, triggers, policies, matview refreshes). A failure leaves the target empty.
   */
  restoreDatabase?(db: DatabaseRestoreInput, input: RestoreInput): Promise<DatabaseRestoreResult>;
  /** The live database's inventory (object kinds per schema; `rows` left empty), to compare with a manifest's. */
  inventory?(): Promise<Inventory>;
  close(): Promise<void>;
}
