/**
 * Parallel replace restores, step 1 of 3: decide which tables load as shadow copies and create
 * those copies.
 *
 * A shadow is a new, empty table shaped LIKE the live one, in a schema of its own
 * (`strongroom_restore_<token>`), committed so that the loader connections can fill it in
 * parallel (pg-shadow-load.ts) while the restore's main transaction holds the live tables. The main
 * transaction then swaps each shadow in for its table (pg-shadow-swap.ts): the restored rows
 * appear at once or not at all. Until that swap commits nothing under `public` changes; a
 * crash leaves only the shadow schema behind, which the next restore drops (its token names a
 * connection that no longer exists).
 *
 * Only a table whose every property the swap can carry over is shadowed: anything it cannot
 * (a view or rule on the table, row-level security, a publication, grants by other roles,
 * a NOT VALID constraint...) keeps the table on the main transaction's path, which loads it in place.
 * Slower, never wrong. `shadowEligibility` says why a table was kept out.
 */
import type { Client } from 'pg';
import type { RestoreTableInput } from '../dialect';
import { readIndexes, type IndexDef } from './pg-indexes';
import { displayNameSql, qualify, quoteIdent } from './pg-session';

export const SHADOW_SCHEMA_PREFIX = 'strongroom_restore_';
export const RESTORE_APP_PREFIX = 'strongroom-restore:';

/** An index (or the constraint owning it) of the live table, rebuilt on its shadow after the load. */
export interface ShadowIndex {
  /** Original index name; built under the same name inside the shadow schema. */
  index: string;
  /** Constraint name for primary key / unique / exclusion indexes. */
  constraint: string | null;
  /** DDL that builds it on the shadow. */
  ddl: string;
  /**
   * What the swap runs once the shadow has the table's name, '' for nothing: a plain primary key
   * or unique constraint is built as its unique index (CREATE INDEX takes a SHARE lock, so it
   * builds beside the table's other indexes) and attached here (ADD CONSTRAINT ... USING INDEX).
   */
  attach: string;
  clustered: boolean;
  comment: string | null;
}

export interface ShadowTable {
  table: string;
  /** Unqualified shadow table name inside `schema`. */
  name: string;
  schema: string;
  /** Plaintext bytes of its rows in the backup. */
  bytes: number;
  /**
   * The shadow was created with autovacuum off, which the swap turns back on (RESET): set when
   * the table does not choose for itself. An autovacuum of a freshly loaded shadow would hold a
   * lock its index builds and its swap wait for (up to deadlock_timeout, until it is cancelled).
   */
  autovacuumOff: boolean;
  indexes: ShadowIndex[];
}

export interface ShadowPlan {
  token: string;
  schema: string;
  /** Loader connections, beside the main transaction's. */
  parallel: number;
  /** The shadows, largest first: the order the loaders take them in. */
  tables: ShadowTable[];
}

export interface ShadowOptions {
  /** Loader connections (below 2: no shadows, the main transaction loads every table itself). */
  parallel: number;
  /** Tables with fewer plaintext bytes load in place: a shadow's fixed cost is not worth it. */
  minBytes: number;
}

export function shadowSchemaName(token: string): string {
  return `${SHADOW_SCHEMA_PREFIX}${token}`;
}

export function shadowQualified(s: Pick<ShadowTable, 'schema' | 'name'>): string {
  return `${quoteIdent(s.schema)}.${quoteIdent(s.name)}`;
}

const ELIGIBILITY_SQL = `
  SELECT ${displayNameSql('n', 'c')} AS table,
    CASE
      -- The swap moves the shadow into schema public under the table's name.
      WHEN n.nspname <> 'public' OR ${displayNameSql('n', 'c')} <> c.relname THEN 'it is outside schema public'
      WHEN c.relkind <> 'r' OR c.relispartition
        OR EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = c.oid OR h.inhparent = c.oid) THEN 'it is partitioned or inherits'
      WHEN c.relpersistence <> 'p' THEN 'it is not a logged table'
      WHEN c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = current_user) THEN 'another role owns it'
      WHEN c.reltablespace <> 0 THEN 'it has its own tablespace'
      WHEN c.reloftype <> 0 THEN 'it is a typed table'
      WHEN c.relrowsecurity OR c.relforcerowsecurity OR EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)
        THEN 'it has row-level security'
      WHEN c.relreplident <> 'd' THEN 'it has a replica identity other than the default'
      WHEN EXISTS (SELECT 1 FROM pg_publication_rel pr WHERE pr.prrelid = c.oid) THEN 'it is in a publication'
      WHEN (SELECT t.reloptions FROM pg_class t WHERE t.oid = c.reltoastrelid) IS NOT NULL THEN 'its TOAST table has storage options'
      WHEN EXISTS (SELECT 1 FROM pg_depend d JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'
                   WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid AND d.deptype = 'i'
                     AND (s.relacl IS NOT NULL OR obj_description(s.oid, 'pg_class') IS NOT NULL))
        THEN 'its identity sequence has grants or a comment'
      WHEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND a.attacl IS NOT NULL)
        THEN 'it has column privileges'
      WHEN EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND NOT k.convalidated) THEN 'it has a NOT VALID constraint'
      WHEN c.relacl IS NOT NULL AND (
        EXISTS (SELECT 1 FROM aclexplode(c.relacl) a WHERE a.grantor <> c.relowner)
        OR EXISTS (SELECT privilege_type, is_grantable FROM aclexplode(acldefault('r', c.relowner))
                   EXCEPT SELECT privilege_type, is_grantable FROM aclexplode(c.relacl) WHERE grantee = c.relowner))
        THEN 'its privileges were granted by another role or taken from its owner'
      ELSE (
        -- Objects that depend on the table and do not move with a swap.
        SELECT 'it is used by ' || pg_describe_object(d.classid, d.objid, d.objsubid)
        FROM pg_depend d
        WHERE ((d.refclassid = 'pg_class'::regclass AND d.refobjid = c.oid) OR (d.refclassid = 'pg_type'::regclass AND d.refobjid = c.reltype))
          AND NOT (d.classid = 'pg_class'::regclass AND (
                d.objid = c.reltoastrelid
                OR EXISTS (SELECT 1 FROM pg_index i WHERE i.indexrelid = d.objid AND i.indrelid = c.oid)
                OR (d.deptype IN ('a', 'i') AND EXISTS (SELECT 1 FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S'))))
          AND NOT (d.classid = 'pg_type'::regclass AND (d.objid = c.reltype OR d.refobjid = c.reltype AND d.deptype = 'i'))
          AND NOT (d.classid = 'pg_constraint'::regclass AND EXISTS (
                SELECT 1 FROM pg_constraint k JOIN pg_class kc ON kc.oid = k.conrelid JOIN pg_namespace kn ON kn.oid = kc.relnamespace
                WHERE k.oid = d.objid AND (k.conrelid = c.oid OR (k.contype = 'f' AND ${displayNameSql('kn', 'kc')} = ANY($2::text[])))))
          AND NOT (d.classid = 'pg_attrdef'::regclass AND EXISTS (SELECT 1 FROM pg_attrdef ad WHERE ad.oid = d.objid AND ad.adrelid = c.oid))
          AND NOT (d.classid = 'pg_trigger'::regclass AND EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.oid = d.objid AND tg.tgrelid = c.oid))
          AND NOT (d.classid = 'pg_statistic_ext'::regclass AND EXISTS (SELECT 1 FROM pg_statistic_ext x WHERE x.oid = d.objid AND x.stxrelid = c.oid))
        ORDER BY 1 LIMIT 1)
    END AS reason
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${displayNameSql('n', 'c')} = ANY($1::text[])
  ORDER BY 1`;

export interface Eligibility {
  /** Tables that can be shadowed, with how their indexes are rebuilt (DDL not yet pointed at a shadow). */
  eligible: Map<string, IndexDef[]>;
  /** Why each other table must load in place. */
  refused: Map<string, string>;
}

/**
 * Which of the `replace` tables can be shadowed. `scope` is every table of the restore (their
 * foreign keys are lifted and re-added around it); `referencedFromOutside` tables are refused
 * (a foreign key of a table outside the scope would have to follow the swap).
 */
export async function shadowEligibility(
  client: Client,
  tables: string[],
  scope: string[],
  referencedFromOutside: Set<string>,
): Promise<Eligibility> {
  const refused = new Map<string, string>();
  const eligible = new Map<string, IndexDef[]>();
  if (!tables.length) return { eligible, refused };
  const reasons = (await client.query<{ table: string; reason: string | null }>(ELIGIBILITY_SQL, [tables, scope])).rows;
  const indexes = await readIndexes(client, tables, scope);
  for (const { table, reason } of reasons) {
    const own = indexes.filter((i) => i.table === table);
    const stuck = own.find((i) => !i.rebuildable || (!i.constraint && !i.def.startsWith(i.prefix)));
    if (referencedFromOutside.has(table)) refused.set(table, 'a table outside the restore references it');
    else if (reason) refused.set(table, reason);
    else if (stuck) refused.set(table, `index "${stuck.index}" has a setting its rebuild would lose`);
    else eligible.set(table, own);
  }
  return { eligible, refused };
}

const SIMPLE_KEY = /^(PRIMARY KEY|UNIQUE) \(([^()]*)\)$/;

/** How the loader builds `ix` on the shadow, and what the swap then runs on the table. */
function shadowIndexBuild(ix: IndexDef, shadow: string): Pick<ShadowIndex, 'ddl' | 'attach'> {
  if (ix.constraint) {
    // A deferrable key, one with INCLUDE columns or NULLS NOT DISTINCT is added whole, as it was.
    const key = SIMPLE_KEY.exec(ix.def);
    if (!key) return { ddl: `ALTER TABLE ${shadow} ADD CONSTRAINT ${quoteIdent(ix.constraint)} ${ix.def}`, attach: '' };
    return {
      ddl: `CREATE UNIQUE INDEX ${quoteIdent(ix.index)} ON ${shadow} USING btree (${key[2]})`,
      attach: `ALTER TABLE ${qualify(ix.table)} ADD CONSTRAINT ${quoteIdent(ix.constraint)} ${key[1]} USING INDEX ${quoteIdent(ix.index)}`,
    };
  }
  // pg_get_indexdef output is "CREATE [UNIQUE] INDEX name ON public.table USING ..." (checked by shadowEligibility).
  const unique = ix.prefix.startsWith('CREATE UNIQUE ') ? 'UNIQUE ' : '';
  return {
    ddl: `CREATE ${unique}INDEX ${quoteIdent(ix.index)} ON ${shadow} USING ${ix.def.slice(ix.prefix.length)}`,
    attach: '',
  };
}

/**
 * Schemas left by restores whose connections are gone (a crash or kill mid-load). A schema is
 * `strongroom_restore_<token>` or, staging an empty-database restore, `..._<token>_<n>`.
 */
export async function dropAbandonedShadows(client: Client): Promise<void> {
  const { rows } = await client.query<{ schema: string }>(
    `SELECT n.nspname AS schema FROM pg_namespace n
     WHERE starts_with(n.nspname, $1)
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                       WHERE a.application_name = $2 || split_part(substr(n.nspname, length($1) + 1), '_', 1))`,
    [SHADOW_SCHEMA_PREFIX, RESTORE_APP_PREFIX],
  );
  for (const r of rows)
    await client.query(`DROP SCHEMA IF EXISTS ${quoteIdent(r.schema)} CASCADE`).catch(() => undefined);
}

/**
 * Decides the shadows and creates them, committed, on `client` (not the main transaction's
 * connection: the loaders must see them). Returns null when no table is worth a shadow.
 */
export async function prepareShadows(
  client: Client,
  token: string,
  input: { tables: RestoreTableInput[] },
  mainOnly: { scope: string[]; referencedFromOutside: Set<string> },
  opts: ShadowOptions,
): Promise<ShadowPlan | null> {
  if (opts.parallel < 2) return null;
  const bytes = (t: RestoreTableInput): number => t.bytes ?? 0;
  const replace = input.tables.filter((t) => t.mode === 'replace' && bytes(t) >= opts.minBytes).map((t) => t.name);
  const { eligible } = await shadowEligibility(client, replace, mainOnly.scope, mainOnly.referencedFromOutside);
  const chosen = input.tables
    .filter((t) => eligible.has(t.name))
    .sort((a, b) => bytes(b) - bytes(a) || (a.name < b.name ? -1 : 1));
  if (!chosen.length) return null;

  const schema = shadowSchemaName(token);
  await client.query('BEGIN');
  try {
    await client.query(`CREATE SCHEMA ${quoteIdent(schema)}`);
    const tables: ShadowTable[] = [];
    for (const [n, t] of chosen.entries()) {
      const shadow: ShadowTable = {
        table: t.name,
        name: `strongroom_shadow_${n + 1}`,
        schema,
        bytes: bytes(t),
        autovacuumOff: false,
        indexes: [],
      };
      const q = shadowQualified(shadow);
      shadow.autovacuumOff = await createShadowTable(client, t.name, q);
      shadow.indexes = eligible.get(t.name)!.map((ix) => ({
        index: ix.index,
        constraint: ix.constraint,
        ...shadowIndexBuild(ix, q),
        clustered: ix.clustered,
        comment: ix.comment,
      }));
      tables.push(shadow);
    }
    await client.query('COMMIT');
    return { token, schema, parallel: opts.parallel, tables };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * The shadow gets the live table's columns (types, collations, NOT NULL, defaults, generated
 * columns, storage, compression, column comments), CHECK constraints, storage parameters and
 * per-column statistics settings. Indexes come after the load; triggers, extended statistics,
 * grants and the rest are carried over at the swap.
 */
async function createShadowTable(client: Client, table: string, shadow: string): Promise<boolean> {
  const { rows } = await client.query<{ reloptions: string[] | null }>(
    `SELECT reloptions FROM pg_class WHERE oid = $1::regclass`,
    [qualify(table)],
  );
  const options = rows[0].reloptions ?? [];
  const autovacuumOff = !options.some((o) => o.startsWith('autovacuum_enabled='));
  if (autovacuumOff) options.push('autovacuum_enabled=false');
  const withOpts = ` WITH (${options.join(', ')})`;
  await client.query(
    `CREATE TABLE ${shadow} (LIKE ${qualify(table)} INCLUDING DEFAULTS INCLUDING GENERATED INCLUDING CONSTRAINTS
       INCLUDING STORAGE INCLUDING COMPRESSION INCLUDING COMMENTS)${withOpts}`,
  );
  const cols = await client.query<{ name: string; stattarget: number; options: string[] | null }>(
    `SELECT attname AS name, coalesce(attstattarget, -1) AS stattarget, attoptions AS options FROM pg_attribute
     WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped AND (coalesce(attstattarget, -1) >= 0 OR attoptions IS NOT NULL)`,
    [qualify(table)],
  );
  for (const c of cols.rows) {
    if (c.stattarget >= 0)
      await client.query(`ALTER TABLE ${shadow} ALTER COLUMN ${quoteIdent(c.name)} SET STATISTICS ${c.stattarget}`);
    if (c.options?.length)
      await client.query(`ALTER TABLE ${shadow} ALTER COLUMN ${quoteIdent(c.name)} SET (${c.options.join(', ')})`);
  }
  return autovacuumOff;
}
