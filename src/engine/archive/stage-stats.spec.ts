import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tempDir } from '../../../test/support/databases';
import { createCompressStream } from './compression';
import { DigestStream } from './digest-stream';
import { LocalStorage } from '../storage/local-storage';
import { writePart } from './part-io';
import { partWorkers } from './part-worker-pool';
import { enableStageStats, processStageStats, threadStats, timedStage } from './stage-stats';

/** The benchmark's stage split: off it changes nothing; on, time is charged once, to the right stage, on every thread. */

function data(bytes: number): Buffer {
  // Half random, half repetitive: zstd has real work to do on both.
  const out = Buffer.alloc(bytes);
  randomBytes(bytes / 2).copy(out);
  out.fill('row\tvalue\n', bytes / 2);
  return out;
}

function chunks(buf: Buffer, size = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
    })(),
  );
}

const sink = () => new Writable({ write: (_c, _e, done) => done() });

afterEach(() => enableStageStats(false));
afterAll(() => partWorkers.terminateAll());

describe('timedStage', () => {
  it('leaves the step untouched when stats are off', () => {
    enableStageStats(false);
    const step = new DigestStream();
    expect(timedStage('hashing', step)).toBe(step);
    expect(Object.prototype.hasOwnProperty.call(step, '_transform')).toBe(false);
  });

  it('charges each step its own time once, even when one pushes synchronously into the next', async () => {
    enableStageStats(true);
    const before = threadStats().stagesMs;
    const hash = timedStage('hashing', new DigestStream());
    const compress = timedStage('compressing', createCompressStream('zstd', 3));
    const started = process.hrtime.bigint();
    await pipeline(chunks(data(8 * 1024 * 1024)), hash, compress, sink());
    const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
    const after = threadStats().stagesMs;
    const hashing = (after.hashing ?? 0) - (before.hashing ?? 0);
    const compressing = (after.compressing ?? 0) - (before.compressing ?? 0);
    expect(hashing).toBeGreaterThan(0);
    expect(compressing).toBeGreaterThan(0);
    // Exclusive timing: together they cannot exceed the time that passed (nested time would).
    expect(hashing + compressing).toBeLessThanOrEqual(wallMs);
    // The digest still comes out right through the wrapper.
    expect(hash.digest().bytes).toBe(8 * 1024 * 1024);
  });
});

describe('stage stats from part workers', () => {
  it('reach the main thread with each finished part, with the worker thread CPU', async () => {
    // Before the first worker starts: a worker takes the setting when it starts.
    enableStageStats(true);
    const root = tempDir('strongroom-stage-stats-');
    try {
      await writePart(new LocalStorage(root.path), 'b', 'parts/0001.rows', chunks(data(4 << 20)), {
        compression: 'zstd',
        encryption: { keyId: 'k1', key: randomBytes(32) },
      });
      const s = processStageStats();
      expect(s.workers.count).toBe(1);
      expect(s.workers.stagesMs.compressing).toBeGreaterThan(0);
      expect(s.workers.stagesMs.encrypting).toBeGreaterThan(0);
      expect(s.workers.stagesMs.hashing).toBeGreaterThan(0);
      // None of this part's chain ran on the main thread.
      expect(s.main.stagesMs.encrypting).toBeUndefined();
      expect(s.workers.cpuMs).not.toBeNull();
      expect(s.processCpuMs).toBeGreaterThan(0);
    } finally {
      root.remove();
    }
  });
});
