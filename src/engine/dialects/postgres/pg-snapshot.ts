/**
 * One consistent read of the database: a REPEATABLE READ READ ONLY transaction exports its
 * snapshot, and up to `parallel` worker connections adopt it (SET TRANSACTION SNAPSHOT),
 * so tables streamed at the same time, the sequences and pg_dump all see the same instant.
 * The exporting transaction stays open until close(): workers can be (re)opened lazily.
 */
import { Transform } from 'node:stream';
import type { Client } from 'pg';
import { to as copyTo } from 'pg-copy-streams';
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
} from '../dialect';
import { readSequenceLinks, readTables, relationSql, type SequenceLink } from './pg-catalog';
import { missingFromDump, readInventoryObjects, summarize } from './pg-inventory';
import { readDatabaseRoles } from './pg-roles';
import { dumpSchema } from './pg-schema-dump';
import { connect, destroyClient, qualify, quoteIdent, quoteLiteral, splitName } from './pg-session';
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

const NEWLINE = 0x0a;

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

  exportTable(name: string, where?: string): TableExport {
    const table = this.tables.find((t) => t.name === name);
    if (!table) throw new Error(`table "${name}" is not in this snapshot`);
    const cols = table.columns.filter((c) => !c.generated).map((c) => quoteIdent(c.name));
    const order = table.primaryKey.length ? ` ORDER BY ${table.primaryKey.map(quoteIdent).join(', ')}` : '';
    const filter = where ? ` WHERE ${where}` : '';
    const sql = `COPY (SELECT ${cols.join(', ')} FROM ${relationSql(table)}${filter}${order}) TO STDOUT`;
    let rows = 0;
    // COPY text escapes newlines inside values, so each 0x0A ends exactly one row.
    const out = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        for (let i = chunk.indexOf(NEWLINE); i !== -1; i = chunk.indexOf(NEWLINE, i + 1)) rows++;
        cb(null, chunk);
      },
    });
    this.acquire().then(
      (worker) => this.stream(worker, sql, name, out),
      (err: Error) => out.destroy(new Error(`export of table "${name}" failed: ${err.message}`)),
    );
    return { stream: out, rowCount: () => rows };
  }

  private stream(worker: Client, sql: string, name: string, out: Transform): void {
    if (out.destroyed) return this.release(worker);
    let copied = false;
    const copy = worker.query(copyTo(sql));
    copy.on('end', () => {
      copied = true;
      this.release(worker);
    });
    copy.on('error', (err: Error) => {
      copied = true;
      // The worker's transaction is aborted; a fresh worker can adopt the snapshot again.
      this.discard(worker);
      out.destroy(new Error(`export of table "${name}" failed: ${err.message}`));
    });
    out.on('close', () => {
      if (copied) return;
      copied = true;
      // The reader gave up mid-COPY: the connection cannot be reused, so drop it.
      copy.unpipe(out);
      this.discard(worker);
    });
    copy.pipe(out);
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
    this.openWorker().then(
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

  private async openWorker(): Promise<Client> {
    const w = await connect(this.opts.url, 'strongroom-snapshot-worker');
    try {
      await w.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      await w.query(`SET TRANSACTION SNAPSHOT ${quoteLiteral(this.snapshotId)}`);
    } catch (err) {
      destroyClient(w);
      throw err;
    }
    return w;
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
