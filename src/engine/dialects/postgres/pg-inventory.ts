/**
 * The inventory of a database at the backup's snapshot: per schema and object kind, how many
 * there are and a fingerprint of their normalized definitions (catalog deparsers, owners and
 * grants included). The backup checks that pg_dump's output holds an entry for every object
 * counted here (a gap fails the backup, naming the object); deep verify compares the
 * inventory of the rebuilt database with the manifest's.
 */
import { createHash } from 'node:crypto';
import type { Inventory } from '../dialect';
import type { Queryable } from './pg-catalog';
import { userSchemaSql } from './pg-catalog';
import { displayNameSql } from './pg-session';

export interface InventoryObject {
  schema: string;
  kind: string;
  /** Name as pg_dump's table of contents gives it (functions without their arguments). */
  name: string;
  def: string;
  /** The pg_dump TOC type whose entry captures it; null when it is captured inside another entry. */
  toc: string | null;
}

const notExt = (classid: string, oid: string) =>
  `NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '${classid}'::regclass AND e.objid = ${oid} AND e.deptype = 'e')`;

/** One row per object pg_dump would dump for the database, in user schemas. */
const OBJECTS_SQL = `
WITH ns AS (SELECT n.oid, n.nspname FROM pg_namespace n WHERE ${userSchemaSql('n')} AND NOT (n.nspname = ANY($1::text[])))
SELECT '' AS schema, 'schema' AS kind, n.nspname AS name,
       pg_get_userbyid(n.nspowner) || coalesce(n.nspacl::text, '') AS def, CASE WHEN n.nspname = 'public' THEN NULL ELSE 'SCHEMA' END AS toc
  FROM pg_namespace n JOIN ns ON ns.oid = n.oid WHERE ${notExt('pg_namespace', 'n.oid')}
UNION ALL
SELECT '', 'extension', x.extname, x.extname || ' ' || x.extversion || ' ' || (SELECT nspname FROM pg_namespace WHERE oid = x.extnamespace), 'EXTENSION'
  FROM pg_extension x WHERE x.extname <> 'plpgsql'
UNION ALL
SELECT ns.nspname,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'partitioned table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view'
                      WHEN 'S' THEN 'sequence' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type' ELSE 'index' END,
       c.relname,
       pg_get_userbyid(c.relowner) || coalesce(c.relacl::text, '') || c.relpersistence::text || CASE
         WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid)
         WHEN c.relkind IN ('i', 'I') THEN pg_get_indexdef(c.oid)
         WHEN c.relkind = 'S' THEN (SELECT concat_ws(' ', s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcycle) FROM pg_sequence s WHERE s.seqrelid = c.oid)
         ELSE coalesce((SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                                || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '') || coalesce(a.attacl::text, ''), ', ' ORDER BY a.attnum)
                        FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                        WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), '')
           || coalesce(' partition ' || pg_get_expr(c.relpartbound, c.oid), '') END,
       CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'TABLE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                      WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE' ELSE 'INDEX' END
  FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c', 'i', 'I') AND ${notExt('pg_class', 'c.oid')}
    AND NOT (${displayNameSql('ns', 'c')} = ANY($2::text[]) AND c.relkind IN ('r', 'p'))
    AND NOT (c.relkind IN ('i', 'I') AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid AND k.contype IN ('p', 'u', 'x')))
    AND NOT (c.relkind IN ('i', 'I', 'S') AND EXISTS (
          SELECT 1 FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid JOIN pg_namespace tn ON tn.oid = t.relnamespace
          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_class'::regclass
            AND ${displayNameSql('tn', 't')} = ANY($2::text[])))
UNION ALL
SELECT ns.nspname, CASE k.contype WHEN 'f' THEN 'foreign key' WHEN 'c' THEN 'check constraint' WHEN 'p' THEN 'primary key'
                                 WHEN 'u' THEN 'unique constraint' WHEN 'x' THEN 'exclusion constraint' ELSE 'constraint' END,
       coalesce(r.relname || ' ', '') || k.conname, pg_get_constraintdef(k.oid),
       CASE WHEN k.contype = 'f' THEN 'FK CONSTRAINT' WHEN k.contype = 'c' AND NOT k.convalidated THEN 'CHECK CONSTRAINT'
            WHEN k.contype IN ('p', 'u', 'x') THEN 'CONSTRAINT' ELSE NULL END
  FROM pg_constraint k JOIN ns ON ns.oid = k.connamespace LEFT JOIN pg_class r ON r.oid = k.conrelid
  WHERE k.contype IN ('f', 'c', 'p', 'u', 'x') AND k.conparentid = 0 AND k.conislocal
    AND NOT coalesce(${displayNameSql('ns', 'r')} = ANY($2::text[]), false)
    AND (r.oid IS NULL OR ${notExt('pg_class', 'r.oid')}) AND (k.contypid = 0 OR ${notExt('pg_type', 'k.contypid')})
UNION ALL
SELECT ns.nspname, 'trigger', r.relname || ' ' || t.tgname, pg_get_triggerdef(t.oid) || t.tgenabled::text, 'TRIGGER'
  FROM pg_trigger t JOIN pg_class r ON r.oid = t.tgrelid JOIN ns ON ns.oid = r.relnamespace
  WHERE NOT t.tgisinternal AND t.tgparentid = 0 AND NOT (${displayNameSql('ns', 'r')} = ANY($2::text[]))
UNION ALL
SELECT ns.nspname, 'rule', r.relname || ' ' || w.rulename, pg_get_ruledef(w.oid), 'RULE'
  FROM pg_rewrite w JOIN pg_class r ON r.oid = w.ev_class JOIN ns ON ns.oid = r.relnamespace WHERE w.rulename <> '_RETURN'
UNION ALL
SELECT ns.nspname, 'policy', r.relname || ' ' || p.polname,
       concat_ws(' ', p.polcmd, p.polpermissive, p.polroles::text, pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)), 'POLICY'
  FROM pg_policy p JOIN pg_class r ON r.oid = p.polrelid JOIN ns ON ns.oid = r.relnamespace
UNION ALL
SELECT ns.nspname, 'row level security', r.relname, r.relrowsecurity::text || r.relforcerowsecurity::text, NULL
  FROM pg_class r JOIN ns ON ns.oid = r.relnamespace WHERE r.relrowsecurity OR r.relforcerowsecurity
UNION ALL
SELECT ns.nspname, CASE p.prokind WHEN 'p' THEN 'procedure' WHEN 'a' THEN 'aggregate' ELSE 'function' END, p.proname,
       pg_get_userbyid(p.proowner) || coalesce(p.proacl::text, '') || pg_get_function_identity_arguments(p.oid) || ' '
         || CASE WHEN p.prokind = 'a' THEN '' ELSE pg_get_functiondef(p.oid) END,
       CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END
  FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace WHERE ${notExt('pg_proc', 'p.oid')}
    -- A range type's constructors come and go with it.
    AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'i')
UNION ALL
SELECT ns.nspname, CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain' WHEN 'r' THEN 'range type' ELSE 'base type' END, t.typname,
       pg_get_userbyid(t.typowner) || coalesce(t.typacl::text, '') || CASE t.typtype
         WHEN 'e' THEN (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid)
         WHEN 'd' THEN format_type(t.typbasetype, t.typtypmod) || t.typnotnull::text || coalesce(t.typdefault, '')
         WHEN 'r' THEN (SELECT rngsubtype::regtype::text FROM pg_range WHERE rngtypid = t.oid) ELSE '' END,
       CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END
  FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
  WHERE t.typtype IN ('e', 'd', 'r', 'b') AND ${notExt('pg_type', 't.oid')} AND NOT (t.typtype = 'b' AND t.typcategory = 'A')
UNION ALL
SELECT ns.nspname, 'collation', c.collname, c.collprovider::text || coalesce(c.collcollate, '') || coalesce(c.colliculocale, ''), 'COLLATION'
  FROM pg_collation c JOIN ns ON ns.oid = c.collnamespace WHERE ${notExt('pg_collation', 'c.oid')}
UNION ALL
SELECT ns.nspname, 'operator', o.oprname, o.oprleft::regtype::text || ' ' || o.oprright::regtype::text || ' ' || o.oprcode::text, 'OPERATOR'
  FROM pg_operator o JOIN ns ON ns.oid = o.oprnamespace WHERE ${notExt('pg_operator', 'o.oid')}
UNION ALL
SELECT ns.nspname, 'text search configuration', c.cfgname, c.cfgparser::text, 'TEXT SEARCH CONFIGURATION'
  FROM pg_ts_config c JOIN ns ON ns.oid = c.cfgnamespace WHERE ${notExt('pg_ts_config', 'c.oid')}
UNION ALL
SELECT ns.nspname, 'text search dictionary', d.dictname, coalesce(d.dictinitoption, ''), 'TEXT SEARCH DICTIONARY'
  FROM pg_ts_dict d JOIN ns ON ns.oid = d.dictnamespace WHERE ${notExt('pg_ts_dict', 'd.oid')}
UNION ALL
SELECT '', 'publication', p.pubname, p.puballtables::text || p.pubinsert::text || p.pubupdate::text || p.pubdelete::text, 'PUBLICATION'
  FROM pg_publication p
UNION ALL
SELECT '', 'event trigger', e.evtname, e.evtevent || e.evtenabled::text, 'EVENT TRIGGER' FROM pg_event_trigger e
UNION ALL
SELECT '', 'large object', m.oid::text, pg_get_userbyid(m.lomowner) || coalesce(m.lomacl::text, ''), 'BLOB' FROM pg_largeobject_metadata m
`;

/** Every object of the database in scope. `excludedSchemas` and `excludedTables` (display names, with their parts) are left out. */
export async function readInventoryObjects(
  db: Queryable,
  excludedSchemas: string[],
  excludedTables: string[],
): Promise<InventoryObject[]> {
  const { rows } = await db.query<InventoryObject>(OBJECTS_SQL, [excludedSchemas, excludedTables]);
  return rows.sort(
    (a, b) => cmp(a.schema, b.schema) || cmp(a.kind, b.kind) || cmp(a.name, b.name) || cmp(a.def, b.def),
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counts and fingerprints per schema ('' for database-wide objects) and kind. */
export function summarize(objects: InventoryObject[], rows: Record<string, number>): Inventory {
  const groups = new Map<string, InventoryObject[]>();
  for (const o of objects) {
    const k = `${o.schema}\0${o.kind}`;
    const g = groups.get(k);
    if (g) g.push(o);
    else groups.set(k, [o]);
  }
  const schemas: Inventory['schemas'] = {};
  for (const [k, list] of groups) {
    const [schema, kind] = k.split('\0');
    const h = createHash('sha256');
    for (const o of list) h.update(`${o.name}\0${o.def}\0`);
    (schemas[schema] ??= {})[kind] = { count: list.length, fingerprint: h.digest('hex') };
  }
  return { schemas, rows };
}

/** The TOC entries of pg_dump plain output: `-- Name: x; Type: T; Schema: s; Owner: o`. */
export function tocEntries(sql: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of sql.matchAll(/^-- Name: (.*); Type: (.*); Schema: (.*); Owner: .*$/gm)) {
    const name =
      m[2] === 'FUNCTION' || m[2] === 'PROCEDURE' || m[2] === 'AGGREGATE' || m[2] === 'OPERATOR'
        ? m[1].replace(/\(.*$/, '')
        : m[1];
    const key = `${m[2]}\0${m[3] === '-' ? '' : m[3]}\0${name}`;
    out.set(key, (out.get(key) ?? 0) + 1);
  }
  return out;
}

/**
 * Objects of the inventory that the dumped DDL holds no entry for. Objects captured inside
 * another entry (check constraints, RLS switches) are looked for by name in the text.
 */
export function missingFromDump(objects: InventoryObject[], sql: string): InventoryObject[] {
  const toc = tocEntries(sql);
  const missing: InventoryObject[] = [];
  for (const o of objects) {
    if (o.toc === null) {
      // Schema public exists in every database; pg_dump writes it only when it was changed.
      if (o.kind === 'schema') continue;
      const needle = o.kind === 'check constraint' ? o.name.split(' ').pop()! : o.name;
      if (o.kind !== 'row level security' && !sql.includes(needle)) missing.push(o);
      continue;
    }
    const key = `${o.toc}\0${o.toc === 'SCHEMA' || o.toc === 'EXTENSION' || o.toc === 'BLOB' || o.toc === 'PUBLICATION' || o.toc === 'EVENT TRIGGER' ? '' : o.schema}\0${o.name}`;
    const n = toc.get(key) ?? 0;
    if (n > 0) toc.set(key, n - 1);
    else missing.push(o);
  }
  return missing;
}

/** First difference between two inventories, in words; null when equal. */
export function compareInventories(expected: Inventory, actual: Inventory): string | null {
  const schemas = [...new Set([...Object.keys(expected.schemas), ...Object.keys(actual.schemas)])].sort();
  for (const s of schemas) {
    const e = expected.schemas[s] ?? {};
    const a = actual.schemas[s] ?? {};
    for (const kind of [...new Set([...Object.keys(e), ...Object.keys(a)])].sort()) {
      const where = s ? `schema ${s}` : 'the database';
      const ek = e[kind];
      const ak = a[kind];
      if (!ek || !ak || ek.count !== ak.count)
        return `${where}: ${ek?.count ?? 0} ${kind} object(s) in the backup, ${ak?.count ?? 0} after the rebuild`;
      if (ek.fingerprint !== ak.fingerprint)
        return `${where}: the definitions of its ${kind} objects differ after the rebuild`;
    }
  }
  for (const t of Object.keys(expected.rows).sort()) {
    if (actual.rows[t] !== undefined && actual.rows[t] !== expected.rows[t])
      return `table ${t}: ${expected.rows[t]} rows in the backup, ${actual.rows[t]} after the rebuild`;
  }
  return null;
}
