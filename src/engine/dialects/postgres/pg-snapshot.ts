/**
 * One consistent read of the database: a REPEATABLE READ READ ONLY transaction exports its
 * snapshot, and up to `parallel` worker connections adopt it (SET TRANSACTION SNAPSHOT),
 * so tables streamed at the same time, the sequences and pg_dump all see the same instant.
 * The exporting transaction stays open until close(): workers can be (re)opened lazily.
 */
import type { Client } from 'pg';
import type { Readable } from 'node:stream';
import type {
  ArchivedRoles,
  DatabaseDdl,
  ExcludedObject,
  Inventory,
  SequenceValue,
  Snapshot,
  TableExport,
  TableInfo,
  TableRowFormat,
} from '../dialect';
import { partWorkers } from '../../archive/part-worker-pool';
import { readSequenceLinks, readTables, type SequenceLink } from './pg-catalog';
import { BINARY_ROW_FORMAT, binaryCopyTables } from './pg-copy-binary';
import { connectAtSnapshot, copyInto, copyOutSql, countedRows, type PgCopySource } from './pg-copy-out';
import { missingFromDump, readInventoryObjects, summarize } from './pg-inventory';
import { readDatabaseRoles } from './pg-roles';
import { dumpSchema } from './pg-schema-dump';
import { connect, destroyClient, qualify, quoteIdent, splitName } from './pg-session';
import {
  dumpLargeObjects,
  dumpSections,
  hasLargeObjects,
  readAllSequences,
  resolveWholeScope,
  type WholeScope,
  type WholeScopeOptions,
} from './pg-whole-dump';

export interface SnapshotOptions {
  url: string;
  tables: string[];
  parallel: number;
  pgDumpPath(): Promise<string>;
  /** Whole-database mode (full backups): these exclusions apply. */
  whole?: WholeScopeOptions;
}

export class PostgresSnapshot implements Snapshot {
  tables: TableInfo[] = [];
  private main!: Client;
  private snapshotId = '';
  private closed = false;
  private readonly abort = new AbortController();
  private readonly workers = new Set<Client>();
  private readonly idle: Client[] = [];
  private readonly waiters: { resolve(c: Client): void; reject(e: Error): void }[] = [];
  private opening = 0;
  private links: SequenceLink[] | null = null;
  private scope: WholeScope | null = null;
  /** Tables whose rows can travel as binary COPY (pg-copy-binary.ts). */
  private binary = new Set<string>();
  excluded?: ExcludedObject[];

  private constructor(private readonly opts: SnapshotOptions) {}

  static async open(opts: SnapshotOptions): Promise<PostgresSnapshot> {
    const snap = new PostgresSnapshot(opts);
    try {
      await snap.begin();
    } catch (err) {
      await snap.close();
      throw err;
    }
    return snap;
  }

  private async begin(): Promise<void> {
    this.main = await connect(this.opts.url, 'strongroom-snapshot');
    await this.main.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    this.snapshotId = (await this.main.query<{ id: string }>('SELECT pg_export_snapshot() AS id')).rows[0].id;
    const all = await readTables(this.main);
    const byName = new Map(all.map((t) => [t.name, t]));
    const missing = this.opts.tables.filter((n) => !byName.has(n));
    if (missing.length) throw new Error(`cannot back up: table(s) not found: ${missing.join(', ')}`);
    const wanted = new Set(this.opts.tables);
    if (this.opts.whole) {
      this.scope = await resolveWholeScope(this.main, this.opts.tables, this.opts.whole);
      this.excluded = this.scope.excluded;
      const schemaOut = new Set(this.excluded.filter((e) => e.kind === 'schema').map((e) => e.name));
      const dataOut = new Set(this.scope.dataOnly);
      for (const t of all) if (dataOut.has(t.name) || schemaOut.has(splitName(t.name).schema)) wanted.delete(t.name);
    }
    this.tables = all.filter((t) => wanted.has(t.name));
    this.binary = await binaryCopyTables(
      this.main,
      this.tables.map((t) => t.name),
    );
    if (this.tables.length) {
      // Holds off DROP/ALTER/TRUNCATE of the tables until the backup ends; plain writes go on.
      await this.main.query(`LOCK TABLE ${this.tables.map((t) => qualify(t.name)).join(', ')} IN ACCESS SHARE MODE`);
    }
  }

  async schemaSql(): Promise<string> {
    this.assertOpen();
    const links = await this.sequenceLinks();
    const seqs = new Map(links.map((l) => [l.sequence, { schema: l.schema, relname: l.relname }]));
    return dumpSchema({
      db: this.main,
      url: this.opts.url,
      pgDumpPath: await this.opts.pgDumpPath(),
      snapshotId: this.snapshotId,
      tables: this.tables.map((t) => t.name),
      sequences: [...seqs.values()],
      signal: this.abort.signal,
    });
  }

  async databaseDdl(): Promise<DatabaseDdl> {
    this.assertOpen();
    if (!this.scope) throw new Error('databaseDdl() needs a whole-database snapshot');
    return dumpSections({
      url: this.opts.url,
      pgDumpPath: await this.opts.pgDumpPath(),
      snapshotId: this.snapshotId,
      scope: this.scope,
      signal: this.abort.signal,
    });
  }

  async largeObjects(): Promise<Readable | null> {
    this.assertOpen();
    if (!this.scope || !(await hasLargeObjects(this.main))) return null;
    return dumpLargeObjects({
      url: this.opts.url,
      pgDumpPath: await this.opts.pgDumpPath(),
      snapshotId: this.snapshotId,
      scope: this.scope,
      signal: this.abort.signal,
    });
  }

  async roles(): Promise<ArchivedRoles> {
    this.assertOpen();
    if (!this.scope) throw new Error('roles() needs a whole-database snapshot');
    return readDatabaseRoles(this.main);
  }

  /** Kept for whole-database backups only: a `tables` backup's DDL is per table, not pg_dump's sections. */
  async inventory(ddl: DatabaseDdl | null, rows: Record<string, number>): Promise<Inventory | undefined> {
    this.assertOpen();
    if (!this.scope || !ddl) return undefined;
    const objects = await readInventoryObjects(
      this.main,
      this.scope.schemas,
      this.scope.tables.map((t) => t.name),
    );
    const missing = missingFromDump(objects, `${ddl.preData}\n${ddl.postData}`);
    if (missing.length) {
      const names = missing.slice(0, 5).map((o) => `${o.kind} ${o.schema ? `${o.schema}.` : ''}${o.name}`);
      throw new Error(
        `the backup could not capture ${missing.length} object(s) of the database: ${names.join(', ')}${missing.length > 5 ? ', ...' : ''}`,
      );
    }
    const unread = this.tables.filter((t) => rows[t.name] === undefined).map((t) => t.name);
    if (unread.length) throw new Error(`the backup did not archive the rows of table(s) ${unread.join(', ')}`);
    return summarize(objects, rows);
  }

  /** Sequences are not transactional: values are read now, not at the snapshot; restore never moves them back. */
  async sequences(): Promise<SequenceValue[]> {
    this.assertOpen();
    if (this.scope) return readAllSequences(this.main, this.scope);
    const links = await this.sequenceLinks();
    const out: SequenceValue[] = [];
    const seen = new Set<string>();
    for (const l of links) {
      if (seen.has(l.sequence)) continue;
      seen.add(l.sequence);
      const { rows } = await this.main.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${quoteIdent(l.schema)}.${quoteIdent(l.relname)}`,
      );
      out.push({
        name: l.sequence,
        lastValue: rows[0].is_called ? rows[0].last_value : null,
        isCalled: rows[0].is_called,
      });
    }
    return out;
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    this.assertOpen();
    return (await this.main.query<Record<string, unknown>>(sql)).rows;
  }

  rowFormat(name: string): TableRowFormat | undefined {
    return this.binary.has(name) ? BINARY_ROW_FORMAT : undefined;
  }

  exportTable(name: string, where?: string, format?: TableRowFormat): TableExport {
    const sql = copyOutSql(this.table(name), where, format);
    const counted = countedRows();
    this.acquire().then(
      (worker) =>
        copyInto(worker, sql, counted, name, (reusable) => {
          // A worker whose transaction failed or that was left mid-COPY is dropped; a fresh one can adopt the snapshot again.
          if (reusable) this.release(worker);
          else this.discard(worker);
        }),
      (err: Error) => counted.stream.destroy(new Error(`export of table "${name}" failed: ${err.message}`)),
    );
    return { stream: counted.stream, rowCount: counted.rows };
  }

  workerSource(name: string, where?: string, format?: TableRowFormat): PgCopySource {
    this.assertOpen();
    return {
      kind: 'pg-copy',
      url: this.opts.url,
      snapshotId: this.snapshotId,
      sql: copyOutSql(this.table(name), where, format),
      table: name,
    };
  }

  private table(name: string): TableInfo {
    const table = this.tables.find((t) => t.name === name);
    if (!table) throw new Error(`table "${name}" is not in this snapshot`);
    return table;
  }

  private async sequenceLinks(): Promise<SequenceLink[]> {
    this.links ??= await readSequenceLinks(
      this.main,
      this.tables.map((t) => t.name),
    );
    return this.links;
  }

  private acquire(): Promise<Client> {
    if (this.closed) return Promise.reject(new Error('snapshot is closed'));
    const c = this.idle.pop();
    if (c) return Promise.resolve(c);
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.grow();
    });
  }

  private grow(): void {
    if (!this.waiters.length || this.workers.size + this.opening >= this.opts.parallel) return;
    this.opening++;
    connectAtSnapshot(this.opts.url, this.snapshotId).then(
      (w) => {
        this.opening--;
        if (this.closed) return destroyClient(w);
        this.workers.add(w);
        this.release(w);
      },
      (err: Error) => {
        this.opening--;
        this.waiters.shift()?.reject(err);
      },
    );
  }

  private release(w: Client): void {
    if (this.closed) return;
    const next = this.waiters.shift();
    if (next) next.resolve(w);
    else this.idle.push(w);
  }

  private discard(w: Client): void {
    this.workers.delete(w);
    const i = this.idle.indexOf(w);
    if (i >= 0) this.idle.splice(i, 1);
    destroyClient(w);
    if (!this.closed) this.grow();
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('snapshot is closed');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort.abort();
    // Part workers that read tables of this snapshot end their connections to it.
    if (this.snapshotId) partWorkers.releaseSnapshot(this.snapshotId);
    for (const w of this.waiters.splice(0)) w.reject(new Error('snapshot is closed'));
    const idle = new Set(this.idle.splice(0));
    const ends: Promise<unknown>[] = [];
    for (const w of this.workers) {
      if (idle.has(w))
        ends.push(
          w
            .query('ROLLBACK')
            .then(() => w.end())
            .catch(() => destroyClient(w)),
        );
      else destroyClient(w);
    }
    this.workers.clear();
    if (this.main)
      ends.push(
        this.main
          .query('ROLLBACK')
          .then(() => this.main.end())
          .catch(() => destroyClient(this.main)),
      );
    await Promise.all(ends);
  }
}
