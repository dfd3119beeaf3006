/**
 * The cluster's roles a database needs, archived without passwords, and created again by a
 * disaster restore that asks for it (`--create-roles`).
 *
 * Which roles: those the database's own objects name (owners, grantees, default-privilege and
 * policy roles: every role pg_shdepend links to an object of this database), the groups they
 * belong to and the roles that belong to them (the login roles an application connects as
 * usually hold no grant themselves, only membership of the role that does). Other roles of the
 * cluster belong to other databases and stay out of this one's archive. PostgreSQL's own
 * predefined roles (`pg_*`) exist in every cluster and are never archived, but memberships in
 * them are.
 *
 * Left out: passwords, per-role settings (ALTER ROLE ... SET) and comments on roles.
 */
import type { Client } from 'pg';
import type { ArchivedRole, ArchivedRoles, RoleCreation } from '../dialect';
import type { Queryable } from './pg-catalog';
import { quoteIdent, quoteLiteral } from './pg-session';

/** Read inside the backup's snapshot, so the roles are those the archived objects name. */
export async function readDatabaseRoles(db: Queryable): Promise<ArchivedRoles> {
  const { rows } = await db.query<ArchivedRole & { oid: number }>(
    `WITH RECURSIVE
       referenced AS (
         SELECT DISTINCT d.refobjid AS oid FROM pg_shdepend d
         WHERE d.refclassid = 'pg_authid'::regclass AND d.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       ),
       up(oid) AS (SELECT oid FROM referenced UNION SELECT m.roleid FROM pg_auth_members m JOIN up ON m.member = up.oid),
       down(oid) AS (SELECT oid FROM referenced UNION SELECT m.member FROM pg_auth_members m JOIN down ON m.roleid = down.oid)
     SELECT r.oid::int AS oid, r.rolname AS name, r.rolsuper AS superuser, r.rolinherit AS inherit, r.rolcreaterole AS "createRole",
            r.rolcreatedb AS "createDb", r.rolcanlogin AS login, r.rolreplication AS replication, r.rolbypassrls AS "bypassRls",
            r.rolconnlimit AS "connectionLimit", to_json(r.rolvaliduntil) #>> '{}' AS "validUntil"
     FROM pg_roles r
     WHERE r.oid IN (SELECT oid FROM up UNION SELECT oid FROM down) AND r.rolname !~ '^pg_'
     ORDER BY r.rolname`,
  );
  const oids = rows.map((r) => r.oid);
  const memberships = oids.length
    ? (
        await db.query<{ role: string; member: string; admin: boolean }>(
          // PostgreSQL 16 keeps one row per grantor; the membership is one.
          `SELECT g.rolname AS role, u.rolname AS member, bool_or(m.admin_option) AS admin
         FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
         WHERE m.member = ANY($1::oid[]) AND (m.roleid = ANY($1::oid[]) OR g.rolname ~ '^pg_')
         GROUP BY 1, 2 ORDER BY 1, 2`,
          [oids],
        )
      ).rows
    : [];
  return { roles: rows.map(({ oid: _, ...r }) => r), memberships };
}

function createRoleSql(r: ArchivedRole): string {
  const flag = (on: boolean, name: string) => (on ? name : `NO${name}`);
  const opts = [
    flag(r.superuser, 'SUPERUSER'),
    flag(r.createDb, 'CREATEDB'),
    flag(r.createRole, 'CREATEROLE'),
    flag(r.inherit, 'INHERIT'),
    flag(r.login, 'LOGIN'),
    flag(r.replication, 'REPLICATION'),
    flag(r.bypassRls, 'BYPASSRLS'),
    `CONNECTION LIMIT ${Number(r.connectionLimit)}`,
  ];
  if (r.validUntil !== null) opts.push(`VALID UNTIL ${quoteLiteral(r.validUntil)}`);
  return `CREATE ROLE ${quoteIdent(r.name)} WITH ${opts.join(' ')}`;
}

/**
 * Creates the archived roles the cluster lacks, with their memberships, on `client` inside the
 * restore's transaction (CREATE ROLE is transactional: a failed restore takes them back out).
 * Existing roles are never altered: not their attributes, not their memberships. A superuser
 * role is created only by a superuser; otherwise nothing is created and the restore stops.
 */
export async function createMissingRoles(client: Client, archived: ArchivedRoles): Promise<RoleCreation> {
  const names = archived.roles.map((r) => r.name);
  const existing = new Set(
    (
      await client.query<{ name: string }>(`SELECT rolname AS name FROM pg_roles WHERE rolname = ANY($1::text[])`, [
        names,
      ])
    ).rows.map((r) => r.name),
  );
  const missing = archived.roles.filter((r) => !existing.has(r.name));
  const me = (
    await client.query<{ name: string; superuser: boolean }>(
      `SELECT current_user AS name, rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`,
    )
  ).rows[0];
  const supers = missing.filter((r) => r.superuser).map((r) => r.name);
  if (supers.length && !me?.superuser) {
    throw new Error(
      `--create-roles: role(s) ${supers.join(', ')} are superusers in the backup, and only a superuser can create a superuser (connected as ${me?.name ?? 'unknown'}, who is not); ` +
        'create them yourself first, or connect as a superuser; nothing was restored',
    );
  }
  for (const r of missing) {
    try {
      await client.query(createRoleSql(r));
    } catch (err) {
      throw new Error(
        `--create-roles: creating role ${r.name} failed (connected as ${me?.name ?? 'unknown'}): ${(err as Error).message}; nothing was restored`,
      );
    }
  }
  const created = new Set(missing.map((r) => r.name));
  for (const m of archived.memberships) {
    // Only the new roles' own memberships: an existing role keeps exactly the memberships it has.
    if (!created.has(m.member)) continue;
    try {
      await client.query(
        `GRANT ${quoteIdent(m.role)} TO ${quoteIdent(m.member)}${m.admin ? ' WITH ADMIN OPTION' : ''}`,
      );
    } catch (err) {
      throw new Error(
        `--create-roles: granting role ${m.role} to ${m.member} failed: ${(err as Error).message}; nothing was restored`,
      );
    }
  }
  return { created: [...created].sort(), skipped: names.filter((n) => existing.has(n)).sort() };
}

/** A roles part as written by readDatabaseRoles; anything else is refused before it reaches SQL. */
export function parseArchivedRoles(text: string): ArchivedRoles {
  const v = JSON.parse(text) as ArchivedRoles;
  const ok =
    Array.isArray(v?.roles) &&
    Array.isArray(v.memberships) &&
    v.roles.every(
      (r) =>
        typeof r.name === 'string' &&
        typeof r.connectionLimit === 'number' &&
        (r.validUntil === null || typeof r.validUntil === 'string'),
    ) &&
    v.memberships.every((m) => typeof m.role === 'string' && typeof m.member === 'string');
  if (!ok) throw new Error("the backup's roles part is not a list of roles");
  return v;
}
