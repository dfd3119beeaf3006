import { linkSync, mkdirSync, readFileSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../test/support/databases';
import { checkLivePath, moveStagedFilesIn, safeSegments } from './per-file-restore';

describe('per-file restore paths', () => {
  it.each([
    ['artefacts/eng-1/a.txt', ['artefacts', 'eng-1', 'a.txt']],
    ['a', ['a']],
    ['/etc/passwd', null],
    ['../outside', null],
    ['a/../b', null],
    ['a//b', null],
    ['./a', null],
    ['a\\b', null],
    ['a\0b', null],
    ['', null],
  ])('%j → %j', (path, segments) => {
    expect(safeSegments(path)).toEqual(segments);
  });
});

describe('per-file restore on disk', () => {
  let dir: ReturnType<typeof tempDir>;
  let root: string;
  let staging: string;
  let outside: string;
  beforeEach(() => {
    dir = tempDir();
    root = join(dir.path, 'files');
    staging = join(dir.path, 'stage');
    outside = join(dir.path, 'outside');
    for (const d of [root, staging, outside]) mkdirSync(d);
  });
  afterEach(() => dir.remove());

  const stageFile = (rel: string, body: string) => {
    mkdirSync(join(staging, rel, '..'), { recursive: true });
    writeFileSync(join(staging, rel), body);
  };

  it('refuses a link anywhere on the way, a file with other hard links, and anything but a file at the end', async () => {
    symlinkSync(outside, join(root, 'linked'));
    writeFileSync(join(outside, 'x.txt'), 'outside');
    expect(await checkLivePath(root, ['linked', 'x.txt'])).toMatch(/linked is a symbolic link, not a directory/);
    writeFileSync(join(root, 'one.txt'), '1');
    linkSync(join(root, 'one.txt'), join(outside, 'two.txt'));
    expect(await checkLivePath(root, ['one.txt'])).toMatch(/other hard links/);
    mkdirSync(join(root, 'dir'));
    expect(await checkLivePath(root, ['dir'])).toMatch(/is a directory/);
    expect(await checkLivePath(root, ['new', 'deep', 'file.txt'])).toBeNull();
  });

  it('moves staged files over live ones (missing-only keeps existing ones), unlinks listed files, never through a link', async () => {
    writeFileSync(join(root, 'kept.txt'), 'live');
    stageFile('kept.txt', 'backup');
    stageFile('sub/new.txt', 'new');
    writeFileSync(join(root, 'gone.txt'), 'drop me');
    symlinkSync(outside, join(root, 'linked'));
    writeFileSync(join(outside, 'victim.txt'), 'outside');

    const safe = await moveStagedFilesIn([{ live: root, staging }], 'missing-only', []);
    expect(safe).toEqual({ written: 1, removed: 0, skipped: [] });
    expect(readFileSync(join(root, 'kept.txt'), 'utf8')).toBe('live');
    expect(readFileSync(join(root, 'sub/new.txt'), 'utf8')).toBe('new');

    stageFile('kept.txt', 'backup');
    const out = await moveStagedFilesIn([{ live: root, staging }], 'replace', ['gone.txt', 'linked/victim.txt']);
    expect(out.written).toBe(1);
    expect(out.removed).toBe(1);
    expect(out.skipped).toEqual([expect.stringMatching(/linked is a symbolic link/)]);
    expect(readFileSync(join(root, 'kept.txt'), 'utf8')).toBe('backup');
    expect(existsSync(join(root, 'gone.txt'))).toBe(false);
    expect(readFileSync(join(outside, 'victim.txt'), 'utf8')).toBe('outside');
  });
});
