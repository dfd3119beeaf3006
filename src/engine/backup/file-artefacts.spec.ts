/**
 * File artefacts on real directories: backups archive only regular files and directories,
 * and restores treat every archive as hostile: links, devices, FIFOs, absolute paths and
 * `..` are refused before any root changes, and nothing is ever written outside the roots.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../../../test/support/databases';
import { craftTar, snapshotTree, type CraftedEntry } from './file-archive.fixture';
import { packFileArtefacts, unpackFileArtefacts } from './file-artefacts';
import { inspectFileArchive } from './file-entry-rules';

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('file artefacts', () => {
  let base: ReturnType<typeof tempDir>;
  /** Restore destinations live alone in their own parent, so any sibling left behind shows. */
  let parent: string;
  let rootA: string;
  let rootB: string;
  let outside: string;

  beforeEach(() => {
    base = tempDir();
    parent = join(base.path, 'roots');
    rootA = join(parent, 'uploads');
    rootB = join(parent, 'reports');
    outside = join(base.path, 'outside');
    mkdirSync(join(rootA, 'docs'), { recursive: true });
    writeFileSync(join(rootA, 'docs', 'a.txt'), 'original a');
    mkdirSync(rootB, { recursive: true });
    writeFileSync(join(rootB, 'b.txt'), 'original b');
    mkdirSync(outside);
  });
  afterEach(() => base.remove());

  const expectOnlyRootsBeside = () => expect(readdirSync(parent).sort()).toEqual(['reports', 'uploads']);

  it('backs up regular files and directories only, records what it skipped, and restores them', async () => {
    symlinkSync(outside, join(rootA, 'escape'));
    symlinkSync('docs/a.txt', join(rootA, 'docs', 'relative-link'));
    writeFileSync(join(outside, 'secret.txt'), 'not an artefact');
    execFileSync('mkfifo', [join(rootB, 'pipe')]);
    writeFileSync(join(rootB, 'empty.txt'), '');
    const packed = packFileArtefacts([rootA, rootB]);
    const tarBytes = await collect(packed.stream);
    const stats = packed.stats();
    expect(stats).toMatchObject({ count: 3, bytes: 'original a'.length + 'original b'.length });
    expect(stats.skipped?.count).toBe(3);
    expect(stats.skipped?.entries).toEqual(
      expect.arrayContaining([
        { path: join(rootA, 'escape'), type: 'symlink' },
        { path: join(rootA, 'docs', 'relative-link'), type: 'symlink' },
        { path: join(rootB, 'pipe'), type: 'fifo' },
      ]),
    );
    await expect(inspectFileArchive(Readable.from([tarBytes]), 2, stats)).resolves.toMatchObject({ count: 3 });

    writeFileSync(join(rootA, 'docs', 'a.txt'), 'changed');
    writeFileSync(join(rootA, 'new.txt'), 'made after the backup');
    const restored = await unpackFileArtefacts(Readable.from([tarBytes]), [rootA, rootB]);
    expect(restored).toEqual({ count: 3, bytes: stats.bytes });
    expect(snapshotTree(rootA)).toEqual({ docs: 'dir', 'docs/a.txt': 'original a' });
    expect(snapshotTree(rootB)).toEqual({ 'b.txt': 'original b', 'empty.txt': '' });
    expect(snapshotTree(outside)).toEqual({ 'secret.txt': 'not an artefact' });
    expectOnlyRootsBeside();
  });

  it('restores into roots that do not exist yet, and keeps permission bits but not setuid', async () => {
    const tarBytes = await craftTar([
      { header: { name: '0/', type: 'directory', mode: 0o750 } },
      { header: { name: '0/run.sh', type: 'file', mode: 0o4755 }, body: '#!/bin/sh' },
      { header: { name: '1/deep/er/f.txt', type: 'file' }, body: 'implicit parents' },
    ]);
    // Not even their parent exists: a disaster restore on a new machine.
    const fresh = [join(base.path, 'new', 'x'), join(base.path, 'new', 'y')];
    await unpackFileArtefacts(Readable.from([tarBytes]), fresh);
    expect(snapshotTree(fresh[0])).toEqual({ 'run.sh': '#!/bin/sh' });
    expect(snapshotTree(fresh[1])).toEqual({ deep: 'dir', 'deep/er': 'dir', 'deep/er/f.txt': 'implicit parents' });
    const { statSync } = await import('node:fs');
    expect(statSync(join(fresh[0], 'run.sh')).mode & 0o7777).toBe(0o755);
    expect(statSync(fresh[0]).mode & 0o777).toBe(0o750);
    expect(readdirSync(join(base.path, 'new')).sort()).toEqual(['x', 'y']);
  });

  const good: CraftedEntry[] = [
    { header: { name: '0/', type: 'directory' } },
    { header: { name: '0/docs/a.txt', type: 'file' }, body: 'from the archive' },
    { header: { name: '1/', type: 'directory' } },
  ];
  const hostile: Array<[string, CraftedEntry[], string, RegExp]> = [
    [
      'a symlink entry',
      [{ header: { name: '0/escape', type: 'symlink', linkname: '/etc' } }],
      '0/escape',
      /is a symlink/,
    ],
    ['a hard link entry', [{ header: { name: '0/hl', type: 'link', linkname: '0/docs/a.txt' } }], '0/hl', /is a link/],
    [
      'a character device',
      [{ header: { name: '0/null', type: 'character-device', devmajor: 1, devminor: 3 } }],
      '0/null',
      /is a character-device/,
    ],
    [
      'a block device',
      [{ header: { name: '0/sda', type: 'block-device', devmajor: 8, devminor: 0 } }],
      '0/sda',
      /is a block-device/,
    ],
    ['a FIFO', [{ header: { name: '0/pipe', type: 'fifo' } }], '0/pipe', /is a fifo/],
    [
      'a ".." path',
      [{ header: { name: '0/../escaped.txt', type: 'file' }, body: 'x' }],
      '0/../escaped.txt',
      /"\.\." path segment/,
    ],
    [
      'a ".." root',
      [{ header: { name: '../escaped.txt', type: 'file' }, body: 'x' }],
      '../escaped.txt',
      /outside the backup's 2 file directories/,
    ],
    [
      'an absolute path',
      [{ header: { name: '/tmp/escaped.txt', type: 'file' }, body: 'x' }],
      '/tmp/escaped.txt',
      /absolute path/,
    ],
    [
      'a root index out of range',
      [{ header: { name: '7/x.txt', type: 'file' }, body: 'x' }],
      '7/x.txt',
      /outside the backup's 2/,
    ],
    ['a "." segment', [{ header: { name: '0/./x.txt', type: 'file' }, body: 'x' }], '0/./x.txt', /"\." path segment/],
    [
      'a duplicate entry',
      [{ header: { name: '0/docs/a.txt', type: 'file' }, body: 'twice' }],
      '0/docs/a.txt',
      /appears twice/,
    ],
    [
      'a symlink to a directory, then a file under it',
      [
        { header: { name: '0/d', type: 'symlink', linkname: '__OUTSIDE__' } },
        { header: { name: '0/d/evil.txt', type: 'file' }, body: 'evil' },
      ],
      '0/d',
      /is a symlink/,
    ],
  ];

  it.each(hostile)(
    'refuses an archive with %s, naming the entry, and changes nothing',
    async (_what, extra, entry, reason) => {
      const entries = [...good, ...extra].map((e) => ({
        ...e,
        header: { ...e.header, linkname: e.header.linkname?.replace('__OUTSIDE__', outside) },
      }));
      const tarBytes = await craftTar(entries);
      const beforeA = snapshotTree(rootA);
      const beforeB = snapshotTree(rootB);

      const restore = unpackFileArtefacts(Readable.from([tarBytes]), [rootA, rootB]);
      await expect(restore).rejects.toThrow(JSON.stringify(entry));
      await expect(unpackFileArtefacts(Readable.from([tarBytes]), [rootA, rootB])).rejects.toThrow(reason);
      await expect(inspectFileArchive(Readable.from([tarBytes]), 2)).rejects.toThrow(JSON.stringify(entry));

      expect(snapshotTree(rootA)).toEqual(beforeA);
      expect(snapshotTree(rootB)).toEqual(beforeB);
      expect(snapshotTree(outside)).toEqual({});
      expect(existsSync(join(base.path, 'escaped.txt'))).toBe(false);
      expect(existsSync(join(parent, 'escaped.txt'))).toBe(false);
      expectOnlyRootsBeside();
    },
  );

  it('never writes through a symbolic link already inside a target root: the root is replaced whole', async () => {
    symlinkSync(outside, join(rootA, 'link'));
    const tarBytes = await craftTar([...good, { header: { name: '0/link/evil.txt', type: 'file' }, body: 'evil' }]);
    await unpackFileArtefacts(Readable.from([tarBytes]), [rootA, rootB]);
    expect(snapshotTree(outside)).toEqual({});
    // `link` is now a real directory of the restored root, as the archive describes it.
    expect(snapshotTree(rootA)).toEqual({
      docs: 'dir',
      'docs/a.txt': 'from the archive',
      link: 'dir',
      'link/evil.txt': 'evil',
    });
    expectOnlyRootsBeside();
  });

  it('refuses a root that is itself a symbolic link, writing nothing through it', async () => {
    const linked = join(parent, 'linked');
    symlinkSync(outside, linked);
    const tarBytes = await craftTar([{ header: { name: '0/x.txt', type: 'file' }, body: 'x' }]);
    await expect(unpackFileArtefacts(Readable.from([tarBytes]), [linked])).rejects.toThrow(
      `file directory ${linked} is a symbolic link`,
    );
    expect(snapshotTree(outside)).toEqual({});
    expect(readdirSync(parent).sort()).toEqual(['linked', 'reports', 'uploads']);
  });

  it('refuses overlapping destinations', async () => {
    const tarBytes = await craftTar(good);
    await expect(unpackFileArtefacts(Readable.from([tarBytes]), [rootA, join(rootA, 'docs')])).rejects.toThrow(
      /overlap/,
    );
    expect(readFileSync(join(rootA, 'docs', 'a.txt'), 'utf8')).toBe('original a');
  });

  it('leaves every root as it was when the archive is cut short after some files were staged', async () => {
    const tarBytes = await craftTar([
      ...good,
      { header: { name: '1/big.bin', type: 'file' }, body: 'y'.repeat(100_000) },
    ]);
    const cut = tarBytes.subarray(0, tarBytes.length - 60_000);
    await expect(unpackFileArtefacts(Readable.from([cut]), [rootA, rootB])).rejects.toThrow();
    expect(snapshotTree(rootA)).toEqual({ docs: 'dir', 'docs/a.txt': 'original a' });
    expect(snapshotTree(rootB)).toEqual({ 'b.txt': 'original b' });
    expectOnlyRootsBeside();
    expect(basename(rootA)).toBe('uploads');
  });
});
