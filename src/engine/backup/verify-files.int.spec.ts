/**
 * Verify treats the file part like a restore would: an unencrypted archive crafted with a
 * link, a device or an escaping path is unsound (plain and deep, engine and CLI), and the
 * check names the entry. A crafted archive's own checksums are all correct: only the entry
 * rules catch it.
 */
import { createWriteStream, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempDir } from '../../../test/support/databases';
import { runCli } from '../../../test/cli/cli-process';
import { packArchive } from '../archive/archive-tar';
import { serializeManifest } from '../archive/manifest';
import { sampleManifest } from '../archive/manifest.fixture';
import { partKey, writePart } from '../archive/part-io';
import { MANIFEST_FILE } from '../archive/manifest.types';
import { LocalStorage } from '../storage/local-storage';
import { craftTar, snapshotTree, type CraftedEntry } from './file-archive.fixture';
import { verifyBackup } from './verify-backup';

const NO_KEYS = { keyring: null, passphrase: null };

async function storeCrafted(
  storage: LocalStorage,
  dir: string,
  roots: string[],
  entries: CraftedEntry[],
  counts: { count: number; bytes: number },
): Promise<void> {
  const part = await writePart(storage, dir, 'parts/files.tar', Readable.from([await craftTar(entries)]), {
    compression: 'gzip',
  });
  const manifest = sampleManifest({
    engine: { name: 'sqlite', serverVersion: '3.45.0', encoding: 'sqlite-ndjson' },
    schema: { fingerprint: 'a'.repeat(64), migrations: [], part: null },
    tables: [],
    files: { ...counts, roots, part },
    compression: 'gzip',
    encryption: null,
    auditHead: null,
  });
  await storage.put(partKey(dir, MANIFEST_FILE), Readable.from([serializeManifest(manifest)]));
}

describe('verify of file parts', () => {
  let base: ReturnType<typeof tempDir>;
  let storage: LocalStorage;
  let roots: string[];

  beforeAll(() => {
    base = tempDir();
    storage = new LocalStorage(join(base.path, 'store'));
    roots = [join(base.path, 'files', 'uploads')];
    mkdirSync(roots[0], { recursive: true });
    writeFileSync(join(roots[0], 'kept.txt'), 'original');
  });
  afterAll(() => base.remove());

  const sound: CraftedEntry[] = [
    { header: { name: '0/', type: 'directory' } },
    { header: { name: '0/a.txt', type: 'file' }, body: 'hello' },
  ];

  it('calls an archive of regular files and directories sound', async () => {
    await storeCrafted(storage, 'backups/sound', roots, sound, { count: 1, bytes: 5 });
    const r = await verifyBackup(storage, 'backups/sound', NO_KEYS);
    expect(r.checks.find((c) => c.name === 'part parts/files.tar')).toMatchObject({
      ok: true,
      detail: expect.stringContaining('1 regular files'),
    });
    expect(r.ok).toBe(true);
  });

  it("calls a file part whose entries differ from the manifest's counts unsound", async () => {
    await storeCrafted(storage, 'backups/counts', roots, sound, { count: 2, bytes: 5 });
    const r = await verifyBackup(storage, 'backups/counts', NO_KEYS);
    expect(r.ok).toBe(false);
    expect(r.checks.find((c) => c.name === 'part parts/files.tar')?.detail).toMatch(
      /holds 1 files .* manifest records 2/,
    );
  });

  it.each([
    ['a symlink', { header: { name: '0/escape', type: 'symlink', linkname: '/etc' } }, /"0\/escape" is a symlink/],
    ['a hard link', { header: { name: '0/hl', type: 'link', linkname: '0/a.txt' } }, /"0\/hl" is a link/],
    [
      'a character device',
      { header: { name: '0/null', type: 'character-device', devmajor: 1, devminor: 3 } },
      /"0\/null" is a character-device/,
    ],
    [
      'a ".." path',
      { header: { name: '0/../../x', type: 'file' }, body: 'x' },
      /"0\/..\/..\/x" has a ".." path segment/,
    ],
    [
      'an absolute path',
      { header: { name: '/etc/cron.d/x', type: 'file' }, body: 'x' },
      /"\/etc\/cron.d\/x" is an absolute path/,
    ],
  ] as Array<[string, CraftedEntry, RegExp]>)(
    'calls an archive with %s unsound, plain and deep, naming the entry',
    async (_what, entry, detail) => {
      const dir = `backups/hostile-${_what.replace(/\W+/g, '-')}`;
      await storeCrafted(storage, dir, roots, [...sound, entry], { count: 1, bytes: 5 });
      for (const deep of [false, true]) {
        const r = await verifyBackup(storage, dir, NO_KEYS, { deep });
        expect(r.ok).toBe(false);
        expect(r.checks.find((c) => c.name === 'part parts/files.tar')).toMatchObject({
          ok: false,
          detail: expect.stringMatching(detail),
        });
      }
    },
  );

  it('the CLI says a crafted archive is NOT sound and refuses to restore it, writing nothing', async () => {
    const dir = 'backups/cli-hostile';
    await storeCrafted(
      storage,
      dir,
      roots,
      [...sound, { header: { name: '0/escape', type: 'symlink', linkname: base.path } }],
      { count: 1, bytes: 5 },
    );
    const file = join(base.path, 'hostile.tar');
    await pipeline(packArchive(storage, dir), createWriteStream(file));
    const env = { DATABASE_URL: `sqlite:${join(base.path, 'service.db')}`, BACKUP_DIR: join(base.path, 'cli-store') };

    const verify = await runCli(['verify', file], env);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toMatch(/FAIL {2}part parts\/files.tar: .*"0\/escape" is a symlink/);
    expect(verify.stderr).toContain('NOT sound');

    const target = join(base.path, 'target.db');
    const restore = await runCli(['restore', file, '--database-url', `sqlite:${target}`, '--yes'], env);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/failed verification, nothing was restored: .*"0\/escape" is a symlink/);
    expect(snapshotTree(roots[0])).toEqual({ 'kept.txt': 'original' });
    expect(readdirSync(join(base.path, 'files'))).toEqual(['uploads']);
    expect(existsSync(join(base.path, 'files', 'uploads', 'escape'))).toBe(false);
  });
});
