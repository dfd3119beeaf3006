/**
 * A full backup's DDL is the whole database as pg_dump sees it: its own pre-data and
 * post-data sections, taken on the backup's exported snapshot, for every schema but
 * PostgreSQL's own, Strongroom's restore schemas and what configuration excludes. Nothing is
 * re-derived here; this file only decides the exclusions and runs pg_dump. Large objects
 * travel as pg_dump's data section for blobs (their metadata, owners and ACLs are pre-data).
 */
import { spawn } from 'node:child_process';
import { Readable } from 'node:stream';
import type { Queryable } from './pg-catalog';
import { notExtensionMemberSql, userSchemaSql } from './pg-catalog';
import { childConnection, displayName, displayNameSql, quoteIdent } from './pg-session';
import { runPgDump, stripPsqlMetaCommands } from './pg-schema-dump';
import type { SequenceValue } from '../dialect';

/** What configuration leaves out of a full backup (BACKUP_INCLUDE_SCHEMAS... glob patterns). */
export interface WholeScopeOptions {
  includeSchemas?: string[];
  excludeSchemas?: string[];
  /** Tables whose rows are left out; their definition stays (views over them still restore). */
  excludeTables?: string[];
}

/** One thing a full backup left out, and why; recorded in the manifest. */
export interface ExcludedObject {
  kind: 'schema' | 'table' | 'table-data';
  name: string;
  reason: string;
}

export interface WholeScope {
  /** Schemas pg_dump skips (-N). */
  schemas: string[];
  /** Relations pg_dump skips entirely (-T): tables the caller did not ask for (bookkeeping), and their sequences. */
  tables: { schema: string; rel: string; name: string }[];
  /** Tables whose rows are not backed up. */
  dataOnly: string[];
  excluded: ExcludedObject[];
}

/** `*` any run of characters, `?` one; everything else literal. Whole-name match. */
export function globMatcher(patterns: string[]): (name: string) => boolean {
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${p
          .split('')
          .map((ch) => (ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&')))
          .join('')}$`,
      ),
  );
  return (name) => res.some((r) => r.test(name));
}

/**
 * Decides the exclusions. `wanted` are the tables the caller backs up (display names); any
 * other table of an included schema is one the caller left out on purpose (Strongroom's own
 * bookkeeping tables) and goes with its definition.
 */
export async function resolveWholeScope(db: Queryable, wanted: string[], opts: WholeScopeOptions): Promise<WholeScope> {
  const schemas = (
    await db.query<{ name: string }>(
      `SELECT n.nspname AS name FROM pg_namespace n WHERE ${userSchemaSql('n')} ORDER BY 1`,
    )
  ).rows.map((r) => r.name);
  const include = opts.includeSchemas?.length ? globMatcher(opts.includeSchemas) : () => true;
  const exclude = globMatcher(opts.excludeSchemas ?? []);
  const excluded: ExcludedObject[] = [];
  const out = new Set<string>();
  for (const s of schemas) {
    if (!include(s)) excluded.push({ kind: 'schema', name: s, reason: 'not in BACKUP_INCLUDE_SCHEMAS' });
    else if (exclude(s)) excluded.push({ kind: 'schema', name: s, reason: 'in BACKUP_EXCLUDE_SCHEMAS' });
    else continue;
    out.add(s);
  }
  const { rows } = await db.query<{ schema: string; rel: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS rel, ${displayNameSql('n', 'c')} AS name
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE ${userSchemaSql('n')} AND c.relkind IN ('r', 'p') AND NOT c.relispartition AND ${notExtensionMemberSql('c')}
     ORDER BY 3`,
  );
  const want = new Set(wanted);
  const dataOut = globMatcher(opts.excludeTables ?? []);
  const tables: WholeScope['tables'] = [];
  const dataOnly: string[] = [];
  for (const r of rows) {
    if (out.has(r.schema)) continue;
    if (!want.has(r.name)) {
      tables.push(r);
      excluded.push({ kind: 'table', name: r.name, reason: "Strongroom's own bookkeeping (or not asked for)" });
    } else if (dataOut(r.name) || dataOut(`${r.schema}.${r.rel}`)) {
      dataOnly.push(r.name);
      excluded.push({ kind: 'table-data', name: r.name, reason: 'in BACKUP_EXCLUDE_TABLES (its definition is kept)' });
    }
  }
  // pg_dump keeps a serial column's sequence when its table is excluded; it goes with the table here.
  const owned = tables.length
    ? (
        await db.query<{ schema: string; rel: string; name: string }>(
          `SELECT n.nspname AS schema, s.relname AS rel, ${displayNameSql('n', 's')} AS name
         FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace n ON n.oid = s.relnamespace
         JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
         WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
           AND ${displayNameSql('tn', 't')} = ANY($1::text[])`,
          [tables.map((t) => t.name)],
        )
      ).rows
    : [];
  return { schemas: [...out], tables: [...tables, ...owned], dataOnly, excluded };
}

function scopeArgs(scope: WholeScope): string[] {
  return [
    // A restore's shadow schemas are never data (pg_dump sees them while a restore runs).
    '--exclude-schema=strongroom_restore_*',
    ...scope.schemas.map((s) => `--exclude-schema=${quoteIdent(s)}`),
    ...scope.tables.map((t) => `--exclude-table=${quoteIdent(t.schema)}.${quoteIdent(t.rel)}`),
  ];
}

export interface SectionDumpInput {
  url: string;
  pgDumpPath: string;
  snapshotId: string;
  scope: WholeScope;
  signal: AbortSignal;
}

/**
 * pre-data: schemas, extensions, types, functions, tables, sequences, views, large object
 * metadata, grants... post-data: indexes, constraints (NOT VALID ones too), triggers, rules,
 * policies, matview refreshes. Owners and grants are kept: a restore can leave them out.
 * Tablespaces, security labels and subscriptions are left out (they belong to the cluster).
 */
export async function dumpSections(input: SectionDumpInput): Promise<{ preData: string; postData: string }> {
  const conn = childConnection(input.url);
  const base = [
    '--no-tablespaces',
    '--no-security-labels',
    '--no-subscriptions',
    `--snapshot=${input.snapshotId}`,
    ...scopeArgs(input.scope),
    `--dbname=${conn.url}`,
  ];
  // One after the other, not side by side: each run reads the whole catalog (its server backend
  // costs ~150 ms of CPU even on a small database), and two at once took both cores of a two-core
  // machine at the start of every backup: in a minute of back-to-back backups nearly every API
  // request slower than 40 ms fell in those bursts (p99 52 -> 33 ms, docs/reliability.md). The
  // dump runs beside the row exports, so the extra ~150 ms is hidden behind them on any real table.
  const pre = await runPgDump(input.pgDumpPath, ['--section=pre-data', ...base], conn.env, input.signal);
  const post = await runPgDump(input.pgDumpPath, ['--section=post-data', ...base], conn.env, input.signal);
  return { preData: stripPsqlMetaCommands(pre), postData: stripPsqlMetaCommands(post) };
}

/** The blobs' contents as pg_dump writes them (lo_open/lowrite/lo_close), streamed. */
export function dumpLargeObjects(input: SectionDumpInput): Readable {
  const conn = childConnection(input.url);
  const args = [
    '--section=data',
    '--exclude-table-data=*.*',
    `--snapshot=${input.snapshotId}`,
    ...scopeArgs(input.scope),
    `--dbname=${conn.url}`,
  ];
  const child = spawn(input.pgDumpPath, args, {
    env: { ...process.env, ...conn.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    signal: input.signal,
  });
  const err: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const out = new Readable({
    read() {
      child.stdout.resume();
    },
  });
  child.stdout.on('data', (b: Buffer) => {
    if (!out.push(b)) child.stdout.pause();
  });
  child.on('error', (e) => out.destroy(new Error(`pg_dump could not run: ${e.message}`)));
  child.on('close', (code, sig) => {
    if (code === 0) return out.push(null);
    out.destroy(
      new Error(
        `pg_dump of large objects failed (${sig ?? `exit ${code}`}): ${Buffer.concat(err).toString('utf8').trim()}`,
      ),
    );
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return out;
}

export async function hasLargeObjects(db: Queryable): Promise<boolean> {
  return (await db.query<{ any: boolean }>('SELECT EXISTS (SELECT 1 FROM pg_largeobject_metadata) AS any')).rows[0].any;
}

/**
 * Every sequence in scope, free-standing and descending ones included, with its exact state
 * (last_value even when is_called is false: setval(v, false) leaves it there).
 */
export async function readAllSequences(db: Queryable, scope: WholeScope): Promise<SequenceValue[]> {
  const { rows } = await db.query<{ schema: string; rel: string }>(
    `SELECT n.nspname AS schema, c.relname AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind = 'S' AND ${userSchemaSql('n')} AND ${notExtensionMemberSql('c')}
       AND NOT (n.nspname = ANY($1::text[]))
       AND NOT EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
                       WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
                         AND d.deptype IN ('a', 'i') AND ${displayNameSql('tn', 't')} = ANY($2::text[]))
     ORDER BY 1, 2`,
    [scope.schemas, scope.tables.map((t) => t.name)],
  );
  const out: SequenceValue[] = [];
  for (const r of rows) {
    const v = (
      await db.query<{ last_value: string; is_called: boolean }>(
        `SELECT last_value::text AS last_value, is_called FROM ${quoteIdent(r.schema)}.${quoteIdent(r.rel)}`,
      )
    ).rows[0];
    out.push({ name: displayName(r.schema, r.rel), lastValue: v.last_value, isCalled: v.is_called });
  }
  return out;
}
