/**
 * Parallel replace restores, step 3 of 3: inside the main transaction, each loaded shadow
 * takes its table's place. The live table is dropped and the shadow renamed and moved into
 * `public` under its name; whatever a LIKE copy does not carry is captured from the live table
 * first and re-created on the new one: triggers (and whether each is enabled), extended
 * statistics, the table's comment, grants, ownership of its serial sequences, identity
 * columns with their sequences (name, options, position), clustering,
 * index and constraint comments. Foreign keys touching it are lifted here and re-added (and
 * so validated) with the restore's others at the end.
 *
 * All of it is catalog work: the rows were written by the loaders. Readers keep reading the
 * old table until this transaction takes its ACCESS EXCLUSIVE lock; writers already waited
 * since the restore began.
 */
import type { Client } from 'pg';
import { FK_COLUMNS_SQL, type ForeignKeyDef } from './pg-catalog';
import { restoreIndexExtras } from './pg-indexes';
import { qualify, quoteIdent, quoteLiteral } from './pg-session';
import { shadowQualified } from './pg-shadow-prepare';
import type { LoadedShadow } from './pg-shadow-load';

interface Carried {
  triggers: { name: string; def: string; enabled: 'O' | 'D' | 'R' | 'A'; comment: string | null }[];
  statistics: { name: string; def: string; target: number; comment: string | null }[];
  comment: string | null;
  grants: { grantee: string; privileges: string[]; grantable: boolean }[];
  sequences: { sequence: string; column: string }[];
  identities: Identity[];
}

/** An identity column's sequence: dropped with the old table, re-created on the new one as it was. */
interface Identity {
  column: string;
  always: boolean;
  sequence: string;
  start: string;
  increment: string;
  min: string;
  max: string;
  cache: string;
  cycle: boolean;
  lastValue: string;
  isCalled: boolean;
}

const COLUMNS_SQL = `
  SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull AS notnull,
         a.attgenerated AS generated, a.attcollation::text AS collation, pg_get_expr(d.adbin, d.adrelid) AS "default"
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

/** The shadow was made LIKE the table before the restore locked it; a change since then fails the restore. */
async function assertSameColumns(client: Client, table: string, shadow: string): Promise<void> {
  const live = (await client.query(COLUMNS_SQL, [qualify(table)])).rows;
  const copy = (await client.query(COLUMNS_SQL, [shadow])).rows;
  if (JSON.stringify(live) !== JSON.stringify(copy)) {
    throw new Error(`table "${table}" changed its columns while the restore was loading it; nothing was restored`);
  }
}

async function capture(client: Client, table: string): Promise<Carried> {
  const rel = qualify(table);
  const triggers = (
    await client.query<Carried['triggers'][number]>(
      `SELECT t.tgname AS name, pg_get_triggerdef(t.oid) AS def, t.tgenabled AS enabled, obj_description(t.oid, 'pg_trigger') AS comment
     FROM pg_trigger t WHERE t.tgrelid = $1::regclass AND NOT t.tgisinternal ORDER BY t.tgname`,
      [rel],
    )
  ).rows;
  const statistics = (
    await client.query<Carried['statistics'][number]>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(x.stxname) AS name, pg_get_statisticsobjdef(x.oid) AS def,
            coalesce(x.stxstattarget, -1) AS target, obj_description(x.oid, 'pg_statistic_ext') AS comment
     FROM pg_statistic_ext x JOIN pg_namespace n ON n.oid = x.stxnamespace WHERE x.stxrelid = $1::regclass ORDER BY x.stxname`,
      [rel],
    )
  ).rows;
  const comment = (
    await client.query<{ comment: string | null }>(`SELECT obj_description($1::regclass, 'pg_class') AS comment`, [rel])
  ).rows[0].comment;
  // Grants in the order the ACL lists them, so the new ACL reads the same; the owner's own are its defaults (checked by eligibility).
  const acl = (
    await client.query<{ grantee: string; privilege: string; grantable: boolean }>(
      `SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee, a.privilege_type AS privilege, a.is_grantable AS grantable
     FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) WITH ORDINALITY a LEFT JOIN pg_roles r ON r.oid = a.grantee
     WHERE c.oid = $1::regclass AND a.grantee <> c.relowner ORDER BY a.ordinality`,
      [rel],
    )
  ).rows;
  const grants: Carried['grants'] = [];
  for (const g of acl) {
    const same = grants.find((x) => x.grantee === g.grantee && x.grantable === g.grantable);
    if (same) same.privileges.push(g.privilege);
    else grants.push({ grantee: g.grantee, privileges: [g.privilege], grantable: g.grantable });
  }
  const sequences = (
    await client.query<Carried['sequences'][number]>(
      `SELECT quote_ident(sn.nspname) || '.' || quote_ident(s.relname) AS sequence, a.attname AS column
     FROM pg_depend d
     JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::regclass AND d.deptype = 'a'
     ORDER BY 1`,
      [rel],
    )
  ).rows;
  const identities: Identity[] = [];
  const idCols = (
    await client.query<Omit<Identity, 'lastValue' | 'isCalled'>>(
      `SELECT a.attname AS column, a.attidentity = 'a' AS always, quote_ident(sn.nspname) || '.' || quote_ident(s.relname) AS sequence,
            q.seqstart::text AS start, q.seqincrement::text AS increment, q.seqmin::text AS min, q.seqmax::text AS max,
            q.seqcache::text AS cache, q.seqcycle AS cycle
     FROM pg_depend d
     JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S' JOIN pg_namespace sn ON sn.oid = s.relnamespace
     JOIN pg_sequence q ON q.seqrelid = s.oid
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.refobjid = $1::regclass AND d.deptype = 'i'
     ORDER BY a.attnum`,
      [rel],
    )
  ).rows;
  for (const i of idCols) {
    const { rows } = await client.query<{ last_value: string; is_called: boolean }>(
      `SELECT last_value::text, is_called FROM ${i.sequence}`,
    );
    identities.push({ ...i, lastValue: rows[0].last_value, isCalled: rows[0].is_called });
  }
  return { triggers, statistics, comment, grants, sequences, identities };
}

/** Foreign keys still on or at the table: dropped here, and added to `readd` unless already there. */
async function liftForeignKeys(client: Client, table: string, readd: ForeignKeyDef[]): Promise<void> {
  const { rows } = await client.query<ForeignKeyDef>(
    `SELECT c.relname AS table, k.conname AS name, pg_get_constraintdef(k.oid) AS def, obj_description(k.oid, 'pg_constraint') AS comment,
            ${FK_COLUMNS_SQL}
     FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
     WHERE k.contype = 'f' AND k.conparentid = 0 AND (k.conrelid = $1::regclass OR k.confrelid = $1::regclass)
     ORDER BY 1, 2`,
    [qualify(table)],
  );
  for (const fk of rows) {
    await client.query(`ALTER TABLE ${qualify(fk.table)} DROP CONSTRAINT ${quoteIdent(fk.name)}`);
    if (!readd.some((r) => r.table === fk.table && r.name === fk.name)) readd.push(fk);
  }
}

const ENABLE: Record<string, string> = { O: 'ENABLE', D: 'DISABLE', R: 'ENABLE REPLICA', A: 'ENABLE ALWAYS' };

export async function swapInShadow(client: Client, s: LoadedShadow, readd: ForeignKeyDef[]): Promise<void> {
  const table = qualify(s.table);
  await client.query(`LOCK TABLE ${table} IN ACCESS EXCLUSIVE MODE`);
  await assertSameColumns(client, s.table, shadowQualified(s));
  const carried = await capture(client, s.table);
  await liftForeignKeys(client, s.table, readd);
  for (const q of carried.sequences) await client.query(`ALTER SEQUENCE ${q.sequence} OWNED BY NONE`);
  // RESTRICT: should anything still depend on the old table, the restore fails instead of taking it along.
  await client.query(`DROP TABLE ${table}`);
  await client.query(`ALTER TABLE ${shadowQualified(s)} RENAME TO ${quoteIdent(s.table)}`);
  await client.query(`ALTER TABLE ${quoteIdent(s.schema)}.${quoteIdent(s.table)} SET SCHEMA public`);
  if (s.autovacuumOff) await client.query(`ALTER TABLE ${table} RESET (autovacuum_enabled)`);

  for (const ix of s.indexes) {
    if (ix.attach) await client.query(ix.attach);
    await restoreIndexExtras(client, s.table, ix);
  }
  for (const q of carried.sequences)
    await client.query(`ALTER SEQUENCE ${q.sequence} OWNED BY ${table}.${quoteIdent(q.column)}`);
  for (const i of carried.identities) {
    const options = `SEQUENCE NAME ${i.sequence} START WITH ${i.start} INCREMENT BY ${i.increment} MINVALUE ${i.min} MAXVALUE ${i.max} CACHE ${i.cache}${i.cycle ? ' CYCLE' : ' NO CYCLE'}`;
    await client.query(
      `ALTER TABLE ${table} ALTER COLUMN ${quoteIdent(i.column)} ADD GENERATED ${i.always ? 'ALWAYS' : 'BY DEFAULT'} AS IDENTITY (${options})`,
    );
    await client.query(`SELECT setval($1::regclass, $2::bigint, $3)`, [i.sequence, i.lastValue, i.isCalled]);
  }
  for (const t of carried.triggers) {
    await client.query(t.def);
    if (t.enabled !== 'O')
      await client.query(`ALTER TABLE ${table} ${ENABLE[t.enabled]} TRIGGER ${quoteIdent(t.name)}`);
    if (t.comment !== null)
      await client.query(`COMMENT ON TRIGGER ${quoteIdent(t.name)} ON ${table} IS ${quoteLiteral(t.comment)}`);
  }
  for (const x of carried.statistics) {
    await client.query(x.def);
    if (x.target >= 0) await client.query(`ALTER STATISTICS ${x.name} SET STATISTICS ${x.target}`);
    if (x.comment !== null) await client.query(`COMMENT ON STATISTICS ${x.name} IS ${quoteLiteral(x.comment)}`);
  }
  if (carried.comment !== null) await client.query(`COMMENT ON TABLE ${table} IS ${quoteLiteral(carried.comment)}`);
  for (const g of carried.grants) {
    const option = g.grantable ? ' WITH GRANT OPTION' : '';
    await client.query(`GRANT ${g.privileges.join(', ')} ON ${table} TO ${g.grantee}${option}`);
  }
}
