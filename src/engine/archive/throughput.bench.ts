/**
 * Throughput of the part pipeline (zstd-1 + AES-256-GCM by default) on compressible,
 * database-export-like data, written to and read back from local storage. Not a test: run
 *   npx ts-node --transpile-only src/engine/archive/throughput.bench.ts [MB] [zstd|gzip|none]
 */
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStorage } from '../storage/local-storage';
import { Keyring } from './keyring';
import type { Compression } from './manifest.types';
import { openPart, writePart } from './part-io';

/**
 * Export-like rows, generated up front (64 distinct MiB, cycled: more than zstd's window, so
 * repetition does not flatter the ratio) so the timing is of the pipeline, not of the generator.
 */
function rowPool(): Buffer[] {
  const pool: Buffer[] = [];
  let id = 0;
  for (let i = 0; i < 64; i++) {
    let chunk = '';
    while (chunk.length < 1024 * 1024) {
      id++;
      chunk += `${id}\tuser${id % 5000}@example.com\t${(id * 7919) % 100000}\t2024-03-${(id % 28) + 1} 12:00:00+00\tactive\t{"plan":"pro","seats":${id % 50}}\n`;
    }
    pool.push(Buffer.from(chunk));
  }
  return pool;
}

function rows(pool: Buffer[], totalBytes: number): Readable {
  let produced = 0;
  let i = 0;
  return new Readable({
    read() {
      if (produced >= totalBytes) {
        this.push(null);
        return;
      }
      const chunk = pool[i++ % pool.length];
      produced += chunk.length;
      this.push(chunk);
    },
  });
}

async function main(): Promise<void> {
  const mb = Number(process.argv[2] ?? 200);
  const compression = (process.argv[3] ?? 'zstd') as Compression;
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-bench-'));
  try {
    const storage = new LocalStorage(dir);
    const ring = new Keyring([['bench', randomBytes(32)]]);
    const pool = rowPool();
    const rssBefore = process.memoryUsage().rss;
    let peakRss = rssBefore;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

    let t = process.hrtime.bigint();
    const part = await writePart(storage, 'b', 'parts/0001.rows', rows(pool, mb * 1024 * 1024), {
      compression,
      encryption: ring.active(),
    });
    const writeSec = Number(process.hrtime.bigint() - t) / 1e9;

    t = process.hrtime.bigint();
    const format = { compression, encryption: { algorithm: 'AES-256-GCM' as const, keyId: 'bench', frameSize: 65536 } };
    await pipeline(await openPart(storage, 'b', part, format, ring), new Writable({ write: (_c, _e, done) => done() }));
    const readSec = Number(process.hrtime.bigint() - t) / 1e9;
    clearInterval(sampler);

    const rawMb = part.rawBytes / 1024 / 1024;
    console.log(
      `${compression}${compression === 'none' ? '' : '-1'} + AES-256-GCM, ${rawMb.toFixed(0)} MiB plaintext -> ${(part.size / 1024 / 1024).toFixed(1)} MiB stored (ratio ${(part.rawBytes / part.size).toFixed(1)}x)`,
    );
    console.log(
      `write (hash+compress+encrypt+hash+fsync): ${writeSec.toFixed(2)} s = ${(rawMb / writeSec).toFixed(0)} MiB/s`,
    );
    console.log(
      `read  (hash+decrypt+decompress+verify):   ${readSec.toFixed(2)} s = ${(rawMb / readSec).toFixed(0)} MiB/s`,
    );
    console.log(`peak RSS growth: ${((peakRss - rssBefore) / 1024 / 1024).toFixed(0)} MiB`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
