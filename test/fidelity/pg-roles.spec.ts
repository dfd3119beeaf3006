/**
 * Roles in the archive and `restore --create-schema --create-roles`: a full backup records the
 * roles the database's objects need (attributes and memberships, never passwords); after those
 * roles are dropped from the cluster, a disaster restore with --create-roles brings them back
 * and the database's `pg_dump --schema-only` (owners and grants included) equals the source's.
 * Existing roles are left as they are; a superuser role is created only by a superuser.
 */
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { engineRestore } from '../../src/cli/engine-restore';
import { listParts } from '../../src/engine/archive/manifest';
import { openPart } from '../../src/engine/archive/part-io';
import { keysForManifest } from '../../src/engine/backup/backup-keys';
import { verifyBackup } from '../../src/engine/backup/verify-backup';
import { readAll } from '../../src/engine/storage/read-all';
import { createDialect } from '../../src/engine/dialects/create-dialect';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { runCli } from '../cli/cli-process';
import {
  createPgDatabase,
  pgQuery as query,
  pgServerUrl,
  tempDir,
  withDatabase,
  type TestDatabase,
} from '../support/databases';
import { fullBackup, keys } from './pg-fidelity-helpers';

function schemaDump(url: string): string {
  const r = spawnSync('pg_dump', ['--schema-only', '--dbname', url], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`pg_dump failed: ${r.stderr}`);
  // pg_dump 15.14+ brackets its output with a random \restrict key.
  return r.stdout
    .split('\n')
    .filter((l) => !l.startsWith('\\restrict') && !l.startsWith('\\unrestrict'))
    .join('\n');
}

const ROLE_ROWS = (
  names: string[],
) => `SELECT rolname, rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication, rolbypassrls,
    rolconnlimit, rolvaliduntil::text AS valid FROM pg_roles WHERE rolname IN (${names.map((n) => `'${n}'`).join(', ')}) ORDER BY 1`;
const MEMBERS = (
  prefix: string,
) => `SELECT g.rolname AS role, u.rolname AS member, m.admin_option AS admin FROM pg_auth_members m
    JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname LIKE '${prefix}%' ORDER BY 1, 2`;

describe('roles in a full PostgreSQL backup, and restore --create-roles', () => {
  const dir = tempDir();
  const storage = new LocalStorage(join(dir.path, 'store'));
  const dbs: TestDatabase[] = [];
  const roles: string[] = [];
  const fresh = async (p: string) => {
    const d = await createPgDatabase(p);
    dbs.push(d);
    return d;
  };
  /** Unique role names per run: the cluster is shared by every test. */
  const role = (what: string) => {
    const name = `sr_${randomBytes(3).toString('hex')}_${what}`;
    roles.push(name);
    return name;
  };
  afterAll(async () => {
    for (const d of dbs) await d.drop();
    for (const r of roles.reverse()) await query(pgServerUrl(), `DROP ROLE IF EXISTS ${r}`);
    dir.remove();
  });

  it('archives the roles the objects need and creates the dropped ones again: schema, owners and grants equal', async () => {
    const owner = role('owner');
    const reader = role('reader');
    const login = role('app');
    const group = role('group');
    const kept = role('kept');
    const bystander = role('bystander');
    const src = await fresh('rolesrc');
    await query(
      pgServerUrl(),
      `
      CREATE ROLE ${owner} NOLOGIN CREATEDB; CREATE ROLE ${reader} NOLOGIN NOINHERIT CONNECTION LIMIT 5 VALID UNTIL '2031-02-03 04:05:06+00';
      CREATE ROLE ${login} LOGIN PASSWORD 'never-archived'; CREATE ROLE ${group} NOLOGIN BYPASSRLS; CREATE ROLE ${kept} NOLOGIN;
      CREATE ROLE ${bystander} NOLOGIN;
      GRANT ${reader} TO ${login} WITH ADMIN OPTION; GRANT pg_read_all_stats TO ${login}; GRANT ${group} TO ${reader};`,
    );
    await query(
      src.url,
      `
      CREATE SCHEMA app AUTHORIZATION ${owner};
      CREATE TABLE app.items (id int PRIMARY KEY, owner_name text); INSERT INTO app.items VALUES (1, 'a'), (2, 'b');
      ALTER TABLE app.items OWNER TO ${owner}; ALTER TABLE app.items ENABLE ROW LEVEL SECURITY;
      CREATE POLICY own_rows ON app.items TO ${group} USING (owner_name = current_user);
      GRANT USAGE ON SCHEMA app TO ${reader}; GRANT SELECT ON app.items TO ${reader}; GRANT UPDATE (owner_name) ON app.items TO ${kept};
      CREATE FUNCTION app.answer() RETURNS int LANGUAGE sql AS 'SELECT 42'; ALTER FUNCTION app.answer() OWNER TO ${owner};
      REVOKE EXECUTE ON FUNCTION app.answer() FROM PUBLIC; GRANT EXECUTE ON FUNCTION app.answer() TO ${reader};
      ALTER DEFAULT PRIVILEGES FOR ROLE ${owner} IN SCHEMA app GRANT SELECT ON TABLES TO ${group};`,
    );
    const archivedRoles = [owner, reader, login, group, kept].sort();
    const before = schemaDump(src.url);
    const attrs = await query(pgServerUrl(), ROLE_ROWS(archivedRoles));
    const members = await query(pgServerUrl(), MEMBERS('sr_'));
    expect(members.length).toBe(3);

    const d = createDialect(src.url);
    const m = await fullBackup(d, storage).finally(() => d.close());
    // Its own part: listed in the manifest, checked by verify, and holding no password.
    expect(m.schema.roles).toBeDefined();
    expect(listParts(m)).toContainEqual(m.schema.roles);
    const verdict = await verifyBackup(storage, `backups/${m.id}`, keys);
    expect(verdict.checks.filter((c) => !c.ok)).toEqual([]);
    const part = (
      await readAll(await openPart(storage, `backups/${m.id}`, m.schema.roles!, m, await keysForManifest(keys, m)))
    ).toString('utf8');
    const archived = JSON.parse(part) as { roles: { name: string }[] };
    // The objects' roles and the login that belongs to one of them; not a role nothing here names.
    expect(
      archived.roles
        .map((r) => r.name)
        .filter((n) => n.startsWith('sr_'))
        .sort(),
    ).toEqual(archivedRoles);
    expect(part).not.toContain('never-archived');
    expect(part).not.toMatch(/md5|SCRAM/i);

    // The disaster: the database and its roles are gone; one role has since been made again, differently.
    await src.drop();
    for (const r of [login, reader, group, owner, kept]) await query(pgServerUrl(), `DROP ROLE ${r}`);
    await query(pgServerUrl(), `CREATE ROLE ${kept} LOGIN CONNECTION LIMIT 1`);
    const keptBefore = await query(pgServerUrl(), ROLE_ROWS([kept]));

    const target = await fresh('roletgt');
    const res = await runCli(
      ['restore', m.id, '--database-url', target.url, '--create-schema', '--create-roles', '--yes'],
      {
        DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
        BACKUP_DIR: join(dir.path, 'store'),
        BACKUP_ENCRYPTION_KEYS: `k:${Buffer.alloc(32, 7).toString('base64')}`,
      },
    );
    expect({ code: res.code, stderr: res.stderr }).toMatchObject({ code: 0 });
    expect(res.stderr).toContain(`roles created: ${[owner, reader, login, group].sort().join(', ')}`);
    expect(res.stderr).toMatch(new RegExp(`already in the cluster, left as they are: .*${kept}`));
    expect(res.stderr).not.toContain('roles missing from the target cluster');

    expect(schemaDump(target.url)).toEqual(before);
    expect(await query(pgServerUrl(), ROLE_ROWS([owner, reader, login, group]))).toEqual(
      attrs.filter((a) => (a as { rolname: string }).rolname !== kept),
    );
    expect(await query(pgServerUrl(), ROLE_ROWS([kept]))).toEqual(keptBefore);
    expect(await query(pgServerUrl(), MEMBERS('sr_'))).toEqual(members);
    // Passwords are never carried: the login role comes back without one.
    expect(
      await query(pgServerUrl(), `SELECT rolpassword IS NULL AS none FROM pg_authid WHERE rolname = '${login}'`),
    ).toEqual([{ none: true }]);
    expect(await query(target.url, `SELECT count(*)::int AS n FROM app.items`)).toEqual([{ n: 2 }]);
  });

  it('creates a superuser role only when a superuser restores, and otherwise leaves the target and the cluster as they were', async () => {
    const root = role('root');
    const restorer = role('restorer');
    const src = await fresh('supsrc');
    await query(pgServerUrl(), `CREATE ROLE ${root} SUPERUSER NOLOGIN; CREATE ROLE ${restorer} LOGIN CREATEROLE`);
    await query(
      src.url,
      `CREATE TABLE t (id int PRIMARY KEY); INSERT INTO t VALUES (1); ALTER TABLE t OWNER TO ${root};`,
    );
    const before = schemaDump(src.url);
    const d = createDialect(src.url);
    const m = await fullBackup(d, storage).finally(() => d.close());
    await src.drop();
    await query(pgServerUrl(), `DROP ROLE ${root}`);
    const b = { storage, dir: `backups/${m.id}`, manifest: m, keys };

    const target = await fresh('suptgt');
    await query(pgServerUrl(), `ALTER DATABASE "${new URL(target.url).pathname.slice(1)}" OWNER TO ${restorer}`);
    const asRestorer = new URL(withDatabase(pgServerUrl(), new URL(target.url).pathname.slice(1)));
    asRestorer.username = restorer;
    asRestorer.password = '';
    await expect(
      engineRestore(b, {
        url: asRestorer.toString(),
        mode: 'replace',
        createSchema: true,
        files: false,
        allowSchemaMismatch: false,
        createRoles: true,
      }),
    ).rejects.toThrow(
      new RegExp(
        `${root} are superusers in the backup, and only a superuser can create a superuser \\(connected as ${restorer}`,
      ),
    );
    expect(await query(pgServerUrl(), `SELECT count(*)::int AS n FROM pg_roles WHERE rolname = '${root}'`)).toEqual([
      { n: 0 },
    ]);
    expect(await query(target.url, `SELECT count(*)::int AS n FROM pg_class WHERE relname = 't'`)).toEqual([{ n: 0 }]);

    // Without the flag the role is listed as missing; as a superuser it is created.
    const listed = await engineRestore(b, {
      url: asRestorer.toString(),
      mode: 'replace',
      createSchema: true,
      files: false,
      allowSchemaMismatch: false,
    });
    expect(listed.missingRoles).toEqual([root]);
    const again = await fresh('suptgt2');
    const done = await engineRestore(b, {
      url: again.url,
      mode: 'replace',
      createSchema: true,
      files: false,
      allowSchemaMismatch: false,
      createRoles: true,
    });
    expect(done.roles?.created).toEqual([root]);
    expect(done.missingRoles).toEqual([]);
    expect(await query(pgServerUrl(), `SELECT rolsuper FROM pg_roles WHERE rolname = '${root}'`)).toEqual([
      { rolsuper: true },
    ]);
    expect(schemaDump(again.url)).toEqual(before);
  });
});
