/**
 * What would stop a restore into a live PostgreSQL database, found before it writes anything.
 *
 * Two levels. `catalogChecks` reads only the catalogs and the manifest's structure (cheap: it
 * runs before every real restore, which is refused when it finds a blocker). `rowChecks` runs
 * in a dry run on the rows the plan staged anyway (pg-plan.ts): set-based queries in the
 * database over the rows the restore would write, so memory stays flat whatever the size;
 * each finding carries a count and a few examples.
 *
 * The rows a restore writes ("written" below): every backup row for replace and merge; for
 * missing-only only those whose key is not live. Rows that stay: for merge the live rows the
 * backup does not hold; for missing-only every live row; for replace none (they are deleted).
 */
import type { Client } from 'pg';
import {
  RESTORE_ISSUE_EXAMPLES,
  type RestoreChecks,
  type RestoreInput,
  type RestoreIssue,
  type RestoreTableInput,
  type TableInfo,
} from '../dialect';
import { readTables, relationSql, type Queryable } from './pg-catalog';
import { columnList, keyJoin, storedColumns } from './pg-copy-in';
import { displayNameSql, qualify, quoteIdent, splitName } from './pg-session';
import { rolesNamedInDdl } from './pg-ddl-roles';
import { missingTableIssue, nullValuesIssue, requiredColumnIssue, uniqueCollisionIssue } from '../restore-issues';

export interface CatalogCheckResult extends RestoreChecks {
  /** Tables whose rows can be read into the target at all (no missing table or column). */
  readable: Set<string>;
}

interface RequiredColumn {
  table: string;
  column: string;
}

/** Checks from the catalogs alone; see the file comment. */
export async function catalogChecks(db: Queryable, input: RestoreInput): Promise<CatalogCheckResult> {
  const out: CatalogCheckResult = { blockers: [], warnings: [], readable: new Set() };
  const live = new Map((await readTables(db)).map((t) => [t.name, t]));
  const schemas = new Set(
    (await db.query<{ nspname: string }>('SELECT nspname FROM pg_namespace')).rows.map((r) => r.nspname),
  );
  const required = await requiredColumns(
    db,
    input.tables.map((t) => t.name),
  );
  for (const t of input.tables) {
    const l = live.get(t.name);
    if (!l) {
      const { schema } = splitName(t.name);
      if (!schemas.has(schema)) {
        out.blockers.push({
          kind: 'missing-schema',
          object: schema,
          message: `schema ${schema} does not exist in the target, so table ${t.name} cannot be restored into it (create it, or restore the schema first)`,
        });
      } else {
        out.blockers.push(missingTableIssue(t.name));
      }
      continue;
    }
    const liveCols = new Set(l.columns.map((c) => c.name));
    const stored = storedColumns(t.table);
    const missing = stored.filter((c) => !liveCols.has(c));
    for (const c of missing) {
      out.blockers.push({
        kind: 'missing-column',
        object: `${t.name}.${c}`,
        message: `column ${c} of table ${t.name} holds backup values but does not exist in the target`,
      });
    }
    if (missing.length === 0) out.readable.add(t.name);
    if (t.bytes === 0) continue;
    for (const r of required.filter((x) => x.table === t.name && !stored.includes(x.column))) {
      out.blockers.push(requiredColumnIssue(t.name, r.column));
    }
  }
  await sequenceChecks(db, input, out);
  await roleChecks(db, input, out);
  return out;
}

/** Live NOT NULL columns that nothing fills in when a row leaves them out (no default, identity or generation). */
async function requiredColumns(db: Queryable, tables: string[]): Promise<RequiredColumn[]> {
  const { rows } = await db.query<RequiredColumn>(
    `SELECT ${displayNameSql('n', 'c')} AS table, a.attname AS column
     FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull AND NOT a.atthasdef AND a.attidentity = '' AND a.attgenerated = ''
       AND ${displayNameSql('n', 'c')} = ANY($1::text[])
     ORDER BY 1, a.attnum`,
    [tables],
  );
  return rows;
}

/** A sequence value in the backup with no sequence to go to is skipped by the restore: say so. */
async function sequenceChecks(db: Queryable, input: RestoreInput, out: RestoreChecks): Promise<void> {
  const wanted = input.sequences.filter((s) => s.lastValue !== null);
  if (!wanted.length) return;
  const { rows } = await db.query<{ name: string }>(
    `SELECT ${displayNameSql('n', 'c')} AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S'`,
  );
  const live = new Set(rows.map((r) => r.name));
  for (const s of wanted.filter((x) => !live.has(x.name))) {
    out.warnings.push({
      kind: 'missing-sequence',
      object: s.name,
      message: `the backup holds sequence ${s.name} at ${s.lastValue}; the target has no such sequence, so its value is not restored`,
    });
  }
}

async function roleChecks(db: Queryable, input: RestoreInput, out: RestoreChecks): Promise<void> {
  if (!input.archivedDdl) return;
  await missingRoles(db, await input.archivedDdl(), out);
}

async function missingRoles(db: Queryable, ddl: string, out: RestoreChecks): Promise<void> {
  const named = rolesNamedInDdl(ddl);
  if (!named.length) return;
  const { rows } = await db.query<{ rolname: string }>('SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])', [
    named,
  ]);
  const present = new Set(rows.map((r) => r.rolname));
  for (const role of named.filter((r) => !present.has(r))) {
    out.warnings.push({
      kind: 'missing-role',
      object: role,
      message:
        `the archive's ownership or grants name role ${role}, which the target cluster lacks: a restore into live tables keeps the live ` +
        'ownership and grants; a schema restore (CLI --create-schema) skips those statements and lists the role',
    });
  }
}

const EXTENSION = /^CREATE EXTENSION IF NOT EXISTS ("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)/gm;

/**
 * Before a whole-database restore into an empty database (CLI --create-schema): extensions the
 * archive's schema creates that this server cannot install stop it; roles its ownership and
 * grants name that the cluster lacks are skipped by it (unless those statements are left out).
 */
export async function databaseRestoreChecks(
  db: Queryable,
  ddl: { preData: string; postData: string },
  opts: { noOwner?: boolean; noPrivileges?: boolean },
): Promise<RestoreChecks> {
  const out: RestoreChecks = { blockers: [], warnings: [] };
  const wanted = [...ddl.preData.matchAll(EXTENSION)].map((m) =>
    m[1].startsWith('"') ? m[1].slice(1, -1).replace(/""/g, '"') : m[1],
  );
  if (wanted.length) {
    const { rows } = await db.query<{ name: string }>(
      'SELECT name FROM pg_available_extensions WHERE name = ANY($1::text[])',
      [wanted],
    );
    const available = new Set(rows.map((r) => r.name));
    for (const e of wanted.filter((x) => !available.has(x))) {
      out.blockers.push({
        kind: 'missing-extension',
        object: e,
        message: `the archive's schema creates extension ${e}, which this PostgreSQL server cannot install (not in pg_available_extensions): install its package on the server first`,
      });
    }
  }
  if (!(opts.noOwner && opts.noPrivileges)) await missingRoles(db, `${ddl.preData}\n${ddl.postData}`, out);
  return out;
}

/** Runs one probe under a savepoint: a query the target cannot run (a CHECK on a column the backup lacks) is skipped, not fatal. */
async function probe<T extends Record<string, unknown>>(
  client: Client,
  sql: string,
  params: unknown[] = [],
): Promise<T[] | null> {
  await client.query('SAVEPOINT strongroom_check');
  try {
    const { rows } = await client.query<T>(sql, params);
    await client.query('RELEASE SAVEPOINT strongroom_check');
    return rows;
  } catch {
    await client.query('ROLLBACK TO SAVEPOINT strongroom_check');
    await client.query('RELEASE SAVEPOINT strongroom_check');
    return null;
  }
}

const examplesOf = (v: unknown): string[] =>
  Array.isArray(v) ? (v as string[]).filter((x) => x !== null).slice(0, RESTORE_ISSUE_EXAMPLES) : [];

/**
 * How many rows of `from` match `where`, and the first few as `label` gives them: two bounded
 * queries (a count, and a LIMITed list), never an aggregate of every offending row.
 */
async function countWhere(
  client: Client,
  from: string,
  where: string,
  label: string,
): Promise<{ n: number; examples: string[] }> {
  const rows = await probe<{ n: string; ex: string[] }>(
    client,
    `SELECT (SELECT count(*) FROM ${from} WHERE ${where})::text AS n, ARRAY(SELECT ${label} FROM ${from} WHERE ${where} LIMIT ${RESTORE_ISSUE_EXAMPLES}) AS ex`,
  );
  return { n: Number(rows?.[0].n ?? 0), examples: examplesOf(rows?.[0].ex) };
}

const allNotNull = (cols: string[], alias: string): string =>
  cols.map((c) => `${alias}.${quoteIdent(c)} IS NOT NULL`).join(' AND ');

/** `(a, b)=` followed by the row's values as text: an example that names its columns. */
const labelled = (cols: string[], alias: string): string =>
  `'(${cols.join(', ').replace(/'/g, "''")})=' || ROW(${columnList(cols, alias)})::text`;

interface ForeignKeyRow {
  name: string;
  table: string;
  table_partitioned: boolean;
  ref_table: string;
  ref_partitioned: boolean;
  columns: string[];
  ref_columns: string[];
  on_delete: string;
}

const FOREIGN_KEYS_SQL = `
  SELECT k.conname AS name,
         ${displayNameSql('cn', 'c')} AS table, c.relkind = 'p' AS table_partitioned,
         ${displayNameSql('rn', 'r')} AS ref_table, r.relkind = 'p' AS ref_partitioned,
         array(SELECT a.attname::text FROM unnest(k.conkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.n ORDER BY u.i) AS columns,
         array(SELECT a.attname::text FROM unnest(k.confkey) WITH ORDINALITY u(n, i) JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.n ORDER BY u.i) AS ref_columns,
         k.confdeltype AS on_delete
  FROM pg_constraint k
  JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
  JOIN pg_class r ON r.oid = k.confrelid JOIN pg_namespace rn ON rn.oid = r.relnamespace
  WHERE k.contype = 'f' AND k.conparentid = 0`;

const ON_DELETE: Record<string, string> = {
  c: 'deletes them (ON DELETE CASCADE)',
  n: 'sets their key to NULL (ON DELETE SET NULL)',
  d: 'sets their key to its default (ON DELETE SET DEFAULT)',
};

/**
 * The row-level checks of one staged table (see the file comment). `stage` holds the backup's
 * stored columns with the live types; `scope` is every table of the restore.
 */
export async function rowChecks(
  client: Client,
  t: RestoreTableInput,
  stage: string,
  live: TableInfo,
  scope: Set<string>,
  out: RestoreChecks,
): Promise<void> {
  const rel = relationSql(live);
  const pk = live.primaryKey;
  const cols = new Set(storedColumns(t.table));
  const written =
    t.mode === 'missing-only'
      ? `(SELECT s.* FROM ${stage} s WHERE NOT EXISTS (SELECT 1 FROM ${rel} tgt WHERE ${keyJoin(pk, 's', 'tgt')}))`
      : stage;
  const add = (blocker: boolean, issue: RestoreIssue) => (blocker ? out.blockers : out.warnings).push(issue);
  const keyLabel = pk.length && pk.every((k) => cols.has(k)) ? labelled(pk, 'w') : 'ROW(w.*)::text';

  // NOT NULL: backup rows with no value where the target demands one.
  for (const c of live.columns.filter((x) => !x.nullable && !x.generated && cols.has(x.name))) {
    const { n, examples } = await countWhere(client, `${written} w`, `w.${quoteIdent(c.name)} IS NULL`, keyLabel);
    if (n > 0) add(true, nullValuesIssue(t.name, c.name, n, examples));
  }

  // CHECK constraints the target validates (NOT VALID ones are lifted by the restore and re-added NOT VALID).
  const checks = (
    await client.query<{ name: string; expr: string }>(
      `SELECT conname AS name, pg_get_expr(conbin, conrelid) AS expr FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c' AND convalidated ORDER BY 1`,
      [qualify(t.name)],
    )
  ).rows;
  for (const k of checks) {
    const { n, examples } = await countWhere(client, `${written} w`, `NOT (${k.expr})`, keyLabel);
    if (n > 0)
      add(true, {
        kind: 'check',
        object: `${t.name}.${k.name}`,
        count: n,
        examples,
        message: `${n} restored row(s) of ${t.name} fail its CHECK constraint ${k.name}: ${k.expr}`,
      });
  }

  // Unique keys besides the primary key: collisions among the restored rows, and with live rows that stay.
  const uniques = (
    await client.query<{ name: string; columns: string[] }>(
      `SELECT ic.relname AS name, array(SELECT a.attname::text FROM unnest(i.indkey::int2[]) WITH ORDINALITY u(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = u.n ORDER BY u.o) AS columns
     FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
     WHERE i.indrelid = $1::regclass AND i.indisunique AND NOT i.indisprimary AND i.indpred IS NULL AND i.indexprs IS NULL ORDER BY 1`,
      [qualify(t.name)],
    )
  ).rows.filter((u) => u.columns.every((c) => cols.has(c)));
  for (const u of uniques) {
    const uc = u.columns;
    const dup = await countWhere(
      client,
      `(SELECT ${labelled(uc, 'w')} AS v FROM ${written} w WHERE ${allNotNull(uc, 'w')} GROUP BY ${columnList(uc, 'w')} HAVING count(*) > 1) d`,
      'true',
      'd.v',
    );
    let n = dup.n;
    const ex = dup.examples;
    if (t.mode !== 'replace' && pk.length) {
      // merge rewrites the live rows the backup holds; the others stay. missing-only keeps every live row.
      const stays =
        t.mode === 'merge' ? `AND NOT EXISTS (SELECT 1 FROM ${stage} s2 WHERE ${keyJoin(pk, 's2', 'l')})` : '';
      const clash = await countWhere(
        client,
        `${written} w JOIN ${rel} l ON ${uc.map((c) => `l.${quoteIdent(c)} = w.${quoteIdent(c)}`).join(' AND ')}`,
        `NOT (${keyJoin(pk, 'l', 'w')}) ${stays}`,
        labelled(uc, 'w'),
      );
      n += clash.n;
      ex.push(...clash.examples);
    }
    if (n > 0) add(true, uniqueCollisionIssue(t.name, u.name, uc, n, ex));
  }

  const fks = (
    await client.query<ForeignKeyRow>(
      `${FOREIGN_KEYS_SQL} AND (k.conrelid = $1::regclass OR k.confrelid = $1::regclass) ORDER BY 1`,
      [qualify(t.name)],
    )
  ).rows;
  // Restored rows that reference rows missing from a table the restore leaves alone.
  for (const fk of fks.filter(
    (k) => k.table === t.name && !scope.has(k.ref_table) && k.columns.every((c) => cols.has(c)),
  )) {
    const ref = `${fk.ref_partitioned ? '' : 'ONLY '}${qualify(fk.ref_table)}`;
    const match = fk.columns.map((c, i) => `r.${quoteIdent(fk.ref_columns[i])} = w.${quoteIdent(c)}`).join(' AND ');
    const { n, examples } = await countWhere(
      client,
      `${written} w`,
      `${allNotNull(fk.columns, 'w')} AND NOT EXISTS (SELECT 1 FROM ${ref} r WHERE ${match})`,
      labelled(fk.columns, 'w'),
    );
    if (n > 0) {
      add(true, {
        kind: 'foreign-key',
        object: `${t.name}.${fk.name}`,
        count: n,
        examples,
        message: `${n} restored row(s) of ${t.name} reference rows missing from ${fk.ref_table} (foreign key ${fk.name}), which the restore leaves as it is: restore ${fk.ref_table} too, or add the rows first`,
      });
    }
  }
  // Rows of tables outside the restore that reference rows a replace removes.
  if (t.mode !== 'replace') return;
  for (const fk of fks.filter(
    (k) => k.ref_table === t.name && !scope.has(k.table) && k.ref_columns.every((c) => cols.has(c)),
  )) {
    const child = `${fk.table_partitioned ? '' : 'ONLY '}${qualify(fk.table)}`;
    const match = fk.columns.map((c, i) => `s.${quoteIdent(fk.ref_columns[i])} = c.${quoteIdent(c)}`).join(' AND ');
    const { n, examples } = await countWhere(
      client,
      `${child} c`,
      `${allNotNull(fk.columns, 'c')} AND NOT EXISTS (SELECT 1 FROM ${stage} s WHERE ${match})`,
      labelled(fk.columns, 'c'),
    );
    if (n === 0) continue;
    const effect = ON_DELETE[fk.on_delete];
    add(!effect, {
      kind: 'referenced-rows',
      object: `${fk.table}.${fk.name}`,
      count: n,
      examples,
      message: effect
        ? `the replace removes rows of ${t.name} that ${n} row(s) of ${fk.table} (outside the restore) reference; foreign key ${fk.name} ${effect}`
        : `${n} row(s) of ${fk.table} (outside the restore) reference rows of ${t.name} that the replace removes, and foreign key ${fk.name} refuses that: restore ${fk.table} too, or use merge`,
    });
  }
}
