/**
 * DDL for the tables in scope: `pg_dump --schema-only` limited to those tables, their
 * partitions and sequences, preceded by what `-t` leaves out but a restore into an empty
 * database needs: schemas, enum types used by the columns, and the functions the tables'
 * defaults, constraints and triggers call (e.g. the audit table's append-only triggers).
 */
import { spawnOffThread } from '../../off-thread-spawn';
import { displayNameSql, quoteIdent, quoteLiteral, childConnection } from './pg-session';
import type { Queryable } from './pg-catalog';

export interface SchemaDumpInput {
  db: Queryable;
  url: string;
  pgDumpPath: string;
  snapshotId: string;
  tables: string[];
  sequences: { schema: string; relname: string }[];
  signal: AbortSignal;
}

/** In-scope tables plus all their partitions (pg_dump -t does not follow partitioning). */
async function withPartitions(
  db: Queryable,
  tables: string[],
): Promise<{ oids: number[]; schemas: string[]; patterns: string[] }> {
  const { rows } = await db.query<{ oid: number; schema: string; relname: string }>(
    `WITH RECURSIVE tree AS (
       SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE ${displayNameSql('n', 'c')} = ANY($1::text[])
       UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid
         JOIN pg_class p ON p.oid = i.inhrelid AND p.relispartition
     )
     SELECT c.oid::int AS oid, n.nspname AS schema, c.relname FROM tree JOIN pg_class c ON c.oid = tree.oid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     ORDER BY 2, 3`,
    [tables],
  );
  return {
    oids: rows.map((r) => r.oid),
    schemas: rows.map((r) => r.schema),
    patterns: rows.map((r) => pattern(r.schema, r.relname)),
  };
}

async function enumDdl(db: Queryable, oids: number[]): Promise<{ schemas: string[]; ddl: string[] }> {
  const { rows } = await db.query<{ schema: string; name: string; labels: string[] }>(
    `SELECT n.nspname AS schema, t.typname AS name,
            array(SELECT e.enumlabel FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder)::text[] AS labels
     FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
     WHERE t.typtype = 'e' AND t.oid IN (
       SELECT CASE WHEN at.typelem <> 0 AND at.typlen = -1 THEN at.typelem ELSE at.oid END
       FROM pg_attribute a
       JOIN pg_type at ON at.oid = a.atttypid
       WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped)
     ORDER BY 1, 2`,
    [oids],
  );
  return {
    schemas: rows.map((r) => r.schema),
    ddl: rows.map(
      (r) =>
        `CREATE TYPE ${quoteIdent(r.schema)}.${quoteIdent(r.name)} AS ENUM (${r.labels.map(quoteLiteral).join(', ')});`,
    ),
  };
}

async function functionDdl(db: Queryable, oids: number[]): Promise<{ schemas: string[]; ddl: string[] }> {
  const { rows } = await db.query<{ schema: string; def: string }>(
    `WITH rels AS (SELECT unnest($1::oid[]) AS oid), fns AS (
       SELECT d.refobjid AS oid FROM pg_depend d JOIN pg_attrdef ad ON ad.oid = d.objid
       WHERE d.classid = 'pg_attrdef'::regclass AND d.refclassid = 'pg_proc'::regclass AND ad.adrelid IN (SELECT oid FROM rels)
       UNION
       SELECT d.refobjid FROM pg_depend d JOIN pg_constraint k ON k.oid = d.objid
       WHERE d.classid = 'pg_constraint'::regclass AND d.refclassid = 'pg_proc'::regclass AND k.conrelid IN (SELECT oid FROM rels)
       UNION
       SELECT tg.tgfoid FROM pg_trigger tg WHERE NOT tg.tgisinternal AND tg.tgrelid IN (SELECT oid FROM rels)
     )
     SELECT n.nspname AS schema, pg_get_functiondef(p.oid) AS def
     FROM pg_proc p JOIN fns ON fns.oid = p.oid JOIN pg_namespace n ON n.oid = p.pronamespace
     WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND p.prokind IN ('f', 'p')
       AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = 'pg_proc'::regclass AND e.objid = p.oid AND e.deptype = 'e')
     ORDER BY n.nspname, p.proname, p.oid`,
    [oids],
  );
  return { schemas: rows.map((r) => r.schema), ddl: rows.map((r) => `${r.def.trimEnd()};`) };
}

/** Runs pg_dump to completion and returns its output; started off the main thread (off-thread-spawn.ts). */
export async function runPgDump(
  path: string,
  args: string[],
  env: Record<string, string>,
  signal: AbortSignal,
): Promise<string> {
  const r = await spawnOffThread(path, args, { ...process.env, ...env }, signal).catch((e: Error) => {
    throw new Error(`pg_dump could not run: ${e.message}`);
  });
  if (r.code === 0) return r.stdout.toString('utf8');
  const why = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
  throw new Error(
    `pg_dump ${args.find((a) => a.startsWith('--s')) ?? ''} failed (${why}): ${r.stderr.toString('utf8').trim()}`,
  );
}

/** pg_dump 15.14+ wraps its output in psql-only `\restrict` lines; we execute it without psql. */
export function stripPsqlMetaCommands(sql: string): string {
  const lines = sql.split('\n');
  const bad = lines.find((l) => l.startsWith('\\') && !/^\\(un)?restrict\b/.test(l));
  if (bad) throw new Error(`schema SQL contains a psql meta-command that cannot run here: ${bad.slice(0, 40)}`);
  return lines.filter((l) => !l.startsWith('\\')).join('\n');
}

function pattern(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

export async function dumpSchema(input: SchemaDumpInput): Promise<string> {
  const rels = await withPartitions(input.db, input.tables);
  const enums = await enumDdl(input.db, rels.oids);
  const fns = await functionDdl(input.db, rels.oids);
  const conn = childConnection(input.url);
  const args = [
    '--schema-only',
    '--no-owner',
    '--no-privileges',
    '--no-tablespaces',
    '--no-security-labels',
    '--strict-names',
    `--snapshot=${input.snapshotId}`,
    ...rels.patterns.flatMap((t) => ['-t', t]),
    ...input.sequences.flatMap((s) => ['-t', pattern(s.schema, s.relname)]),
    `--dbname=${conn.url}`,
  ];
  const dumped = await runPgDump(input.pgDumpPath, args, conn.env, input.signal);
  const schemas = [...new Set([...rels.schemas, ...enums.schemas, ...fns.schemas])]
    .filter((s) => s !== 'public')
    .sort();
  const prelude = [
    '-- Strongroom: objects the tables need that pg_dump -t does not emit',
    ...schemas.map((s) => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)};`),
    ...enums.ddl,
    ...fns.ddl,
  ];
  return `${prelude.join('\n\n')}\n\n${stripPsqlMetaCommands(dumped)}`;
}
