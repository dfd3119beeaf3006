/**
 * `npm run bench:audit -- [--seconds 10] [--concurrency 64,256] [--proof-events 10000000]
 *  [--out docs/benchmarks-audit.md] [--cpu-profile <file.cpuprofile>]`
 *
 * `--cpu-profile` writes a V8 CPU profile of the concurrent phase alone (this process; read it
 * with test/chaos/cpuprofile-top.ts), to see where an append's time goes.
 *
 * The audit trail's throughput on PostgreSQL (a throwaway cluster with the server's normal
 * durability: fsync and synchronous_commit on), with checkpointing on (a signed checkpoint
 * every second, AUDIT_CHECKPOINT_SECONDS=1, the shortest period): appends per second and
 * append latency (p50/p99, from the call to its commit) through AuditService in the
 * service's own application context (the CLI's module set: database, storage, audit, no HTTP),
 * so the numbers are the audit path's, not Express's. Three ways events are appended:
 *
 * - one caller at a time (the latency of a lone append: one transaction, one commit);
 * - many concurrent callers (requests, jobs): the group commit appends what arrives during
 *   one commit in the next (each event still its own seq and hash, in order);
 * - inside the caller's own transaction (a change and its event commit together): one
 *   commit per event, as the change needs.
 *
 * Then the trail it built is verified: online (the verifier behind GET /api/audit/verify)
 * and offline (export + checkpoints from backup storage + public key, like the CLI), and
 * inclusion proofs are served from the catalog. Last, proof sizes and verification time
 * at ten million synthetic events (bench/audit-proofs.ts, in memory: leaves and subtrees
 * computed, not stored). Writes a Markdown section for docs/benchmarks.md.
 */
import { NestFactory } from '@nestjs/core';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { INestApplicationContext } from '@nestjs/common';
import { AuditCheckpointer } from '../src/audit/audit-checkpointer';
import { AuditProofs } from '../src/audit/audit-proofs.service';
import { AuditService } from '../src/audit/audit.service';
import { checkpointsFromDir, verifyExport } from '../src/cli/audit-verify';
import { CliModule } from '../src/cli/cli.module';
import { Transactions } from '../src/database/transactions';
import { proofsAtScale, type ProofsAtScale } from './audit-proofs';
import { parseArgs, runMain } from './cli-args';
import { treeCpuSeconds } from './measure';
import { databaseUrl, postmasterPid, startBenchCluster, stopBenchCluster, type BenchCluster } from './pg-cluster';
import { query, ROOT } from './bench-context';
import { log } from './rounds';

interface Phase {
  label: string;
  concurrency: number;
  events: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU seconds per 1,000 appends: this process (Node) and the PostgreSQL server. */
  nodeCpuPer1000: number;
  serverCpuPer1000: number;
  checkpointsSigned: number;
  load: number;
}

const GOAL_PER_SECOND = 2000;

function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const seconds = Number(args.get('seconds') ?? '10');
  // One group-commit phase per value: throughput grows with callers while commits are the limit.
  const concurrencies = (args.get('concurrency') ?? '64,256').split(',').map(Number);
  const concurrency = Math.max(...concurrencies);
  const proofEvents = Number(args.get('proof-events') ?? '10000000');
  const out = args.get('out') ?? 'docs/benchmarks-audit.md';
  const cpuProfile = args.get('cpu-profile');
  for (const [name, v] of [
    ['seconds', seconds],
    ...concurrencies.map((c) => ['concurrency', c] as const),
    ['proof-events', proofEvents],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${name} must be a positive whole number`);
  }
  const startedAt = new Date().toISOString();
  const loads = [loadavg()[0]];
  const work = mkdtempSync(join(tmpdir(), 'strongroom-audit-bench-'));
  let cluster: BenchCluster | null = null;
  let app: INestApplicationContext | null = null;
  const phases: Phase[] = [];
  let checks!: { onlineSeconds: number; onlineOk: boolean; offlineSeconds: number; offlineOk: boolean; events: number };
  let served!: { proofs: number; avgMs: number; p99Ms: number; hashes: number; treeSize: number };
  let postgres = '';
  try {
    cluster = await startBenchCluster();
    const server = cluster;
    postgres = (await query<{ v: string }>(server.url, "SELECT current_setting('server_version') AS v"))[0].v;
    await query(server.url, 'CREATE DATABASE audit_bench');
    // The configuration is read from the environment when the module is built (ConfigModule).
    Object.assign(process.env, {
      NODE_ENV: 'production',
      LOG_LEVEL: 'silent',
      DATABASE_URL: databaseUrl(server, 'audit_bench'),
      ADMIN_API_KEY: `bench-${randomBytes(16).toString('hex')}`,
      BACKUP_DIR: join(work, 'backups'),
      SCHEDULER_ENABLED: 'false',
      AUDIT_CHECKPOINT_SECONDS: '1',
    });
    app = await NestFactory.createApplicationContext(CliModule, { logger: false });
    await app.init();
    const audit = app.get(AuditService);
    const checkpointer = app.get(AuditCheckpointer);
    const tx = app.get(Transactions);
    let n = 0;
    const event = () => ({
      action: 'bench.append',
      resource: 'bench',
      resourceId: String(++n),
      outcome: 'success' as const,
      details: { note: 'a typical small change', n },
    });
    const checkpointCount = async () =>
      Number(
        (
          await query<{ c: string }>(
            databaseUrl(server, 'audit_bench'),
            'SELECT count(*) AS c FROM strongroom_audit_checkpoints',
          )
        )[0].c,
      );

    const run = async (
      label: string,
      workers: number,
      append: () => Promise<unknown>,
      profileTo?: string,
    ): Promise<Phase> => {
      log(`${label}: ${workers} concurrent caller(s), ${seconds} s`);
      const session = profileTo ? new Session() : null;
      if (session) {
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
      }
      const latencies: number[] = [];
      const cp0 = await checkpointCount();
      const server0 = treeCpuSeconds(postmasterPid(server));
      const node0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const until = Date.now() + seconds * 1000;
      await Promise.all(
        Array.from({ length: workers }, async () => {
          while (Date.now() < until) {
            const s = process.hrtime.bigint();
            await append();
            latencies.push(Number(process.hrtime.bigint() - s) / 1e6);
          }
        }),
      );
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      const node = process.cpuUsage(node0);
      if (session && profileTo) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(profileTo, JSON.stringify(profile));
        session.disconnect();
        log(`  CPU profile of this phase: ${profileTo}`);
      }
      const serverCpu = treeCpuSeconds(postmasterPid(server)) - server0;
      latencies.sort((a, b) => a - b);
      const phase: Phase = {
        label,
        concurrency: workers,
        events: latencies.length,
        seconds: +wall.toFixed(2),
        perSecond: Math.round(latencies.length / wall),
        p50Ms: +percentile(latencies, 50).toFixed(2),
        p99Ms: +percentile(latencies, 99).toFixed(2),
        maxMs: +latencies[latencies.length - 1].toFixed(1),
        nodeCpuPer1000: +(((node.user + node.system) / 1e6 / latencies.length) * 1000).toFixed(3),
        serverCpuPer1000: +((serverCpu / latencies.length) * 1000).toFixed(3),
        checkpointsSigned: (await checkpointCount()) - cp0,
        load: +loadavg()[0].toFixed(2),
      };
      log(
        `  ${phase.perSecond}/s, p50 ${phase.p50Ms} ms, p99 ${phase.p99Ms} ms, ${phase.checkpointsSigned} checkpoints`,
      );
      loads.push(loadavg()[0]);
      return phase;
    };

    for (let i = 0; i < 200; i++) await audit.record(event()); // warm-up: pool, plans, JIT
    phases.push(await run('one caller at a time', 1, () => audit.record(event())));
    for (const c of concurrencies) {
      const profileTo = c === concurrency ? cpuProfile : undefined;
      phases.push(await run('concurrent callers (group commit)', c, () => audit.record(event()), profileTo));
    }
    phases.push(
      await run("inside the caller's transaction (one commit each)", 16, () => tx.run((m) => audit.record(event(), m))),
    );

    await checkpointer.checkpointNow();
    const proofs = app.get(AuditProofs);
    let t = Date.now();
    const online = await proofs.verify();
    const onlineSeconds = (Date.now() - t) / 1000;
    const file = join(work, 'audit.ndjson');
    await pipeline(audit.export('ndjson', {}), createWriteStream(file));
    const publicKey = Buffer.from((await proofs.publicKey()).publicKey, 'base64');
    t = Date.now();
    const offline = await verifyExport(file, checkpointsFromDir(join(work, 'backups')), publicKey);
    checks = {
      onlineSeconds,
      onlineOk: online.ok,
      offlineSeconds: (Date.now() - t) / 1000,
      offlineOk: offline.ok && offline.checkpoints.latest?.treeSize === offline.chain.checked,
      events: offline.chain.checked,
    };
    if (!checks.onlineOk || !checks.offlineOk)
      throw new Error(
        `the trail did not verify: ${online.failure ?? offline.failure ?? 'checkpoint short of the trail'}`,
      );

    const latest = await proofs.latest();
    const times: number[] = [];
    let hashes = 0;
    for (let i = 0; i < 200; i++) {
      const seq = 1 + Math.floor(Math.random() * latest.treeSize);
      const s = process.hrtime.bigint();
      const p = await proofs.inclusion(seq);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
      hashes = Math.max(hashes, p.proof.length);
    }
    times.sort((a, b) => a - b);
    served = {
      proofs: times.length,
      avgMs: +(times.reduce((a, b) => a + b, 0) / times.length).toFixed(2),
      p99Ms: +percentile(times, 99).toFixed(2),
      hashes,
      treeSize: latest.treeSize,
    };
  } finally {
    await app?.close().catch(() => undefined);
    if (cluster) stopBenchCluster(cluster);
    rmSync(work, { recursive: true, force: true });
  }
  log(`proofs at ${proofEvents} synthetic events (in memory)…`);
  const scale = proofsAtScale(proofEvents);
  loads.push(loadavg()[0]);
  const md = markdown({
    phases,
    checks,
    served,
    scale,
    startedAt,
    loads,
    postgres,
    seconds,
    concurrency: concurrencies.join(','),
    proofEvents,
    out,
  });
  const outPath = resolve(ROOT, out);
  mkdirSync(resolve(outPath, '..'), { recursive: true });
  writeFileSync(outPath, md);
  process.stdout.write(md);
  log(`wrote ${out}`);
});

function markdown(r: {
  phases: Phase[];
  checks: { onlineSeconds: number; onlineOk: boolean; offlineSeconds: number; offlineOk: boolean; events: number };
  served: { proofs: number; avgMs: number; p99Ms: number; hashes: number; treeSize: number };
  scale: ProofsAtScale;
  startedAt: string;
  loads: number[];
  postgres: string;
  seconds: number;
  concurrency: string;
  proofEvents: number;
  out: string;
}): string {
  const cpu = cpus();
  const best = Math.max(...r.phases.map((p) => p.perSecond));
  const grouped = r.phases.filter((p) => p.label.startsWith('concurrent'));
  const concurrent = grouped.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
  const num = (x: number) => x.toLocaleString('en-US');
  return [
    '## Audit trail throughput and proofs',
    '',
    `Command: \`npm run bench:audit -- --seconds ${r.seconds} --concurrency ${r.concurrency} --proof-events ${r.proofEvents} --out ${r.out}\`,`,
    `started ${r.startedAt}. Machine: ${cpu.length} CPUs (${cpu[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB,`,
    `Linux ${release()}, Node ${process.version}, PostgreSQL ${r.postgres} (a throwaway cluster with the default`,
    'durability: fsync and synchronous_commit on), on the same machine. The machine is shared: load',
    `averages (1 min) during the run: ${r.loads.map((l) => l.toFixed(1)).join(', ')}.`,
    '',
    "Appends go through `AuditService` in the service's own application context (the CLI's module",
    'set: no HTTP), with checkpointing on: a signed checkpoint every second (`AUDIT_CHECKPOINT_SECONDS=1`,',
    'the shortest period; each extends the stored Merkle tree and writes the checkpoint to backup',
    'storage). Latency is from the call to its commit. Each event is ~0.4 KB (a small `details`).',
    '',
    '| How events are appended | Callers | Events | Appends/s | p50 | p99 | max | CPU per 1,000 (Node / PostgreSQL) | Checkpoints signed |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.phases.map(
      (p) =>
        `| ${p.label} | ${p.concurrency} | ${num(p.events)} | **${num(p.perSecond)}** | ${p.p50Ms} ms | ${p.p99Ms} ms | ${p.maxMs} ms | ${p.nodeCpuPer1000} s / ${p.serverCpuPer1000} s | ${p.checkpointsSigned} |`,
    ),
    '',
    `Goal: at least ${num(GOAL_PER_SECOND)} appends/s with checkpointing on — ${
      concurrent.perSecond >= GOAL_PER_SECOND ? '**met**' : '**missed**'
    } by concurrent callers (best: ${num(concurrent.perSecond)}/s with ${concurrent.concurrency} callers, p99 ${concurrent.p99Ms} ms; best row ${num(best)}/s).`,
    "A lone caller waits for its own commit (one fsync) and an event written inside a change's own",
    'transaction commits with that change, so those rows are bounded by commits per second, not by',
    'the audit code; concurrent callers share commits (group commit: each event keeps its own seq,',
    "hash and link, appended in arrival order under the chain's lock).",
    '',
    `The trail this built (${num(r.checks.events)} events) then verified: online (\`GET /api/audit/verify\`'s`,
    `verifier, database walk) ${r.checks.onlineOk ? 'ok' : 'FAILED'} in ${r.checks.onlineSeconds.toFixed(1)} s; offline (NDJSON export, the`,
    `checkpoints from backup storage, the public key) ${r.checks.offlineOk ? 'ok' : 'FAILED'} in ${r.checks.offlineSeconds.toFixed(1)} s. Inclusion proofs served from`,
    `the catalog for random events of the ${num(r.served.treeSize)}-event tree: ${r.served.avgMs} ms on average, p99 ${r.served.p99Ms} ms`,
    `(${r.served.proofs} proofs, ${r.served.hashes} hashes each at most).`,
    '',
    `### Proofs at ${num(r.scale.events)} events`,
    '',
    'Engine level, in memory (`bench/audit-proofs.ts`): synthetic leaves, the complete subtrees a proof',
    'reads computed from them (the service reads the same O(log n) nodes from the catalog in one query).',
    '',
    '| Proof | Hashes | Raw bytes | As JSON (hex) | Stored nodes read | Verification |',
    '|---|---:|---:|---:|---:|---:|',
    `| Inclusion (event ${num(r.scale.inclusion.leafIndex + 1)}) | ${r.scale.inclusion.hashes} | ${r.scale.inclusion.bytes} B | ${num(r.scale.inclusion.hexJsonBytes)} B | ${r.scale.storedNodesRead.inclusion} | ${r.scale.inclusion.verifyMicroseconds} µs |`,
    `| Consistency (${num(r.scale.consistency.from)} → ${num(r.scale.events)}) | ${r.scale.consistency.hashes} | ${r.scale.consistency.bytes} B | ${num(r.scale.consistency.hexJsonBytes)} B | ${r.scale.storedNodesRead.consistency} | ${r.scale.consistency.verifyMicroseconds} µs |`,
    '',
    `${r.scale.mutantsRefused} mutated proofs (each hash flipped in turn, wrong index, wrong size, truncated or`,
    'extended proof, wrong old root) were all refused. Setting up the subtrees took',
    `${r.scale.setupSeconds} s (hashing the synthetic leaves; not part of serving or verifying a proof).`,
    '',
  ].join('\n');
}
