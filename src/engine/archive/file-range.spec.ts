import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { readAll as collect } from '../storage/storage-test-streams';
import { readFileRange } from './file-range';

describe('readFileRange', () => {
  let dir: string;
  let file: string;
  const data = randomBytes(3 * 1024 * 1024 + 123);

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'file-range-'));
    file = join(dir, 'data.bin');
    writeFileSync(file, data);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads exactly [start, end) of a path, across several read steps', async () => {
    const start = 17;
    const end = data.length - 5;
    const got = await collect(readFileRange({ kind: 'file-range', path: file, start, end }));
    expect(got.equals(data.subarray(start, end))).toBe(true);
  });

  it('reads an empty range as no bytes', async () => {
    const got = await collect(readFileRange({ kind: 'file-range', path: file, start: 10, end: 10 }));
    expect(got.length).toBe(0);
  });

  it('fails, naming the shortfall, when the file ends before the range does', async () => {
    await expect(
      collect(readFileRange({ kind: 'file-range', path: file, start: 0, end: data.length + 10 })),
    ).rejects.toThrow(`read ${data.length} of ${data.length + 10} bytes: the file ended early`);
  });

  it('never closes a descriptor it was given, even when its reader gives up half-way', async () => {
    const fd = openSync(file, 'r');
    try {
      const whole = await collect(readFileRange({ kind: 'file-range', fd, start: 0, end: data.length }));
      expect(whole.equals(data)).toBe(true);
      // A pipeline whose sink fails destroys the source: the descriptor must survive that.
      const failing = new Writable({ write: (_c, _e, done) => done(new Error('sink failed')) });
      await expect(
        pipeline(readFileRange({ kind: 'file-range', fd, start: 0, end: data.length }), failing),
      ).rejects.toThrow('sink failed');
      expect(() => fstatSync(fd)).not.toThrow();
      const again = await collect(readFileRange({ kind: 'file-range', fd, start: 5, end: 4096 }));
      expect(again.equals(data.subarray(5, 4096))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });
});
