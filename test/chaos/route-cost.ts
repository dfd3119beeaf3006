/**
 * CPU cost of one request, per route, on an otherwise idle service (no backup running): the
 * service's own CPU time (read by server-probe.js) divided by the requests it answered, with
 * a few keep-alive clients sending back to back. Less sensitive than latency to whatever else
 * runs on the machine, so it is the figure to compare before and after a change.
 *   npm run build && npx ts-node --transpile-only test/chaos/route-cost.ts [--engine sqlite|postgres] [--requests N] [--cpu-profile [--cpu-profile-dir D]]
 */
import { renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Prng } from '../../bench/prng';
import type { Engine } from '../support/databases';
import { startPgCluster, stopPgCluster } from '../support/postgres-server';
import { createInstance } from './instance';
import { catalogRows, insertCatalog, PROBE, readProbe } from './load';
import { assertBuilt, keepAlive, request } from './service';

const ROUTES = [
  '/api/backups',
  '/api/backups?status=completed&limit=50',
  '/api/backups?type=full&trigger=scheduled',
  '/api/status',
  '/api/audit',
  '/health',
];

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      engine: { type: 'string' },
      requests: { type: 'string' },
      clients: { type: 'string' },
      backups: { type: 'string' },
      'cpu-profile': { type: 'boolean' },
      'cpu-profile-dir': { type: 'string' },
    },
  });
  assertBuilt();
  const engine = (values.engine ?? 'sqlite') as Engine;
  const n = Number(values.requests ?? 600);
  const clients = Number(values.clients ?? 4);
  const cluster = engine === 'postgres' && !process.env.TEST_DATABASE_URL ? await startPgCluster() : null;
  if (cluster) process.env.TEST_DATABASE_URL = cluster.url;
  const probeFile = join(tmpdir(), `strongroom-route-cost-${randomUUID()}.json`);
  const inst = await createInstance(engine, 'route-cost', {
    files: false,
    extraEnv: {
      NODE_OPTIONS: `--require ${PROBE}`,
      STRONGROOM_PROBE_FILE: probeFile,
      ...(values['cpu-profile'] ? { STRONGROOM_PROBE_CPU_PROFILE: '1' } : {}),
    },
  });
  const srv = await inst.start();
  try {
    await insertCatalog(inst, catalogRows(Number(values.backups ?? 10_000), new Prng(7), engine));
    const lines = [
      `${engine}: ${clients} clients back to back, ${n} requests per route, service idle otherwise`,
      '',
      '| Route | CPU µs per request | requests/s | bytes per answer |',
      '|---|---:|---:|---:|',
    ];
    for (const path of ROUTES) {
      // Warm-up: the first requests of a route compile its code paths.
      for (let i = 0; i < 20; i++) await request(srv.base, 'GET', path, { agent: keepAlive, key: inst.adminKey });
      const before = await readProbe(srv, probeFile);
      const t = Date.now();
      let left = n;
      let bytes = 0;
      await Promise.all(
        Array.from({ length: clients }, async () => {
          while (left-- > 0) {
            const r = await request(srv.base, 'GET', path, { agent: keepAlive, key: inst.adminKey });
            if (r.status !== 200) throw new Error(`${path}: ${r.status} ${r.body.toString().slice(0, 200)}`);
            bytes = r.body.length;
          }
        }),
      );
      const secs = (Date.now() - t) / 1000;
      const after = await readProbe(srv, probeFile);
      if (values['cpu-profile'])
        renameSync(
          `${probeFile}.cpuprofile`,
          join(values['cpu-profile-dir'] ?? tmpdir(), `route-cost-${engine}-${ROUTES.indexOf(path)}.cpuprofile`),
        );
      const cpu = after.cpuUserMicros + after.cpuSystemMicros - before.cpuUserMicros - before.cpuSystemMicros;
      lines.push(`| GET ${path} | ${(cpu / n).toFixed(0)} | ${(n / secs).toFixed(0)} | ${bytes} |`);
      process.stderr.write(`${lines[lines.length - 1]}\n`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await srv.stop();
    await inst.dispose();
    rmSync(probeFile, { force: true });
    if (cluster) stopPgCluster(cluster);
  }
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
