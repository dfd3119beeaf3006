import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pacingStep, SharedPacer } from '../engine/archive/pacing';
import type { AppConfig } from '../config/app-config';
import { ForegroundActivity } from './foreground-activity';

const activity = (maxWaitMs: number) => new ForegroundActivity({ BACKUP_YIELD_MAX_WAIT_MS: maxWaitMs } as AppConfig);

describe('ForegroundActivity (a backup gives way to API requests)', () => {
  it('lets data flow at once while no request is in flight', () => {
    const a = activity(50);
    expect(a.wait()).toBeNull();
    const done = a.enter();
    done();
    expect(a.wait()).toBeNull();
  });

  it('holds data back while a request is in flight and releases it when the last one ends', async () => {
    const a = activity(10_000);
    const first = a.enter();
    const second = a.enter();
    const wait = a.wait();
    expect(wait).not.toBeNull();
    let released = false;
    void wait!.then(() => (released = true));
    first();
    first(); // ending twice counts once
    await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    second();
    await wait;
    expect(released).toBe(true);
    expect(a.wait()).toBeNull(); // idle again: data flows at once
  });

  it('bounds every wait, then lets the backup run for a while without asking', async () => {
    const a = activity(30);
    a.enter(); // a request that never ends
    const t = performance.now();
    await a.wait();
    expect(performance.now() - t).toBeGreaterThanOrEqual(25);
    // Its share after a full wait: the next chunks move without waiting.
    expect(a.wait()).toBeNull();
  });

  it('never waits when turned off (0)', () => {
    const a = activity(0);
    a.enter();
    expect(a.wait()).toBeNull();
  });

  it('paces a stream without losing or reordering a byte', async () => {
    const a = activity(5);
    const done = a.enter();
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.from(`chunk ${i};`));
    const got: Buffer[] = [];
    setTimeout(done, 20);
    await pipeline(
      Readable.from(chunks),
      pacingStep(a),
      new Writable({
        write(c: Buffer, _e, cb) {
          got.push(c);
          cb();
        },
      }),
    );
    expect(Buffer.concat(got).toString()).toBe(Buffer.concat(chunks).toString());
  });

  it('shares its count with pacers over the same memory (a part worker reading a table paces on it)', async () => {
    const a = activity(10_000);
    const worker = new SharedPacer(a.shared);
    expect(worker.wait()).toBeNull();
    const done = a.enter();
    const wait = worker.wait();
    expect(wait).not.toBeNull();
    let released = false;
    void wait!.then(() => (released = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(released).toBe(false);
    done();
    await wait;
    expect(worker.wait()).toBeNull();
  });
});
