/**
 * File restores are all or nothing across a crash: a process killed (SIGKILL) at each step of
 * a three-root swap leaves a journal, and recovery (what the service runs at boot, and every
 * file restore first) makes every root old or every root new, never a mix, with no staged or
 * old copy left beside them.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { tempDir } from '../../../test/support/databases';
import { builtPath, ROOT } from '../../../test/support/transpile';
import { craftTar, snapshotTree } from './file-archive.fixture';
import {
  leaveStaged,
  prepareStaged,
  recordStagedToken,
  stageFileArtefacts,
  unpackFileArtefacts,
} from './file-artefacts';
import { FileRestoreUndecidedError, recoverInterruptedFileRestores, type CommitRef } from './file-restore-journal';

const ROOTS = ['uploads', 'reports', 'avatars'];

function runChild(
  tarFile: string,
  roots: string[],
  step: string,
  root: number | '-',
): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(
    process.execPath,
    [builtPath('src/engine/backup/file-restore-crash.child.ts'), tarFile, JSON.stringify(roots), step, String(root)],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
}

/** The content a version of the roots holds: every root marked with the version, plus files of its own. */
function version(v: string): Array<{ header: { name: string; type: 'file' | 'directory' }; body?: string }> {
  return ROOTS.flatMap((_, i) => [
    { header: { name: `${i}/`, type: 'directory' as const } },
    { header: { name: `${i}/version.txt`, type: 'file' as const }, body: v },
    { header: { name: `${i}/nested/${v}-${i}.txt`, type: 'file' as const }, body: `${v} ${i}`.repeat(1000) },
  ]);
}

function expected(v: string, i: number): Record<string, string> {
  return { nested: 'dir', [`nested/${v}-${i}.txt`]: `${v} ${i}`.repeat(1000), 'version.txt': v };
}

describe('a file restore killed during its multi-root swap', () => {
  let base: ReturnType<typeof tempDir>;
  let parent: string;
  let roots: string[];
  let newTar: string;

  beforeAll(async () => {
    base = tempDir();
    newTar = join(base.path, 'new.tar');
    writeFileSync(newTar, await craftTar(version('new')));
  });
  afterAll(() => base.remove());

  beforeEach(async () => {
    parent = join(base.path, `roots-${Math.random().toString(36).slice(2)}`);
    roots = ROOTS.map((r) => join(parent, r));
    mkdirSync(parent);
    // The starting point is itself restored, so "old" looks exactly like a version.
    await unpackFileArtefacts(Readable.from([await craftTar(version('old'))]), roots);
  });

  const expectAll = (v: string) => {
    roots.forEach((r, i) => expect(snapshotTree(r)).toEqual(expected(v, i)));
    expect(readdirSync(parent).sort()).toEqual([...ROOTS].sort());
  };

  // [step, root (or '-'), what recovery must leave]
  const points: Array<[string, number | '-', 'old' | 'new']> = [
    ['journal-written', '-', 'old'],
    ['staged', '-', 'old'],
    ['swapping', '-', 'new'],
    ['moved-aside', 0, 'new'],
    ['swapped-in', 0, 'new'],
    ['moved-aside', 1, 'new'],
    ['swapped-in', 1, 'new'],
    ['swapped-in', 2, 'new'],
    ['all-swapped', '-', 'new'],
    ['old-removed', '-', 'new'],
  ];

  it.each(points)(
    'killed at %s (root %s): recovery leaves every root %s, nothing beside them',
    async (step, root, outcome) => {
      const run = await runChild(newTar, roots, step, root);
      expect(run.signal).toBe('SIGKILL');
      // The crash left the journal (and usually staged or old copies) beside the roots.
      expect(readdirSync(parent).some((n) => n.endsWith('.strongroom-journal'))).toBe(true);

      const report = await recoverInterruptedFileRestores(roots);
      expect(outcome === 'new' ? report.completed : report.rolledBack).toHaveLength(1);
      expectAll(outcome);
    },
  );

  it('recovers from any of the roots, e.g. a secondary one listed alone', async () => {
    const run = await runChild(newTar, roots, 'swapped-in', 0);
    expect(run.signal).toBe('SIGKILL');
    await recoverInterruptedFileRestores([roots[2]]);
    expectAll('new');
  });

  it('the next file restore first finishes the interrupted one, then restores its own archive', async () => {
    const run = await runChild(newTar, roots, 'moved-aside', 1);
    expect(run.signal).toBe('SIGKILL');
    await unpackFileArtefacts(Readable.from([await craftTar(version('third'))]), roots);
    expectAll('third');
  });

  it('a restore that was not killed leaves no journal, staging or old copy', async () => {
    const run = await runChild(newTar, roots, 'never', '-');
    expect(run).toMatchObject({ code: 0, signal: null });
    expectAll('new');
    expect(await recoverInterruptedFileRestores(roots)).toEqual({
      completed: [],
      rolledBack: [],
      removed: [],
      busy: [],
      undecided: [],
      settled: [],
    });
  });

  it('removes staged and old copies left by restores without a journal (older versions), putting a moved-aside root back', async () => {
    const legacyStage = `${roots[0]}.strongroom-restore-999999-1700000000000`;
    const legacyOld = `${roots[1]}.strongroom-old-999999-1700000000000`;
    mkdirSync(join(legacyStage, 'partial'), { recursive: true });
    const { renameSync } = await import('node:fs');
    renameSync(roots[1], legacyOld); // killed between moving the root aside and moving the new one in
    const report = await recoverInterruptedFileRestores(roots);
    expect(report.removed).toEqual([legacyStage]);
    expectAll('old');
  });

  describe('prepared for a database commit (the process gone before its swap)', () => {
    /** Stages the new version, prepares the journal for restore `id`, then abandons it as a crash would. */
    async function prepared(id: string): Promise<void> {
      const staged = await stageFileArtefacts(Readable.from([await craftTar(version('new'))]), roots);
      await prepareStaged(staged, { id, target: 'sqlite:/target.db' });
      await recordStagedToken(staged, '12345');
      leaveStaged(staged);
      expect(readdirSync(parent).filter((n) => n.includes('.strongroom-stage-'))).toHaveLength(ROOTS.length);
    }

    it('rolls forward when the target says the restore committed, asking with the journaled marker', async () => {
      await prepared('recovery-1');
      const asked: CommitRef[] = [];
      const report = await recoverInterruptedFileRestores(roots, { committed: async (c) => (asked.push(c), true) });
      expect(asked).toEqual([{ id: 'recovery-1', token: '12345', target: 'sqlite:/target.db' }]);
      expect(report).toMatchObject({
        completed: [expect.any(String)],
        rolledBack: [],
        settled: [{ commitId: 'recovery-1', committed: true }],
      });
      expectAll('new');
    });

    it('rolls back when it did not commit', async () => {
      await prepared('recovery-2');
      const report = await recoverInterruptedFileRestores(roots, { committed: async () => false });
      expect(report).toMatchObject({
        completed: [],
        rolledBack: [expect.any(String)],
        settled: [{ commitId: 'recovery-2', committed: false }],
      });
      expectAll('old');
    });

    it('leaves everything staged when the answer is unknown (a file restore refuses to start), and settles it once known', async () => {
      await prepared('recovery-3');
      for (const committed of [
        undefined,
        async () => null,
        async () => Promise.reject(new Error('target unreachable')),
      ]) {
        const report = await recoverInterruptedFileRestores(roots, { committed });
        expect(report.undecided).toEqual([expect.objectContaining({ commitId: 'recovery-3' })]);
        expect(report.removed).toEqual([]);
        expect(readdirSync(parent).filter((n) => n.includes('.strongroom-stage-'))).toHaveLength(ROOTS.length);
        roots.forEach((r, i) => expect(snapshotTree(r)).toEqual(expected('old', i)));
      }
      await expect(unpackFileArtefacts(Readable.from([await craftTar(version('third'))]), roots)).rejects.toThrow(
        FileRestoreUndecidedError,
      );
      await recoverInterruptedFileRestores(roots, { committed: async () => true });
      expectAll('new');
    });
  });
});
