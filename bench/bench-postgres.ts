/**
 * PostgreSQL group: our encrypted backup against pg_dump -Fc and pg_dump -Fd -j2 -Z1, and our
 * restore (replace over live data; into an empty database) against pg_restore -j2, all on one
 * cluster of the benchmark's own with normal durability settings. Also a scoped backup of one
 * typical project and a scoped replace of it, against the full backup and replace of the same
 * run (bench-scope.ts).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPgTool, serverMajor } from '../src/engine/dialects/postgres/pg-tools';
import {
  BREAKDOWN_VARIANTS,
  collect,
  Ctx,
  MAIN_VARIANT,
  MIB_256,
  OurBackup,
  ourBackup,
  ours,
  query,
  sizeOf,
} from './bench-context';
import { DATASET_TABLES, DatasetCounts, seedPostgres } from './dataset';
import { measureDdlOverhead } from './ddl-overhead';
import { runMeasured, treeCpuSeconds, type Measured } from './measure';
import { BenchCluster, databaseUrl, postmasterPid, startBenchCluster, stopBenchCluster } from './pg-cluster';
import { goal, mb, ratio, secs, unmeasuredGoal } from './report';
import { Case, log, pairedRatios, runRounds, Sample } from './rounds';
import { scopeBackupCase, scopeGoals, scopeReplaceCase, typicalProject, type ScopeState } from './bench-scope';

async function countRows(url: string): Promise<DatasetCounts> {
  const [r] = await query<Record<string, string>>(
    url,
    `SELECT ${DATASET_TABLES.map((t) => `(SELECT count(*) FROM ${t}) AS ${t}`).join(', ')}`,
  );
  return Object.fromEntries(DATASET_TABLES.map((t) => [t, Number(r[t])])) as DatasetCounts;
}

/** A restore that "succeeds" with the wrong rows must not produce a number. */
async function expectCounts(url: string, expected: DatasetCounts, label: string): Promise<void> {
  const got = await countRows(url);
  const bad = DATASET_TABLES.filter((t) => got[t] !== expected[t]);
  if (bad.length)
    throw new Error(
      `${label}: row counts differ after restore: ${bad.map((t) => `${t} ${got[t]} != ${expected[t]}`).join(', ')}`,
    );
}

/** Server CPU while `fn` ran (the benchmark's cluster has no other clients), and WAL written when asked. */
async function onServer(
  cluster: BenchCluster,
  fn: () => Promise<Sample>,
  opts: { wal?: boolean } = {},
): Promise<Sample> {
  const lsn = opts.wal
    ? (await query<{ lsn: string }>(cluster.url, 'SELECT pg_current_wal_lsn()::text AS lsn'))[0].lsn
    : null;
  const pid = postmasterPid(cluster);
  const cpu0 = treeCpuSeconds(pid);
  const s = await fn();
  const serverCpuSeconds = treeCpuSeconds(pid) - cpu0;
  if (lsn === null) return { ...s, serverCpuSeconds };
  const [{ d }] = await query<{ d: string }>(
    cluster.url,
    `SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::text AS d`,
    [lsn],
  );
  return { ...s, serverCpuSeconds, note: [s.note, `WAL ${mb(Number(d))}`].filter(Boolean).join('; ') };
}

export async function benchPostgres(ctx: Ctx): Promise<void> {
  const cluster = await startBenchCluster();
  try {
    const admin = cluster.url;
    const src = databaseUrl(cluster, 'bench_src');
    await query(admin, 'CREATE DATABASE bench_src');
    log(`seeding PostgreSQL at scale ${ctx.scale}`);
    const t = Date.now();
    const counts = await seedPostgres(src, { scale: ctx.scale, seed: ctx.seed });
    const seedMs = Date.now() - t;
    const [{ size, version, num }] = await query<{ size: string; version: string; num: string }>(
      src,
      `SELECT pg_database_size(current_database())::text AS size, current_setting('server_version') AS version, current_setting('server_version_num') AS num`,
    );
    ctx.postgres = `PostgreSQL ${version}`;
    ctx.datasets.push({ engine: 'PostgreSQL', bytes: Number(size), rows: counts, seedMs });
    log(`PostgreSQL dataset: ${mb(Number(size))} in ${secs(seedMs)}`);
    const major = serverMajor(Number(num));
    const pgDump = (await findPgTool('pg_dump', major)).path;
    const pgRestore = (await findPgTool('pg_restore', major)).path;
    const store = join(ctx.work, 'pg-store');
    const scratch = join(ctx.work, 'pg-scratch');
    const fc = join(ctx.work, 'dump.fc');
    const fd = join(ctx.work, 'dump.dir');
    let latest: OurBackup | null = null;
    const scope: ScopeState = {
      project: await typicalProject(src),
      store: join(ctx.work, 'pg-scope-store'),
      latest: null,
    };
    log(`scope cases: project ${scope.project} (median tasks per project) of ${counts.projects}`);

    const backups: Case[] = [
      {
        key: 'ours',
        group: 'PostgreSQL backup',
        tool: `Strongroom (${MAIN_VARIANT.label}, parallel 2)`,
        // Keep only the newest backup: the restores below use it.
        setup: async () => (latest ? rmSync(join(store, latest.dir), { recursive: true, force: true }) : undefined),
        run: () =>
          onServer(cluster, async () => {
            latest = await ourBackup(ctx, src, store, MAIN_VARIANT);
            return {
              measured: latest.measured,
              bytes: latest.bytes,
              note: `row data ${mb(latest.rawBytes)} as COPY text`,
            };
          }),
      },
      ...(ctx.breakdown ? BREAKDOWN_VARIANTS : []).map((v): Case => ({
        key: `ours ${v.label}`,
        group: 'PostgreSQL backup',
        tool: `Strongroom (${v.label}, parallel 2)`,
        run: () =>
          onServer(cluster, async () => {
            const b = await ourBackup(ctx, src, scratch, v);
            return { measured: b.measured, bytes: b.bytes, note: 'breakdown only' };
          }),
        after: async () => rmSync(scratch, { recursive: true, force: true }),
      })),
      {
        key: 'pg_dump -Fc',
        group: 'PostgreSQL backup',
        tool: 'pg_dump -Fc (gzip level 6, unencrypted)',
        run: () =>
          onServer(cluster, async () => ({
            measured: await runMeasured(pgDump, ['-Fc', '-f', fc, '-d', src], { label: 'pg_dump -Fc' }),
            bytes: sizeOf(fc),
          })),
      },
      {
        key: 'pg_dump -Fd',
        group: 'PostgreSQL backup',
        tool: 'pg_dump -Fd -j2 -Z1 (unencrypted)',
        setup: async () => rmSync(fd, { recursive: true, force: true }),
        run: () =>
          onServer(cluster, async () => ({
            measured: await runMeasured(pgDump, ['-Fd', '-j', '2', '-Z', '1', '-f', fd, '-d', src], {
              label: 'pg_dump -Fd -j2 -Z1',
            }),
            bytes: sizeOf(fd),
          })),
        after: async () => rmSync(fd, { recursive: true, force: true }),
      },
      scopeBackupCase(ctx, src, scope, (fn) => onServer(cluster, fn)),
    ];
    const b = await runRounds(backups, ctx.repeat, ctx.loads);
    collect(ctx, backups, b);
    const backup = latest as OurBackup | null;
    if (!backup) throw new Error('every run of our PostgreSQL backup failed, so there is nothing to restore');

    // What the whole-database DDL path (pg_dump pre/post-data, inventory, large objects, every
    // sequence) costs over the per-table path, measured serially: an upper bound of what it adds.
    const ddl = await measureDdlOverhead(src, 3);
    log(`whole-database DDL path: ${ddl.wholeDatabaseMs.toFixed(0)} ms vs per-table ${ddl.perTableMs.toFixed(0)} ms`);

    const restoreArgs = ['--store', store, '--dir', backup.dir, '--mode', 'replace'];
    // A failed run leaves its target behind: every run starts from a fresh database.
    const fresh = async (db: string, start: 'empty' | 'live'): Promise<void> => {
      await query(admin, `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      if (start === 'empty') {
        await query(admin, `CREATE DATABASE ${db}`);
      } else {
        // A copy of the source, changed a little so that it is "newer" than the backup.
        await query(admin, `CREATE DATABASE ${db} TEMPLATE bench_src`);
        const url = databaseUrl(cluster, db);
        await query(url, `UPDATE tasks SET status = 'done', updated_at = now() WHERE id % 100 = 0`);
        await query(url, `DELETE FROM comments WHERE id % 50 = 0`);
        await query(
          url,
          `INSERT INTO app_audit (at, actor, action, payload) SELECT now(), 'bench', 'later', '{}' FROM generate_series(1, 100)`,
        );
      }
      await query(admin, 'CHECKPOINT');
    };
    /** One restore into database `db`, prepared as `start`; its row counts are checked after each run. */
    const restoreCase = (
      key: string,
      tool: string,
      db: string,
      start: 'empty' | 'live',
      measure: (url: string) => Promise<Measured>,
      note: string,
    ): Case => {
      const url = databaseUrl(cluster, db);
      return {
        key,
        group: 'PostgreSQL restore',
        tool,
        setup: () => fresh(db, start),
        run: () => onServer(cluster, async () => ({ measured: await measure(url), bytes: null, note }), { wal: true }),
        after: async () => {
          await expectCounts(url, counts, tool);
          await query(admin, `DROP DATABASE ${db}`);
        },
      };
    };
    const ourRestore = (key: string, extra: string[]) => (url: string) =>
      ours('our-restore.ts', ['--url', url, ...restoreArgs, ...extra], ctx.keys, `our restore ${key}`);
    const pgRestoreJ2 = (extra: string[]) => (url: string) =>
      runMeasured(pgRestore, ['-j', '2', ...extra, '--exit-on-error', '--no-owner', '-d', url, fc], {
        label: ['pg_restore -j2', ...extra].join(' '),
      });
    // Like pg_restore, the goal's row ends when the restored data is in: the ANALYZE that follows
    // our commit by default (RESTORE_ANALYZE) has a row of its own.
    const restores: Case[] = [
      restoreCase(
        'replace',
        'Strongroom replace, over live data (schema and old rows present), until the commit',
        'bench_live',
        'live',
        ourRestore('replace', ['--analyze', 'false']),
        'all or nothing, 2 connections; RESTORE_ANALYZE=false',
      ),
      // --breakdown: the same restore with the part pipeline on the main thread, to show what the
      // worker threads (decryption, decompression, hash checks) change.
      ...(ctx.breakdown
        ? [
            restoreCase(
              'replace main thread',
              'Strongroom replace, over live data, part pipeline on the main thread (no worker threads)',
              'bench_live',
              'live',
              ourRestore('replace main thread', ['--analyze', 'false', '--workers', 'false']),
              'breakdown only; as the replace row, without worker threads',
            ),
          ]
        : []),
      restoreCase(
        'replace analyze',
        'Strongroom replace, over live data, then ANALYZE of the swapped-in tables (the default)',
        'bench_live',
        'live',
        ourRestore('replace analyze', ['--analyze', 'true']),
        'as above, plus ANALYZE after the commit',
      ),
      restoreCase(
        'empty',
        'Strongroom into empty database (the CLI disaster restore: whole database, one transaction)',
        'bench_empty',
        'empty',
        ourRestore('empty', ['--create-schema', '--analyze', 'false']),
        'pre-data, rows, sequences, post-data in one transaction on one connection; all or nothing',
      ),
      restoreCase(
        'pg_restore',
        'pg_restore -j2 of the -Fc dump into an empty database',
        'bench_pgr',
        'empty',
        pgRestoreJ2([]),
        'not atomic; indexes built after load',
      ),
      // Not the goal's comparison: the same starting point as our replace (a copy of live data
      // written just before), to tell what that starting point costs any tool on this machine.
      restoreCase(
        'pg_restore live',
        'pg_restore -j2 --clean over live data (same setup as our replace)',
        'bench_pgr_live',
        'live',
        pgRestoreJ2(['--clean', '--if-exists']),
        'not atomic; drops and re-creates every object',
      ),
      scopeReplaceCase(ctx, { src, url: databaseUrl(cluster, 'bench_scope') }, scope, {
        fresh: () => fresh('bench_scope', 'live'),
        drop: () => query(admin, 'DROP DATABASE bench_scope').then(() => undefined),
        onServer: (fn) => onServer(cluster, fn, { wal: true }),
      }),
    ];
    const r = await runRounds(restores, ctx.repeat, ctx.loads);
    collect(ctx, restores, r);

    const ourB = b.rows.get('ours');
    const dumpFc = b.rows.get('pg_dump -Fc');
    const replace = r.rows.get('replace');
    const pgRestoreRun = r.rows.get('pg_restore');
    if (!ourB || !dumpFc) {
      ctx.goals.push(
        unmeasuredGoal('PostgreSQL backup', 'wall, size and memory goals', ourB ? 'pg_dump -Fc' : 'our backup'),
      );
    } else {
      ctx.goals.push(
        goal(
          'PostgreSQL backup wall (encrypted)',
          '≤ 0.5 × pg_dump -Fc',
          ourB.wallMs,
          0.5 * dumpFc.wallMs,
          (v) => `${secs(v)} = ${ratio(v, dumpFc.wallMs)} pg_dump -Fc`,
        ),
        goal(
          'PostgreSQL backup size',
          '≤ pg_dump -Fc',
          ourB.bytes ?? 0,
          dumpFc.bytes ?? 0,
          (v) => `${mb(v)} = ${ratio(v, dumpFc.bytes ?? 0)} pg_dump -Fc`,
        ),
        goal('PostgreSQL backup peak memory', '≤ 256 MiB', ourB.peakRssBytes, MIB_256, mb),
        goal(
          'Whole-database DDL path, extra time',
          '≤ 5% of the encrypted backup wall',
          Math.max(0, ddl.extraMs),
          0.05 * ourB.wallMs,
          (v) =>
            `${(v / 1000).toFixed(2)} s serial upper bound (${ddl.wholeDatabaseMs.toFixed(0)} ms whole-database vs ${ddl.perTableMs.toFixed(0)} ms per-table) = ${((v / ourB.wallMs) * 100).toFixed(1)}% of ${secs(ourB.wallMs)}`,
        ),
      );
    }
    if (!replace || !pgRestoreRun) {
      ctx.goals.push(
        unmeasuredGoal('PostgreSQL restore', 'wall and memory goals', replace ? 'pg_restore' : 'our replace restore'),
      );
    } else {
      ctx.goals.push(
        goal('PostgreSQL restore replace wall', '≤ 1.0 × pg_restore -j2', replace.wallMs, pgRestoreRun.wallMs, (v) => {
          const rounds = pairedRatios(r, 'replace', 'pg_restore')
            .map((x) => x.toFixed(2))
            .join(', ');
          return `${secs(v)} = ${ratio(v, pgRestoreRun.wallMs)} pg_restore -j2 (round by round: ${rounds})`;
        }),
        goal('PostgreSQL restore peak memory', '≤ 256 MiB', replace.peakRssBytes, MIB_256, mb),
      );
    }
    ctx.goals.push(...scopeGoals(b, r, counts.projects));
  } finally {
    stopBenchCluster(cluster, { keepLogAs: ctx.keep ? join(ctx.work, 'pg-server.log') : undefined });
  }
}
