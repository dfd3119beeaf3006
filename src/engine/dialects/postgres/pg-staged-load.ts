/**
 * Parallel loading for the restore into an empty database (pg-database-restore.ts), still all
 * or nothing. One transaction on one connection left one core idle and the server building
 * every index one after another; pg_restore -j2 loads on two connections but shows each table
 * as soon as it is created. Here each table with rows is first built in a staging schema of
 * the restore's own (`strongroom_restore_<token>_<n>`, one per schema of the backup), from the
 * backup's own CREATE TABLE: loader connections create it, COPY its rows FREEZE and build its
 * indexes, each table committed on its own. The main transaction then runs the pre-data as
 * usual, except that a staged table's CREATE TABLE becomes `ALTER TABLE ... SET SCHEMA`, which
 * moves the loaded table, its indexes with it, to where it belongs; every later statement of
 * the dump (defaults, identities, owners, comments, foreign keys...) applies to it there, as
 * it would to a table it had just created. Until that transaction commits nothing outside the
 * staging schemas exists; a failure or a crash leaves only those, which the restore (or the
 * next one) drops: the invariant of the shadow tables of replace restores (pg-shadow-*.ts).
 *
 * A table is staged only when its definition reads as pg_dump writes a plain table and builds
 * outside the transaction: a column type or default from the backup's own schema (an enum, an
 * extension's function) does not exist yet, so its CREATE fails on the loader and the table
 * takes the main transaction's path instead, as before. The same goes for each index: one that
 * needs a function of the backup's is built by the main transaction. Slower, never different.
 *
 * Large tables (STAGE_SPLIT_BYTES) build their indexes as jobs of their own after the load, so
 * two indexes of one table (a GIN and a btree, say) build at once on two connections: CREATE
 * INDEX takes a SHARE lock, which does not conflict with itself. A plain primary key or unique
 * constraint is built as its unique index and attached by the main transaction (ADD CONSTRAINT
 * ... USING INDEX), which for the same reason lets it build beside the table's other indexes.
 * A foreign key between two staged tables is added by a loader once both are loaded and indexed
 * (a key may reference a plain unique index; the constraint later attached to that index keeps
 * it), so each key's check of every row runs in parallel instead of after everything else.
 */
import type { Readable } from 'node:stream';
import type { Client } from 'pg';
import type { RestoreTableInput } from '../dialect';
import { BINARY_ROW_FORMAT } from './pg-copy-binary';
import { copyIn, storedColumns } from './pg-copy-in';
import { OWNER_LINE, type DumpEntry } from './pg-database-restore';
import { readAheadInOrder } from './pg-read-ahead';
import { indexBuildSql, isGinIndex } from './pg-indexes';
import { connect, destroyClient, quoteIdent, displayName } from './pg-session';
import { BEGIN_LOAD, dealRows, LoadPool, loadError, STAGE_SPLIT_BYTES, tablesToDeal } from './pg-load-pool';
import { RESTORE_APP_PREFIX, shadowSchemaName } from './pg-shadow-prepare';
import { readName, readQualifiedName, replaceQualifiedNames, splitStatements } from './pg-sql-text';

/** An index (or the unique index of a key) one of the loaders builds on its staged table. */
export interface StagedIndex {
  /** Its entry in the post-data section. */
  entry: number;
  /** The statement the loader runs, on the staged table. */
  build: string;
  /** What the main transaction runs instead of the entry once it is built ('' = nothing). */
  attach: string;
  gin: boolean;
}

export interface StagedTable {
  /** Display name, as the restore's tables are named. */
  table: string;
  schema: string;
  name: string;
  stagingSchema: string;
  /** Its TABLE entry in the pre-data section. */
  entry: number;
  /** Session settings of the entry, then its CREATE TABLE and column settings, on the staged table. */
  setup: string[];
  /** What the main transaction runs instead of the entry's statements (its owner line stays). */
  move: string;
  bytes: number;
  indexes: StagedIndex[];
}

/**
 * A foreign key between two staged tables (or of one to itself), which a loader adds once both
 * are loaded and indexed: adding a key checks every row against the referenced table's unique
 * index, and on the main transaction those checks ran one after another once everything else
 * was done (shape f's 499 keys, ~1.1 s). The key moves with its tables like their indexes do.
 */
export interface StagedForeignKey {
  /** Its entry in the post-data section. */
  entry: number;
  /** Display names of the tables it names, its own first (twice for a key to its own table). */
  tables: [string, string];
  /**
   * The entry's statement, on the staged tables, after locking both in one order: two loaders
   * adding keys both ways between two tables would otherwise deadlock (each holding one table,
   * waiting for the other) until the server cancels one, a second later.
   */
  add: string;
}

/** An enum, composite type or domain created ahead in a staging schema, so staged tables can use it. */
export interface StagedType {
  /** Its entry in the pre-data section. */
  entry: number;
  create: string;
  move: string;
}

export interface StagePlan {
  token: string;
  /** pg_dump's preamble (search_path and the other session settings its statements assume). */
  preamble: string;
  schemas: string[];
  types: StagedType[];
  tables: StagedTable[];
  foreignKeys: StagedForeignKey[];
}

/** The staged name of a type of the backup's, or null for any other name. */
type TypeRename = (schema: string, name: string) => string | null;

const CREATE_TAIL = /\n\)(?:\nWITH \([^()]*\))?;$/;

function stagedName(t: Pick<StagedTable, 'stagingSchema' | 'name'>): string {
  return `${quoteIdent(t.stagingSchema)}.${quoteIdent(t.name)}`;
}

/**
 * The statements of an entry, owner lines aside (pg_dump writes each on a line of its own), and
 * without the comments that end the last entry of a section.
 */
function entryStatements(sql: string): string[] {
  const body = sql
    .split('\n')
    .filter((l) => !OWNER_LINE.test(l))
    .join('\n');
  return splitStatements(body).filter((s) => s.split('\n').some((l) => l.trim() !== '' && !l.startsWith('--')));
}

/** pg_dump's session settings between entries (`SET default_table_access_method = heap;`). */
const SESSION_SET = /^SET [a-z_]+ = [^;]*;$/;

/**
 * `ALTER TABLE [ONLY] <table> ALTER COLUMN ...` on this table (storage, compression, statistics
 * target, options: settings that must be in place before the rows are written), rewritten onto
 * the staged table; null for anything else.
 */
function columnSetting(stmt: string, t: StagedTable): string | null {
  const m = /^ALTER TABLE (ONLY )?/.exec(stmt);
  if (!m) return null;
  const q = readQualifiedName(stmt.slice(m[0].length));
  if (!q || q.schema !== t.schema || q.name !== t.name) return null;
  const rest = stmt.slice(m[0].length + q.length);
  if (!rest.startsWith(' ALTER COLUMN ')) return null;
  return `ALTER TABLE ${m[1] ?? ''}${stagedName(t)}${rest}`;
}

/** A TABLE entry pg_dump writes for a plain table, as a staged table; null when it is anything else. */
function stageTable(
  entry: DumpEntry,
  index: number,
  withRows: Map<string, RestoreTableInput>,
  stagingSchema: (schema: string) => string,
  types: TypeRename,
): StagedTable | null {
  const stmts = entryStatements(entry.sql);
  const at = stmts.findIndex((s) => !SESSION_SET.test(s));
  const create = stmts[at];
  if (at < 0 || !create.startsWith('CREATE TABLE ')) return null;
  const q = readQualifiedName(create.slice('CREATE TABLE '.length));
  const input = q && withRows.get(displayName(q.schema, q.name));
  if (!q || !input) return null;
  const head = 'CREATE TABLE '.length + q.length;
  // Partitions (PARTITION OF), typed tables (OF), partitioned and inheriting ones have other shapes.
  if (!create.slice(head).startsWith(' (\n') || !CREATE_TAIL.test(create)) return null;
  const t: StagedTable = {
    table: input.name,
    schema: q.schema,
    name: q.name,
    stagingSchema: stagingSchema(q.schema),
    entry: index,
    setup: [],
    move: '',
    bytes: input.bytes ?? 0,
    indexes: [],
  };
  const settings: string[] = [];
  const move = [...stmts.slice(0, at), `ALTER TABLE ${stagedName(t)} SET SCHEMA ${quoteIdent(q.schema)};`];
  for (const s of stmts.slice(at + 1)) {
    const rewritten = columnSetting(s, t);
    // Settings for the next entry stay with the main transaction; anything else keeps the table there too.
    if (rewritten !== null) settings.push(rewritten);
    else if (SESSION_SET.test(s)) move.push(s);
    else return null;
  }
  t.setup = [
    ...stmts.slice(0, at),
    `CREATE TABLE ${stagedName(t)}${replaceQualifiedNames(create.slice(head), types)}`,
    ...settings,
  ];
  t.move = move.join('\n');
  return t;
}

const KEY = /^ALTER TABLE ONLY /;
const KEY_BODY = /^\n {4}ADD CONSTRAINT /;
const KEY_KIND = /^ (PRIMARY KEY|UNIQUE) \(([^()]*)\);$/;

/**
 * `ALTER TABLE ONLY <table>\n    ADD CONSTRAINT <name><definition>`, as pg_dump writes a
 * constraint entry: the table (as written, and its name), the name as written, and what follows it.
 */
function readConstraint(
  stmt: string,
): { table: string; schema: string; name: string; nameSql: string; definition: string } | null {
  if (!KEY.test(stmt)) return null;
  const at = 'ALTER TABLE ONLY '.length;
  const q = readQualifiedName(stmt.slice(at));
  const rest = q && stmt.slice(at + q.length);
  const body = rest && KEY_BODY.exec(rest);
  const name = body && readName(rest.slice(body[0].length));
  if (!q || !rest || !body || !name) return null;
  return {
    table: stmt.slice(at, at + q.length),
    schema: q.schema,
    name: q.name,
    nameSql: rest.slice(body[0].length, body[0].length + name.length),
    definition: rest.slice(body[0].length + name.length),
  };
}

/** A post-data entry that builds an index of a staged table, rewritten onto it; null for anything else. */
function stageIndex(
  entry: DumpEntry,
  index: number,
  tables: Map<string, StagedTable>,
  types: TypeRename,
): [StagedTable, StagedIndex] | null {
  const stmts = entryStatements(entry.sql);
  if (stmts.length !== 1) return null;
  const stmt = stmts[0];
  if (entry.type === 'INDEX') {
    const m = /^CREATE (UNIQUE )?INDEX /.exec(stmt);
    const ix = m && readName(stmt.slice(m[0].length));
    if (!m || !ix) return null;
    const onAt = m[0].length + ix.length;
    if (!stmt.startsWith(' ON ', onAt)) return null;
    const q = readQualifiedName(stmt.slice(onAt + 4));
    const t = q && tables.get(`${q.schema}\0${q.name}`);
    if (!q || !t || !stmt.startsWith(' USING ', onAt + 4 + q.length)) return null;
    const build = `${stmt.slice(0, onAt + 4)}${stagedName(t)}${replaceQualifiedNames(stmt.slice(onAt + 4 + q.length), types)}`;
    return [t, { entry: index, build, attach: '', gin: isGinIndex(stmt) }];
  }
  const c = entry.type === 'CONSTRAINT' ? readConstraint(stmt) : null;
  const t = c && tables.get(`${c.schema}\0${c.name}`);
  const kind = c && KEY_KIND.exec(c.definition);
  if (c && t && kind) {
    return [
      t,
      {
        entry: index,
        build: `CREATE UNIQUE INDEX ${c.nameSql} ON ${stagedName(t)} USING btree (${kind[2]});`,
        attach: `ALTER TABLE ONLY ${c.table}\n    ADD CONSTRAINT ${c.nameSql} ${kind[1]} USING INDEX ${c.nameSql};`,
        gin: false,
      },
    ];
  }
  return null;
}

/**
 * A foreign key entry between staged tables, rewritten onto them; null for anything else. A key
 * written NOT VALID checks nothing when added, so it gains nothing from a loader.
 */
function stageForeignKey(entry: DumpEntry, index: number, tables: Map<string, StagedTable>): StagedForeignKey | null {
  const stmts = entryStatements(entry.sql);
  if (entry.type !== 'FK CONSTRAINT' || stmts.length !== 1) return null;
  const stmt = stmts[0];
  const c = readConstraint(stmt);
  if (!c?.definition.startsWith(' FOREIGN KEY (') || stmt.endsWith(' NOT VALID;')) return null;
  // Its own table and the referenced one are the only qualified names in what pg_dump writes.
  const named: StagedTable[] = [];
  let other = false;
  const add = replaceQualifiedNames(stmt, (schema, n) => {
    const t = tables.get(`${schema}\0${n}`);
    if (t) named.push(t);
    else other = true;
    return t ? stagedName(t) : null;
  });
  if (other || named.length !== 2) return null;
  const locks = [...new Set(named.map(stagedName))].sort().join(', ');
  return {
    entry: index,
    tables: [named[0].table, named[1].table],
    add: `LOCK TABLE ${locks} IN SHARE ROW EXCLUSIVE MODE;\n${add}`,
  };
}

const TYPE_CREATE: Record<string, RegExp> = { TYPE: /^CREATE TYPE /, DOMAIN: /^CREATE DOMAIN / };
const TYPE_SHAPE: Record<string, RegExp> = { TYPE: /^ AS (ENUM )?\(/, DOMAIN: /^ AS / };

/** An enum, composite type or domain entry, created under its staged name; null for any other entry. */
function stageType(
  entry: DumpEntry,
  index: number,
  stagingSchema: (schema: string) => string,
  types: TypeRename,
): { schema: string; name: string; type: StagedType } | null {
  const create = TYPE_CREATE[entry.type];
  if (!create) return null;
  const stmts = entryStatements(entry.sql);
  if (!stmts.length || !create.test(stmts[0]) || !stmts.slice(1).every((x) => SESSION_SET.test(x))) return null;
  const headLength = create.exec(stmts[0])![0].length;
  const q = readQualifiedName(stmts[0].slice(headLength));
  const rest = q && stmts[0].slice(headLength + q.length);
  // Range and base types create functions of their own, which would not move with them.
  if (!q || !rest || !TYPE_SHAPE[entry.type].test(rest)) return null;
  const staged = `${quoteIdent(stagingSchema(q.schema))}.${quoteIdent(q.name)}`;
  const kind = entry.type === 'DOMAIN' ? 'DOMAIN' : 'TYPE';
  return {
    schema: q.schema,
    name: q.name,
    type: {
      entry: index,
      create: `CREATE ${kind} ${staged}${replaceQualifiedNames(rest, types)}`,
      move: [`ALTER ${kind} ${staged} SET SCHEMA ${quoteIdent(q.schema)};`, ...stmts.slice(1)].join('\n'),
    },
  };
}

/**
 * Which tables load staged, and which of their indexes the loaders build. Tables without rows
 * gain nothing from it and are left to the main transaction.
 */
export function planStaging(
  token: string,
  preData: DumpEntry[],
  postData: DumpEntry[],
  tables: RestoreTableInput[],
): StagePlan {
  const withRows = new Map(tables.filter((t) => (t.bytes ?? 1) > 0).map((t) => [t.name, t]));
  const schemas = new Map<string, string>();
  const stagingSchema = (schema: string): string => {
    if (!schemas.has(schema)) schemas.set(schema, `${shadowSchemaName(token)}_${schemas.size + 1}`);
    return schemas.get(schema)!;
  };
  const typeNames = new Map<string, string>();
  const types: TypeRename = (schema, name) => typeNames.get(`${schema}\0${name}`) ?? null;
  const stagedTypes: StagedType[] = [];
  const staged = new Map<string, StagedTable>();
  preData.forEach((e, i) => {
    const type = stageType(e, i, stagingSchema, types);
    if (type) {
      typeNames.set(
        `${type.schema}\0${type.name}`,
        `${quoteIdent(stagingSchema(type.schema))}.${quoteIdent(type.name)}`,
      );
      stagedTypes.push(type.type);
      return;
    }
    const t = e.type === 'TABLE' && stageTable(e, i, withRows, stagingSchema, types);
    if (t) staged.set(`${t.schema}\0${t.name}`, t);
  });
  const foreignKeys: StagedForeignKey[] = [];
  postData.forEach((e, i) => {
    const found = stageIndex(e, i, staged, types);
    if (found) found[0].indexes.push(found[1]);
    const key = !found && stageForeignKey(e, i, staged);
    if (key) foreignKeys.push(key);
  });
  const list = [...staged.values()].sort((a, b) => b.bytes - a.bytes || (a.table < b.table ? -1 : 1));
  // Only the types some staged table may use are worth creating ahead; all of them are few and cheap.
  return {
    token,
    preamble: preData.find((e) => e.type === '')?.sql ?? '',
    schemas: [...schemas.values()],
    types: list.length ? stagedTypes : [],
    tables: list,
    foreignKeys,
  };
}

export interface StageResult {
  /** Staged tables by display name, with the rows each took. */
  tables: Map<string, StagedTable & { rowsWritten: number }>;
  /** Pre-data entries staged (types and tables), and the move the main transaction runs in their place. */
  moves: Map<number, string>;
  /** Post-data entries the loaders built, and what the main transaction runs in their place. */
  built: Map<number, string>;
}

export interface StageOptions {
  url: string;
  /** Loader connections. */
  parallel: number;
  maintenanceWorkMem: string;
  /** default_toast_compression of the loaders, or null for the server's. */
  toastCompression?: string | null;
  signal?: AbortSignal;
  onProgress?(p: { table: string; rows: number }): void;
}

/** Errors of a statement that names something only the backup's schema would create: try it on the main path. */
function needsTheSchema(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('42') || code === '3F000';
}

/**
 * Runs `sql` under a savepoint of the open transaction: false when it names something only the
 * backup's schema would create (the main transaction then runs the original), throws otherwise.
 */
async function attempt(c: Client, sql: string): Promise<boolean> {
  await c.query('SAVEPOINT strongroom_stage');
  try {
    await c.query(sql);
    await c.query('RELEASE SAVEPOINT strongroom_stage');
    return true;
  } catch (err) {
    if (!needsTheSchema(err)) throw err;
    await c.query('ROLLBACK TO SAVEPOINT strongroom_stage');
    return false;
  }
}

/**
 * Creates the staging schemas and runs the loaders. Settles only when every loader connection
 * is closed; the first failure stops the others and is what it rejects with. The caller drops
 * the staging schemas when anything after this fails.
 */
export async function runStaging(
  plan: StagePlan,
  inputs: RestoreTableInput[],
  opts: StageOptions,
): Promise<StageResult> {
  const result: StageResult = { tables: new Map(), moves: new Map(), built: new Map() };
  if (!plan.tables.length) return result;
  const app = `${RESTORE_APP_PREFIX}${plan.token}`;
  const ahead = readAheadInOrder(
    inputs,
    plan.tables.map((t) => t.table),
  );
  const byName = ahead.byName;
  const toDeal = tablesToDeal(plan.tables, opts.parallel);
  const setup = await connect(opts.url, app);
  try {
    await setup.query(plan.preamble);
    await setup.query('BEGIN');
    await setup.query(plan.schemas.map((s) => `CREATE SCHEMA ${quoteIdent(s)}`).join(';\n'));
    for (const type of plan.types) {
      if (await attempt(setup, type.create)) result.moves.set(type.entry, type.move);
    }
    await setup.query('COMMIT');
  } finally {
    await setup.end().catch(() => destroyClient(setup));
  }

  const pool = new LoadPool({
    url: opts.url,
    app,
    parallel: opts.parallel,
    maintenanceWorkMem: opts.maintenanceWorkMem,
    toastCompression: opts.toastCompression,
    preamble: plan.preamble,
    signal: opts.signal,
  });
  for (const t of plan.tables) pool.load((c) => load(c, t));

  // A foreign key is added once both its tables are loaded and every index of theirs is built:
  // its check then reads the referenced table's unique index, and it waits on no build's lock.
  const jobsLeft = new Map<string, number>();
  const keysOf = new Map<string, StagedForeignKey[]>();
  for (const key of plan.foreignKeys) {
    for (const name of new Set(key.tables)) {
      if (!keysOf.has(name)) keysOf.set(name, []);
      keysOf.get(name)!.push(key);
    }
  }
  /** One job of `t`'s is done (its load with the builds it ran, or a build of its own). */
  function jobDone(t: StagedTable): void {
    const left = (jobsLeft.get(t.table) ?? 1) - 1;
    jobsLeft.set(t.table, left);
    if (left > 0) return;
    for (const key of keysOf.get(t.table) ?? []) {
      if (key.tables.every((name) => jobsLeft.get(name) === 0)) pool.follow((c) => addForeignKey(c, key));
    }
  }

  /** COPYs `source` into the staged table; FREEZE only in the transaction that created it. */
  function copyRows(
    c: Client,
    t: StagedTable,
    input: RestoreTableInput,
    source: Readable,
    freeze: boolean,
    onRows: (rows: number) => void,
  ): Promise<number> {
    const columns = storedColumns(input.table);
    return copyIn(c, {
      target: stagedName(t),
      columns,
      source,
      onRows,
      signal: pool.signal,
      freeze,
      format: input.rowFormat,
    });
  }

  async function load(c: Client, t: StagedTable): Promise<void> {
    const input = byName.get(t.table)!;
    const dealt = toDeal.has(t.table);
    try {
      // A table dealt out is committed empty first, so that every loader sees it.
      await c.query(`${BEGIN_LOAD}\n${t.setup.join('\n')}${dealt ? '\nCOMMIT;' : ''}`);
    } catch (err) {
      await c.query('ROLLBACK');
      // One the loader cannot create is created and loaded by the main transaction.
      if (needsTheSchema(err)) return;
      throw err;
    }
    let rows: number;
    try {
      const onRows = (n: number): void => opts.onProgress?.({ table: t.table, rows: n });
      rows = dealt
        ? await dealRows(
            pool,
            c,
            t,
            await input.open(),
            input.rowFormat === BINARY_ROW_FORMAT,
            (client, source, onShare) => copyRows(client, t, input, source, false, onShare),
            onRows,
          )
        : await copyRows(c, t, input, await input.open(), true, onRows);
    } catch (err) {
      throw loadError(t, err);
    }
    const split = t.bytes >= STAGE_SPLIT_BYTES && t.indexes.length > 1;
    await buildIndexes(c, t, split ? [] : t.indexes, dealt ? BEGIN_LOAD : '');
    result.tables.set(t.table, { ...t, rowsWritten: rows });
    result.moves.set(t.entry, t.move);
    if (split) {
      jobsLeft.set(t.table, 1 + t.indexes.length);
      for (const index of [...t.indexes].sort((a, b) => Number(b.gin) - Number(a.gin)))
        pool.follow(async (client) => {
          await buildIndexes(client, t, [index], BEGIN_LOAD);
          jobDone(t);
        });
    }
    jobDone(t);
  }

  /**
   * Adds a foreign key on the staged tables. One that fails here (its referenced index left to
   * the main transaction, a deadlock with a key the other way, rows that break it) is left to
   * the main transaction, which adds it as pg_dump wrote it, or fails the restore naming it.
   */
  async function addForeignKey(c: Client, key: StagedForeignKey): Promise<void> {
    try {
      await c.query(`${BEGIN_LOAD}\n${key.add}\nCOMMIT;`);
      result.built.set(key.entry, '');
    } catch (err) {
      // A server's refusal has a SQLSTATE; anything else (a lost connection, the pool stopping) is the restore's failure.
      if (!(err as { code?: string }).code || pool.signal.aborted) throw err;
      await c.query('ROLLBACK');
    }
  }

  /**
   * Builds `list` and commits, in one message when all build; should one fail, each is tried
   * alone and one the loader cannot build is left to the main transaction.
   */
  async function buildIndexes(c: Client, t: StagedTable, list: StagedIndex[], begin: string): Promise<void> {
    const ddl = (ix: StagedIndex): string => indexBuildSql(ix.build, opts.maintenanceWorkMem);
    const builds = list.map((ix) => `${ddl(ix)};`).join('\n');
    const savepoint = list.length ? 'SAVEPOINT strongroom_stage_all;' : '';
    try {
      await c.query(`${begin}\n${savepoint}\n${builds}\nCOMMIT;`);
      for (const ix of list) result.built.set(ix.entry, ix.attach);
      return;
    } catch (err) {
      if (!list.length) throw err;
      // Nothing of the message is left but the transaction, aborted at the failing build.
      await c.query('ROLLBACK TO SAVEPOINT strongroom_stage_all').catch(() => {
        throw err;
      });
    }
    for (const ix of list) {
      try {
        if (await attempt(c, ddl(ix))) result.built.set(ix.entry, ix.attach);
      } catch (err) {
        throw new Error(`restore of table "${t.table}" failed building an index: ${(err as Error).message}`);
      }
    }
    await c.query('COMMIT');
  }

  try {
    await pool.run();
  } finally {
    ahead.close();
  }
  return result;
}
