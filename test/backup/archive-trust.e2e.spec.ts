/**
 * Which archives the service trusts, with a key configured: every manifest it writes is sealed
 * with a MAC; import, rescan, verify, restore and the CLI refuse manifests without a valid one
 * (unless ALLOW_UNAUTHENTICATED_ARCHIVES), crafted key-derivation parameters before deriving
 * anything, and ids that are not UUIDs, always with a 4xx or a clear failure, never a 500.
 * Archives are crafted from real backup directories, on real storage.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { serializeManifest } from '../../src/engine/archive/manifest';
import { createBackup } from '../support/backup-helpers';
import {
  manifestBytes,
  packTar,
  readBackupDir,
  sealOf,
  writeBackupDir,
  type ManifestBody,
} from '../support/crafted-archive';
import { createTestDatabase, ENGINES, tempDir } from '../support/databases';
import { seedSample } from '../support/sample-data';
import { createTestApp, TestApp } from '../support/test-app';
import { runCli } from '../cli/cli-process';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;
const SEAL = sealOf(KEYRING);

describe.each(ENGINES)('archive trust on %s', (engine) => {
  let t: TestApp;
  let encrypted: string;
  let plain: string;
  let files: ReturnType<typeof tempDir>;
  const admin = () => ({ 'X-API-Key': t.adminKey });
  const backupDir = (id: string, app: TestApp = t) => join(app.config.BACKUP_DIR, 'backups', id);
  const importArchive = (app: TestApp, archive: Buffer) =>
    request(app.http).post('/api/backups/import').set('X-API-Key', app.adminKey).attach('file', archive, 'x.tar');
  /** A copy of a backup's parts with a changed manifest, as a tar. */
  const craft = (id: string, change: (m: ManifestBody) => void, seal = false) => {
    const b = readBackupDir(backupDir(id));
    change(b.manifest);
    return packTar(b.parts, manifestBytes(b.manifest, seal ? SEAL : undefined));
  };
  const nothingKept = (app: TestApp) =>
    expect(
      readdirSync(app.config.BACKUP_DIR, { recursive: true }).filter((f) => String(f).includes('quarantine/')),
    ).toEqual([]);

  beforeAll(async () => {
    files = tempDir();
    t = await createTestApp(engine, { BACKUP_ENCRYPTION_KEYS: KEYRING });
    await seedSample(t.db);
    encrypted = (await createBackup(t, { type: 'tables', tables: ['projects'] })).id as string;
    plain = (await createBackup(t, { type: 'tables', tables: ['projects'], encrypt: false })).id as string;
  });
  afterAll(async () => {
    await t.close();
    files.remove();
  });

  it('seals every manifest it writes, encrypted or not; a sealed unencrypted archive imports', async () => {
    expect(readBackupDir(backupDir(encrypted)).manifest.mac).toMatchObject({
      algorithm: 'HMAC-SHA256',
      keyId: 'k1',
      value: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const unencrypted = readBackupDir(backupDir(plain)).manifest;
    expect(unencrypted.encryption).toBeNull();
    expect(unencrypted.mac?.keyId).toBe('k1');

    const id = randomUUID();
    const res = await importArchive(t, await craft(plain, (m) => (m.id = id), true)).expect(201);
    expect(res.body).toMatchObject({
      id,
      trigger: 'import',
      status: 'completed',
      encrypted: false,
      checksum: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const v = await request(t.http).post(`/api/backups/${id}/verify`).set(admin()).send({}).expect(200);
    expect(v.body.checks[1]).toEqual({ name: 'authentication', ok: true, detail: 'MAC verified with key id "k1"' });
  });

  it('refuses with 422, keeping nothing, an archive without a MAC, with an altered manifest, or sealed with another key', async () => {
    const stripped = randomUUID();
    const noMac = await importArchive(t, await craft(plain, (m) => (m.id = stripped))).expect(422);
    expect(noMac.body.message).toMatch(
      /authentication: manifest of backup .* carries no MAC.*ALLOW_UNAUTHENTICATED_ARCHIVES=true/,
    );

    // The attacker keeps the original MAC and recomputes the checksum: the checksum passes, the MAC does not.
    const b = readBackupDir(backupDir(encrypted));
    const altered = { ...b.manifest, id: randomUUID(), trigger: 'scheduled' as const };
    const { mac: _drop, ...rest } = altered;
    const keptMac = serializeManifest({ ...rest, mac: b.manifest.mac });
    const forged = await importArchive(t, await packTar(b.parts, keptMac)).expect(422);
    expect(forged.body.message).toMatch(/MAC of backup .* does not verify with key id "k1"/);

    const foreignSeal = { keyId: 'k1', master: randomBytes(32) };
    const foreign = readBackupDir(backupDir(plain));
    foreign.manifest.id = randomUUID();
    await importArchive(t, await packTar(foreign.parts, manifestBytes(foreign.manifest, foreignSeal))).expect(422);

    nothingKept(t);
    await request(t.http).get(`/api/backups/${stripped}`).set(admin()).expect(404);
    expect(existsSync(backupDir(stripped))).toBe(false);

    // The flag admits a manifest without a MAC, never one whose MAC is wrong.
    const lenient = await createTestApp(engine, {
      BACKUP_ENCRYPTION_KEYS: KEYRING,
      ALLOW_UNAUTHENTICATED_ARCHIVES: 'true',
    });
    try {
      const ok = await importArchive(lenient, await craft(plain, (m) => (m.id = stripped))).expect(201);
      expect(ok.body.id).toBe(stripped);
      await importArchive(lenient, await packTar(b.parts, keptMac)).expect(422);
    } finally {
      await lenient.close();
    }
  });

  it('refuses crafted scrypt parameters at 422 before deriving anything', async () => {
    for (const N of [2 ** 30, 2 ** 18]) {
      const archive = await craft(encrypted, (m) => {
        m.id = randomUUID();
        m.encryption = {
          algorithm: 'AES-256-GCM',
          keyId: 'passphrase',
          frameSize: 65536,
          kdf: { name: 'scrypt', salt: randomBytes(16).toString('base64'), N, r: 8, p: 1 },
        };
      });
      const res = await importArchive(t, archive).expect(422);
      expect(res.body.message).toMatch(/scrypt N must be a power of two from 2\^14 to 2\^17/);
    }
    // A MAC claiming passphrase parameters: refused before anything derives a key to check it with.
    const b = readBackupDir(backupDir(encrypted));
    const salt = randomBytes(16).toString('base64');
    const mac = {
      algorithm: 'HMAC-SHA256' as const,
      keyId: 'passphrase',
      kdf: { name: 'scrypt' as const, salt, N: 2 ** 15, r: 4096, p: 1 },
      value: 'a'.repeat(64),
    };
    const hugeR = await packTar(b.parts, serializeManifest({ ...b.manifest, id: randomUUID(), mac }));
    expect((await importArchive(t, hugeR).expect(422)).body.message).toMatch(/scrypt r must be 8/);
    nothingKept(t);
  });

  it.each([
    ['..', '..'],
    ['a path out of storage', '../../../../tmp/strongroom-escape'],
    ['300 characters', 'x'.repeat(300)],
    ['not a UUID', 'BACKUP'],
  ])('answers 422, never 500, for a manifest id that is %s', async (_what, id) => {
    const res = await importArchive(t, await craft(plain, (m) => (m.id = id), true));
    expect(res.status).toBe(422);
    expect(res.body.message).toMatch(/not a backup id \(a lowercase UUID\)/);
    expect(existsSync('/tmp/strongroom-escape')).toBe(false);
    nothingKept(t);
  });

  it('rescan catalogues only manifests it can authenticate, in their own directory, and reports what it skipped', async () => {
    const planted = randomUUID();
    const src = readBackupDir(backupDir(plain));
    // A backup planted straight into storage, dressed up as a scheduled one.
    writeBackupDir(
      backupDir(planted),
      src.parts,
      manifestBytes({ ...src.manifest, id: planted, trigger: 'scheduled' }),
    );
    const moved = randomUUID();
    writeBackupDir(backupDir(moved), src.parts, manifestBytes(src.manifest, SEAL));
    mkdirSync(join(t.config.BACKUP_DIR, 'backups', 'not-a-backup'), { recursive: true });
    writeFileSync(join(t.config.BACKUP_DIR, 'backups', 'not-a-backup', 'manifest.json'), '{}');
    const genuine = randomUUID();
    writeBackupDir(backupDir(genuine), src.parts, manifestBytes({ ...src.manifest, id: genuine }, SEAL));

    const scan = await request(t.http).post('/api/backups/rescan').set(admin()).expect(201);
    expect(scan.body.added).toEqual([genuine]);
    const skipped = new Map((scan.body.skipped as { dir: string; reason: string }[]).map((s) => [s.dir, s.reason]));
    expect(skipped.get(`backups/${planted}`)).toMatch(/carries no MAC/);
    expect(skipped.get(`backups/${moved}`)).toMatch(new RegExp(`its manifest is of backup ${plain}, not ${moved}`));
    expect(skipped.get('backups/not-a-backup')).toMatch(/not a backup id/);
    await request(t.http).get(`/api/backups/${planted}`).set(admin()).expect(404);
    await request(t.http).get(`/api/backups/${moved}`).set(admin()).expect(404);
    await request(t.http).get(`/api/backups/${genuine}`).set(admin()).expect(200);
  });

  it('verify and restore refuse a catalogued backup whose manifest was replaced by an unsealed one', async () => {
    const id = (await createBackup(t, { type: 'tables', tables: ['projects'] })).id as string;
    const b = readBackupDir(backupDir(id));
    writeFileSync(join(backupDir(id), 'manifest.json'), manifestBytes(b.manifest));
    const v = await request(t.http).post(`/api/backups/${id}/verify`).set(admin()).send({}).expect(200);
    expect(v.body.ok).toBe(false);
    expect(v.body.checks).toContainEqual({
      name: 'authentication',
      ok: false,
      detail: expect.stringMatching(/carries no MAC/),
    });
    const plan = await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: id, dryRun: true })
      .expect(422);
    expect(plan.body.message).toMatch(/refused: manifest of backup .* carries no MAC/);
    await request(t.http)
      .post('/api/recoveries')
      .set(admin())
      .send({ backupId: id, confirm: `RESTORE ${id}` })
      .expect(422);
  });

  it('the command line refuses an unsealed archive (exit 1) and restores nothing', async () => {
    const archive = join(files.path, `${engine}-unsealed.tar`);
    writeFileSync(archive, await craft(plain, () => undefined));
    const env = {
      DATABASE_URL: 'postgres://nobody:secret@127.0.0.1:1/none',
      BACKUP_DIR: '/nonexistent/strongroom',
      BACKUP_ENCRYPTION_KEYS: KEYRING,
    };
    const verified = await runCli(['verify', archive], env);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/FAIL {2}authentication: manifest of backup .* carries no MAC/);
    const fresh = await createTestDatabase(engine);
    try {
      const restored = await runCli(['restore', archive, '--database-url', fresh.url, '--create-schema', '--yes'], env);
      expect(restored.code).toBe(1);
      expect(restored.stderr).toMatch(/is refused, nothing was restored: manifest of backup .* carries no MAC/);
      const lenient = await runCli(['verify', archive], { ...env, ALLOW_UNAUTHENTICATED_ARCHIVES: 'true' });
      expect(lenient.code).toBe(0);
      const climbing = join(files.path, `${engine}-climbing.tar`);
      writeFileSync(climbing, await craft(plain, (m) => (m.id = '../../escape'), true));
      const badId = await runCli(['restore', climbing, '--database-url', fresh.url, '--create-schema', '--yes'], env);
      expect(badId.code).toBe(1);
      expect(badId.stderr).toMatch(
        /is not a valid Strongroom archive: manifest id "..\/..\/escape" is not a backup id/,
      );
    } finally {
      await fresh.drop();
    }
  });
});
