/**
 * PostgreSQL group: our encrypted backup against pg_dump -Fc and pg_dump -Fd -j2 -Z1, and our
 * restore (replace over live data; into an empty database) against pg_restore -j2, all on one
 * cluster of the benchmark's own with normal durability settings. Shape by shape: each is
 * seeded into a fresh source database, measured with every tool, and dropped before the next.
 * Shape a (today's dataset, projects at its root) also has a scoped backup of one typical project
 * and a scoped replace of it, against the full backup and replace of the same run (bench-scope.ts).
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { findPgTool, serverMajor } from '../src/engine/dialects/postgres/pg-tools';
import {
  BREAKDOWN_VARIANTS,
  collect,
  copyFormatNote,
  Ctx,
  MAIN_VARIANT,
  MIB_256,
  OurBackup,
  ourBackup,
  ours,
  pushGoals,
  query,
  sizeOf,
  stagesOf,
} from './bench-context';
import { measureDdlOverhead } from './ddl-overhead';
import { runMeasured, treeCpuSeconds, type Measured } from './measure';
import { BenchCluster, databaseUrl, postmasterPid, startBenchCluster, stopBenchCluster } from './pg-cluster';
import { goal, mb, ratio, secs, unmeasuredGoal, type Goal } from './report';
import { Case, log, pairedRatios, runRounds, Sample, selectCases } from './rounds';
import { scopeBackupCase, scopeGoals, scopeReplaceCase, typicalProject, type ScopeState } from './bench-scope';
import type { Shape } from './shapes';
import type { Counts } from './shapes-pg';

/** Exact counts of the given tables, in one statement (a shape has up to 500 tables). */
async function countRows(url: string, tables: string[]): Promise<Counts> {
  const got: Counts = {};
  // Batches of 100 subqueries keep each statement modest.
  for (let i = 0; i < tables.length; i += 100) {
    const batch = tables.slice(i, i + 100);
    const [r] = await query<Record<string, string>>(
      url,
      `SELECT ${batch.map((t, j) => `(SELECT count(*) FROM public."${t}") AS c${j}`).join(', ')}`,
    );
    batch.forEach((t, j) => (got[t] = Number(r[`c${j}`])));
  }
  return got;
}

/** A restore that "succeeds" with the wrong rows must not produce a number. */
async function expectCounts(url: string, expected: Counts, label: string): Promise<void> {
  const tables = Object.keys(expected);
  const got = await countRows(url, tables);
  const bad = tables.filter((t) => got[t] !== expected[t]);
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

/** Every shape of the run on one cluster, one after the other. */
export async function benchPostgres(ctx: Ctx): Promise<void> {
  const cluster = await startBenchCluster();
  try {
    for (const shape of ctx.shapes) await benchShape(ctx, cluster, shape);
  } finally {
    stopBenchCluster(cluster, { keepLogAs: ctx.keep ? join(ctx.work, 'pg-server.log') : undefined });
  }
}

async function benchShape(ctx: Ctx, cluster: BenchCluster, shape: Shape): Promise<void> {
  const admin = cluster.url;
  const src = databaseUrl(cluster, 'bench_src');
  const store = join(ctx.work, 'pg-store');
  const scratch = join(ctx.work, 'pg-scratch');
  const fc = join(ctx.work, 'dump.fc');
  const fd = join(ctx.work, 'dump.dir');
  const cleanup = async (): Promise<void> => {
    for (const p of [store, scratch, fc, fd]) rmSync(p, { recursive: true, force: true });
    await query(admin, 'DROP DATABASE IF EXISTS bench_src WITH (FORCE)');
  };
  await cleanup();
  try {
    await query(admin, 'CREATE DATABASE bench_src');
    log(`seeding PostgreSQL shape ${shape.id} (${shape.title}) at scale ${ctx.scale}`);
    const t = Date.now();
    const counts = await shape.seedPostgres(src, ctx.scale, ctx.seed);
    const seedMs = Date.now() - t;
    const [{ size, version, num }] = await query<{ size: string; version: string; num: string }>(
      src,
      `SELECT pg_database_size(current_database())::text AS size, current_setting('server_version') AS version, current_setting('server_version_num') AS num`,
    );
    ctx.postgres = `PostgreSQL ${version}`;
    ctx.datasets.push({ shape: shape.id, engine: 'PostgreSQL', bytes: Number(size), rows: counts, seedMs });
    log(`PostgreSQL shape ${shape.id}: ${mb(Number(size))} in ${secs(seedMs)}`);
    const major = serverMajor(Number(num));
    const pgDump = (await findPgTool('pg_dump', major)).path;
    const pgRestore = (await findPgTool('pg_restore', major)).path;
    await measureShape(ctx, cluster, shape, counts, { src, store, scratch, fc, fd, pgDump, pgRestore });
  } finally {
    await cleanup();
  }
}

interface ShapePaths {
  src: string;
  store: string;
  scratch: string;
  fc: string;
  fd: string;
  pgDump: string;
  pgRestore: string;
}

async function measureShape(
  ctx: Ctx,
  cluster: BenchCluster,
  shape: Shape,
  counts: Counts,
  { src, store, scratch, fc, fd, pgDump, pgRestore }: ShapePaths,
): Promise<void> {
  const admin = cluster.url;
  let latest: OurBackup | null = null;
  // The scope goals (issue 13) are measured on shape a: one project of its 2,000 (at scale 1).
  const scope: ScopeState | null =
    shape.id === 'a'
      ? { project: await typicalProject(src), store: join(ctx.work, 'pg-scope-store'), latest: null }
      : null;
  if (scope) log(`scope cases: project ${scope.project} (median tasks per project) of ${counts.projects}`);

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
            note: `row data ${mb(latest.rawBytes)} as ${copyFormatNote(latest)}`,
            stages: latest.stages,
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
          return { measured: b.measured, bytes: b.bytes, note: 'breakdown only', stages: b.stages };
        }),
      after: async () => rmSync(scratch, { recursive: true, force: true }),
    })),
    {
      key: 'pg_dump -Fc',
      reference: true,
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
      reference: true,
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
    ...(scope ? [scopeBackupCase(ctx, src, scope, (fn) => onServer(cluster, fn))] : []),
  ];
  const b = await runRounds(selectCases(ctx, backups), ctx.repeat, ctx.loads);
  collect(ctx, shape, backups, b);
  const backup = latest as OurBackup | null;
  if (!backup) throw new Error('every run of our PostgreSQL backup failed, so there is nothing to restore');

  // What the whole-database DDL path (pg_dump pre/post-data, inventory, large objects, every
  // sequence) costs over the per-table path, measured serially: an upper bound of what it adds.
  // On the original dataset only: the goal was set there, and the measurement knows its schema.
  const ddl = shape.id === 'a' ? await measureDdlOverhead(src, 3) : null;
  if (ddl)
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
      for (const sql of shape.liveChanges) await query(url, sql);
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
      reference: key.startsWith('pg_restore'),
      group: 'PostgreSQL restore',
      tool,
      setup: () => fresh(db, start),
      run: () =>
        onServer(
          cluster,
          async () => {
            const measured = await measure(url);
            return {
              measured,
              bytes: null,
              note,
              stages: key.startsWith('pg_restore') ? undefined : stagesOf(measured),
            };
          },
          { wal: true },
        ),
      after: async () => {
        await expectCounts(url, counts, tool);
        await query(admin, `DROP DATABASE ${db}`);
      },
    };
  };
  const ourRestore = (key: string, extra: string[]) => (url: string) =>
    ours('our-restore.ts', ['--url', url, ...restoreArgs, ...extra], ctx.keys, `our restore ${key}`, {
      stageStats: ctx.stageStats,
    });
  const pgRestoreJ2 =
    (extra: string[], env: NodeJS.ProcessEnv = {}) =>
    (url: string) =>
      runMeasured(pgRestore, ['-j', '2', ...extra, '--exit-on-error', '--no-owner', '-d', url, fc], {
        label: ['pg_restore -j2', ...extra].join(' '),
        env: { ...process.env, ...env },
      });
  // Our restores write TOASTed values with lz4 where nobody chose a method (RESTORE_TOAST_COMPRESSION=auto,
  // pg-toast-compression.ts); this cluster's setting is untouched, so pg_restore writes them with pglz.
  const TOAST_NOTE = 'values over ~2 KB stored with lz4 (RESTORE_TOAST_COMPRESSION=auto)';
  // Issue 17 times the replace restore with default settings, so its goal uses the row with the
  // ANALYZE our loaders run on each swapped-in table (RESTORE_ANALYZE); the row without it, which
  // like pg_restore gathers no statistics, shows what that ANALYZE costs.
  const restores: Case[] = [
    restoreCase(
      'replace',
      'Strongroom replace, over live data (schema and old rows present), no statistics gathered',
      'bench_live',
      'live',
      ourRestore('replace', ['--analyze', 'false']),
      `all or nothing, 2 loader connections beside the main transaction; RESTORE_ANALYZE=false; ${TOAST_NOTE}`,
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
      'Strongroom replace, over live data, with ANALYZE of the swapped-in tables (the default)',
      'bench_live',
      'live',
      ourRestore('replace analyze', ['--analyze', 'true']),
      `as above, plus ANALYZE of each swapped-in table on its loader, before the swap; ${TOAST_NOTE}`,
    ),
    restoreCase(
      'empty',
      'Strongroom into empty database (the CLI disaster restore: whole database, one transaction)',
      'bench_empty',
      'empty',
      ourRestore('empty', ['--create-schema', '--analyze', 'false']),
      `tables with rows loaded and indexed on 2 loader connections in staging schemas, moved into place by the one transaction that replays the DDL; all or nothing; ${TOAST_NOTE}`,
    ),
    restoreCase(
      'pg_restore',
      'pg_restore -j2 of the -Fc dump into an empty database',
      'bench_pgr',
      'empty',
      pgRestoreJ2([]),
      'not atomic; indexes built after load',
    ),
    // Not a goal's comparison either: pg_restore with the TOAST compression our restore picks, to
    // show how much of the difference that setting alone makes.
    restoreCase(
      'pg_restore lz4',
      'pg_restore -j2 into an empty database, values over ~2 KB stored with lz4 (PGOPTIONS)',
      'bench_pgr_lz4',
      'empty',
      pgRestoreJ2([], { PGOPTIONS: '-c default_toast_compression=lz4' }),
      'not atomic; indexes built after load; PGOPTIONS=-c default_toast_compression=lz4',
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
    ...(scope
      ? [
          scopeReplaceCase(ctx, { src, url: databaseUrl(cluster, 'bench_scope') }, scope, {
            fresh: () => fresh('bench_scope', 'live'),
            drop: () => query(admin, 'DROP DATABASE bench_scope').then(() => undefined),
            onServer: (fn) => onServer(cluster, fn, { wal: true }),
          }),
        ]
      : []),
  ];
  const r = await runRounds(selectCases(ctx, restores), ctx.repeat, ctx.loads);
  collect(ctx, shape, restores, r);
  pushGoals(ctx, shape, [
    ...postgresGoals(shape, b, r, ddl, ctx.reference),
    ...(scope ? scopeGoals(b, r, counts.projects) : []),
  ]);
}

/** Issue 17's PostgreSQL goals for one shape, from its backup and restore rounds. */
function postgresGoals(
  shape: Shape,
  b: Awaited<ReturnType<typeof runRounds>>,
  r: Awaited<ReturnType<typeof runRounds>>,
  ddl: Awaited<ReturnType<typeof measureDdlOverhead>> | null,
  /** Whether the field's tools ran: without them (`--reference false`) only the memory goals apply. */
  reference: boolean,
): Goal[] {
  const goals: Goal[] = [];
  const ourB = b.rows.get('ours');
  const dumpFc = b.rows.get('pg_dump -Fc');
  if (!ourB) {
    goals.push(unmeasuredGoal('PostgreSQL backup', 'wall, size and memory goals', 'our backup'));
  } else {
    const caveat = shape.sizeCaveat ? ` (${shape.sizeCaveat})` : '';
    if (dumpFc)
      goals.push(
        goal(
          'PostgreSQL backup wall (encrypted)',
          '≤ 0.5 × pg_dump -Fc',
          ourB.wallMs,
          0.5 * dumpFc.wallMs,
          (v) => `${secs(v)} = ${ratio(v, dumpFc.wallMs)} pg_dump -Fc`,
        ),
        goal(
          'PostgreSQL backup size',
          `≤ 1.0 × pg_dump -Fc${shape.sizeCaveat ? ', little meaning on this shape' : ''}`,
          ourB.bytes ?? 0,
          dumpFc.bytes ?? 0,
          (v) => `${mb(v)} = ${ratio(v, dumpFc.bytes ?? 0)} pg_dump -Fc${caveat}`,
        ),
      );
    else if (reference) goals.push(unmeasuredGoal('PostgreSQL backup', 'wall and size goals', 'pg_dump -Fc'));
    goals.push(goal('PostgreSQL backup peak memory', '≤ 256 MiB', ourB.peakRssBytes, MIB_256, mb));
    if (ddl)
      goals.push(
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
  const pgr = r.rows.get('pg_restore');
  // Issue 17 times the replace restore as a user sees it, with default settings: ANALYZE included.
  const replace = r.rows.get('replace analyze');
  const commit = r.rows.get('replace');
  const empty = r.rows.get('empty');
  const rounds = (key: string) =>
    pairedRatios(r, key, 'pg_restore')
      .map((x) => x.toFixed(2))
      .join(', ');
  if (!pgr) {
    if (reference) goals.push(unmeasuredGoal('PostgreSQL restore', 'wall goals', 'pg_restore'));
  } else {
    goals.push(
      replace
        ? goal(
            'PostgreSQL replace restore wall (default settings, ANALYZE included)',
            '≤ 0.8 × pg_restore -j2 into an empty database',
            replace.wallMs,
            0.8 * pgr.wallMs,
            (v) =>
              `${secs(v)} = ${ratio(v, pgr.wallMs)} pg_restore -j2 (round by round: ${rounds('replace analyze')})` +
              (commit ? `; without statistics ${ratio(commit.wallMs, pgr.wallMs)}` : ''),
          )
        : unmeasuredGoal('PostgreSQL replace restore wall', '≤ 0.8 × pg_restore -j2', 'our replace restore'),
      empty
        ? goal(
            'PostgreSQL restore into an empty database wall',
            '≤ 0.7 × pg_restore -j2 into an empty database',
            empty.wallMs,
            0.7 * pgr.wallMs,
            (v) => `${secs(v)} = ${ratio(v, pgr.wallMs)} pg_restore -j2 (round by round: ${rounds('empty')})`,
          )
        : unmeasuredGoal(
            'PostgreSQL restore into an empty database wall',
            '≤ 0.7 × pg_restore -j2',
            'our empty restore',
          ),
    );
  }
  const ourRows = ['replace', 'replace analyze', 'empty'].map((k) => r.rows.get(k)).filter((x) => x !== undefined);
  if (ourRows.length) {
    const peak = Math.max(...ourRows.map((x) => x.peakRssBytes));
    goals.push(goal('PostgreSQL restore peak memory (every restore row)', '≤ 256 MiB', peak, MIB_256, mb));
  }
  return goals;
}
