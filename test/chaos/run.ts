/**
 * The reliability campaign (`npm run test:chaos`): attacks the built service on SQLite and
 * on a throwaway PostgreSQL cluster, and records what held. Long mode (the default) is the
 * one whose figures go into docs/reliability.md; `--quick` runs a few trials of each family
 * in a minute or two, to prove the harness itself works.
 *
 *   npm run test:chaos                      # long mode, writes docs/reliability.md
 *   npm run test:chaos -- --quick           # small bounded run, writes nothing in docs/
 *   options: --engines sqlite,postgres  --only kills,corruption,hostile,load,audit  --seed N
 *            (audit — the audit trail under random SIGKILLs, 100,000 events in long mode — runs only
 *            when named: npm run test:chaos -- --only audit --engines postgres)
 *            --minutes M (a time budget: each family stops starting trials when its share is used,
 *            and the report says how many of the planned trials ran)
 *            --out <file.md>  --json <file.json>  --include <earlier results.json> (repeatable:
 *            one document from several runs, e.g. families run separately)
 *            --backup-kills N  --restore-kills N (override the mode's trial counts of the kills family,
 *            e.g. --only kills --backup-kills 0 to rerun the restore kills alone)
 *            --render (with --include and --out: only write the document from earlier results)
 *            --append <file.md> (repeatable: extra sections at the end, e.g. catalog-queries.ts output)
 *            load only: --rate R (open loop: each client starts R requests/s; default closed loop)
 *            --load-seconds S (the measured window)  --cpu-profile (a V8 profile of the window, kept in the log directory)
 *            --skip-catalog-queries (no in-process query appendix)
 *            --no-backups (the same window without background backups: the machine's floor)
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { Prng } from '../../bench/prng';
import type { Engine } from '../support/databases';
import { startPgCluster, stopPgCluster, type PgCluster } from '../support/postgres-server';
import { auditKillCampaign } from './audit-kills';
import { catalogQueryReport } from './catalog-queries';
import { corruptionCampaign } from './corruption';
import { hostileCampaign } from './hostile';
import { killCampaign } from './kills';
import { loadCampaign } from './load';
import { detailSection, FamilyResult, summaryTable } from './report';
import { assertBuilt, killAllChildren, ROOT } from './service';

export interface Scale {
  backupKills: number;
  restoreKills: number;
  killRows: number;
  corruptions: number;
  hostile: number;
  hostileMaxBody: number;
  loadSeconds: number;
  loadClients: number;
  loadBackups: number;
  loadRows: number;
  auditEvents: number;
  auditClients: number;
}

export const LONG: Scale = {
  backupKills: 50,
  restoreKills: 50,
  killRows: 20_000,
  corruptions: 110,
  hostile: 600,
  hostileMaxBody: 20 << 20,
  loadSeconds: 60,
  loadClients: 50,
  loadBackups: 10_000,
  loadRows: 300_000,
  auditEvents: 100_000,
  auditClients: 16,
};
export const QUICK: Scale = {
  backupKills: 2,
  restoreKills: 3,
  killRows: 5_000,
  corruptions: 12,
  hostile: 80,
  hostileMaxBody: 1 << 20,
  loadSeconds: 3,
  loadClients: 10,
  loadBackups: 500,
  loadRows: 20_000,
  auditEvents: 3_000,
  auditClients: 8,
};

const FAMILIES = ['kills', 'corruption', 'hostile', 'load', 'audit'] as const;
type Family = (typeof FAMILIES)[number];
/** Without --only: the audit family is long on its own (100,000 events) and runs when named. */
const DEFAULT_FAMILIES: Family[] = ['kills', 'corruption', 'hostile', 'load'];

function gitCommit(): string {
  try {
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
      cwd: ROOT,
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export interface RunMeta {
  command: string;
  commit: string;
  started: string;
  minutes: string;
  mode: string;
  seed: number;
  machine: string;
  logDir: string;
}

export interface CampaignRun {
  meta: RunMeta;
  results: FamilyResult[];
}

/** Shares of a --minutes budget: kills are the slowest trials by far (each one boots the service again). */
const SHARE: Record<Family, number> = { kills: 0.55, corruption: 0.2, hostile: 0.15, load: 0.1, audit: 0.5 };

export interface LoadTuning {
  rate?: number;
  seconds?: number;
  cpuProfile?: boolean;
  noBackups?: boolean;
}

export async function runCampaign(opts: {
  quick: boolean;
  engines: Engine[];
  families: Family[];
  seed: number;
  command: string;
  minutes?: number;
  scale?: Partial<Scale>;
  load?: LoadTuning;
  log(line: string): void;
}): Promise<CampaignRun> {
  assertBuilt();
  const scale = { ...(opts.quick ? QUICK : LONG), ...opts.scale };
  const load = opts.load ?? {};
  const prng = new Prng(opts.seed);
  const logDir = mkdtempSync(join(tmpdir(), 'strongroom-chaos-logs-'));
  const logCopy = (label: string) => join(logDir, `${label}.log`);
  const results: FamilyResult[] = [];
  const started = new Date();
  const commit = gitCommit();
  let cluster: PgCluster | null = null;
  const savedUrl = process.env.TEST_DATABASE_URL;
  try {
    if (opts.engines.includes('postgres') && !process.env.TEST_DATABASE_URL) {
      cluster = await startPgCluster();
      process.env.TEST_DATABASE_URL = cluster.url;
      const started = cluster;
      // Ctrl-C or a kill of the campaign: no server, CLI or PostgreSQL cluster left running.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) {
        process.once(sig, () => {
          killAllChildren();
          stopPgCluster(started);
          process.exit(130);
        });
      }
    }
    const deadline = opts.minutes ? started.getTime() + opts.minutes * 60_000 : Infinity;
    const steps = opts.engines.flatMap((engine) => opts.families.map((family) => ({ engine, family })));
    for (const [n, { engine, family }] of steps.entries()) {
      {
        const t = Date.now();
        // This family's slice of what is left of the budget (none: no limit).
        const rest = steps.slice(n).reduce((s, x) => s + SHARE[x.family], 0);
        const stopAt = deadline === Infinity ? Infinity : t + ((deadline - t) * SHARE[family]) / rest;
        opts.log(`${engine}: ${family}…`);
        if (family === 'kills')
          results.push(
            ...(await killCampaign(engine, {
              backupKills: scale.backupKills,
              restoreKills: scale.restoreKills,
              rows: scale.killRows,
              stopAt,
              prng,
              log: opts.log,
              logCopy,
            })),
          );
        if (family === 'corruption')
          results.push(
            await corruptionCampaign(engine, { trials: scale.corruptions, stopAt, prng, log: opts.log, logCopy }),
          );
        if (family === 'hostile')
          results.push(
            await hostileCampaign(engine, {
              requests: scale.hostile,
              maxBody: scale.hostileMaxBody,
              stopAt,
              prng,
              log: opts.log,
              logCopy,
            }),
          );
        if (family === 'load')
          results.push(
            await loadCampaign(engine, {
              seconds: load.seconds ?? scale.loadSeconds,
              clients: scale.loadClients,
              backups: scale.loadBackups,
              rows: scale.loadRows,
              ratePerClient: load.rate,
              cpuProfile: load.cpuProfile,
              noBackups: load.noBackups,
              prng,
              log: opts.log,
              logCopy,
            }),
          );
        if (family === 'audit')
          results.push(
            await auditKillCampaign(engine, {
              events: scale.auditEvents,
              clients: scale.auditClients,
              verifyEvery: opts.quick ? 2 : 10,
              stopAt,
              prng,
              log: opts.log,
              logCopy,
            }),
          );
        opts.log(`${engine}: ${family} done in ${Math.round((Date.now() - t) / 1000)} s`);
      }
    }
  } finally {
    killAllChildren();
    if (cluster) {
      stopPgCluster(cluster);
      if (savedUrl === undefined) delete process.env.TEST_DATABASE_URL;
    }
  }
  const meta: RunMeta = {
    command: opts.command,
    commit,
    started: started.toISOString(),
    minutes: ((Date.now() - started.getTime()) / 60000).toFixed(1),
    mode: opts.quick ? 'quick' : 'long',
    seed: opts.seed,
    machine: `${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), load average at the end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' / ')}, Node ${process.version}`,
    logDir,
  };
  return { meta, results };
}

/** docs/reliability.md's section on the jest suite's long mode (package.json `test:long`, test/support/long-mode.ts). */
const LONG_TEST_MODE_SECTION = [
  '',
  '## Long test mode (jest)',
  '',
  '`npm test` (CI) runs every repeated trial of the jest suite as a small, seeded sample spread',
  'over the moments that differ; `npm run test:long` runs the same tests with the full counts',
  '(`STRONGROOM_LONG_TESTS=1`; `npm run test:long -- <spec files>` for a few of them):',
  '',
  '| Spec | CI | Long mode |',
  '|---|---|---|',
  '| `test/jobs/cancel.e2e.spec.ts` | 5 backup and 5 restore cancels per engine, at seeded moments spread over one job (one in each fifth of it) | 20 of each per engine |',
  '| `test/backup/backup-crash.e2e.spec.ts` | per engine: SIGKILL after the first part, before the manifest, after the manifest (before the catalog says completed), plus 1 kill at a seeded moment | the same points plus 20 seeded moments over a 10 times larger table |',
  '| `test/cli/cli-restore-crash.e2e.spec.ts` | 2 CLI restores SIGKILLed at seeded moments per engine | 10 per engine |',
  '| `test/audit/audit-crash.e2e.spec.ts` | the server SIGKILLed once under audited traffic, then a clean stop | 10 kills |',
  '| `src/scheduler/*.properties.spec.ts`, `src/scheduler/cron-schedule.spec.ts` | fewer fast-check runs | the full runs |',
  '',
  'Both modes run the same assertions; the long mode only repeats them. The moments come from',
  '`test/support/long-mode.ts` (stratified: one per equal slice of the window, shuffled); a',
  'failure names the seed, and `STRONGROOM_TEST_SEED=<seed>` replays it. The deterministic kill',
  'points (`test/jobs/restore-files-commit-crash.e2e.spec.ts`, `test/cli/engine-restore-files-crash.e2e.spec.ts`,',
  '`test/jobs/restore-commit-crash.e2e.spec.ts`, the backup kill points above) run in full in',
  'both modes. The campaign figures (≥ 50 SIGKILLs during backups and during restores per engine,',
  'corruption, hostile requests, concurrent readers) come from `npm run test:chaos` below.',
];

/** The document: the runs that produced it (one, or several with --include), then their results. */
export function renderMarkdown(runs: CampaignRun[], appendices: string[] = []): string {
  const results = runs.flatMap((r) => r.results);
  return [
    '# Reliability campaign',
    '',
    'What the service withstood when attacked on purpose: processes killed at random moments of',
    'backups and restores, stored backups corrupted, hostile HTTP requests, and concurrent readers',
    'on a large catalog while a backup runs. The harness is `test/chaos/` (see its `run.ts`); it runs',
    'the built service (`node dist/main.js`, `node dist/cli.js`) on SQLite and on a throwaway',
    'PostgreSQL 15 cluster, on loopback, each family in its own fresh database and temp directories.',
    '`npm run test:chaos` builds first, then runs the long mode and rewrites this file;',
    '`npm run test:chaos -- --quick` is a small bounded run (it writes to a temp directory).',
    // Kept when the campaign rewrites the document (written by hand with the jest long mode).
    ...LONG_TEST_MODE_SECTION,
    '',
    '## Runs',
    '',
    ...runs.flatMap((r) => [
      `- Command: \`${r.meta.command}\``,
      `  - Commit: \`${r.meta.commit}\``,
      `  - Started ${r.meta.started}, took ${r.meta.minutes} min, ${r.meta.mode} mode, seed ${r.meta.seed}; ${r.meta.machine}`,
      `  - Families: ${[...new Set(r.results.map((x) => `${x.family} (${x.engine})`))].join(', ')}`,
    ]),
    '',
    '## What each family checks',
    '',
    '- **SIGKILL during backups**: a backup started through the API or the CLI is killed (SIGKILL) at a',
    '  random moment, then the server is started again. Checks: every completed backup has its manifest and',
    '  verifies (no phantom); every stored manifest has a catalog row that says completed (the boot rescan);',
    '  no backup directory without a manifest is left; nothing is still `pending`/`running`; no lease is held.',
    '- **SIGKILL during restores**: a `replace` restore of a full backup (tables and two file roots) through',
    '  the API or the CLI, one in three with a safety backup, killed at a random moment, then a restart.',
    "  Checks: tables and every file root are all at their old state or all at the backup's state;",
    '  the recovery is `completed` exactly when its data is in place (else `failed`); no lease is held; no',
    '  staging left next to the file roots; no shadow schema left (PostgreSQL); safety backups are whole.',
    '- **Corrupted backups**: a byte flipped, a part truncated, emptied, extended or deleted, in the manifest,',
    '  a table part or a file part of a stored backup (encrypted or not, compressed or not). Checks: verify',
    '  says not ok (API, and the CLI for some trials), and a restore of it refuses or fails with the target',
    '  unchanged.',
    '- **Hostile requests**: malformed JSON, deep nesting, huge bodies, bad charsets and encodings, NUL bytes,',
    '  ISO-8601 edge forms, numeric and forged cursors, bad and path-traversal ids, wrong methods, garbage',
    '  archives, on every route of the OpenAPI document. Check: no 5xx (and the connection is not dropped).',
    '- **Concurrent readers**: N clients on `GET /api/backups` (first pages and deeper pages, filters),',
    '  `GET /api/status` and `GET /api/audit`, with the catalog holding thousands of backups (rows',
    '  inserted directly) while backups run back to back. Checks: no error, p99 of the list route ≤ 50 ms.',
    '- **Audit trail under SIGKILL** (`--only audit`): the server, signing a checkpoint every second, takes',
    '  audited requests from concurrent clients and is killed (SIGKILL) 0.3–5 s after each start, again and',
    '  again, until the trail holds 100,000 events; then a clean stop. Checks: `GET /api/audit/verify` says ok',
    '  after restarts (online); the built CLI verifies the NDJSON export offline against the checkpoints in',
    '  backup storage and the public key (exit 0), the last checkpoint covering every event. No false alarm.',
    '',
    '## Summary',
    '',
    summaryTable(results),
    '',
    '## Details',
    '',
    ...results.map(detailSection),
    ...appendices,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      quick: { type: 'boolean' },
      engines: { type: 'string' },
      only: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      include: { type: 'string', multiple: true },
      minutes: { type: 'string' },
      render: { type: 'boolean' },
      append: { type: 'string', multiple: true },
      'backup-kills': { type: 'string' },
      'restore-kills': { type: 'string' },
      rate: { type: 'string' },
      'no-backups': { type: 'boolean' },
      'load-seconds': { type: 'string' },
      'cpu-profile': { type: 'boolean' },
      'skip-catalog-queries': { type: 'boolean' },
    },
  });
  const engines = (values.engines ?? 'sqlite,postgres').split(',') as Engine[];
  const families = (values.only ?? DEFAULT_FAMILIES.join(',')).split(',') as Family[];
  for (const e of engines) if (e !== 'sqlite' && e !== 'postgres') throw new Error(`--engines: unknown engine ${e}`);
  for (const f of families)
    if (!FAMILIES.includes(f)) throw new Error(`--only: unknown family ${f} (${FAMILIES.join(', ')})`);
  const seed = values.seed ? Number(values.seed) : Date.now() % 1_000_000;
  const quick = !!values.quick;
  const args = process.argv.slice(2).join(' ');
  const command =
    process.env.npm_lifecycle_event === 'test:chaos'
      ? `npm run test:chaos${args ? ` -- ${args}` : ''}`
      : `npx ts-node --transpile-only test/chaos/run.ts${args ? ` ${args}` : ''}   (after npm run build)`;
  const included = (values.include ?? []).flatMap((f) => JSON.parse(readFileSync(f, 'utf8')) as CampaignRun[]);
  const appendices = (values.append ?? []).map((f) => readFileSync(f, 'utf8'));
  if (values.render) {
    // No campaign: one document from earlier runs' results (e.g. the engines run side by side).
    if (!values.out) throw new Error('--render needs --out');
    writeFileSync(values.out, `${renderMarkdown(included, appendices)}\n`);
    process.stdout.write(`${summaryTable(included.flatMap((r) => r.results))}\n\nwritten: ${values.out}\n`);
    return;
  }
  const minutes = values.minutes ? Number(values.minutes) : undefined;
  if (minutes !== undefined && !(minutes > 0)) throw new Error('--minutes must be a positive number');
  const scale: Partial<Scale> = {};
  for (const [flag, key] of [
    ['backup-kills', 'backupKills'],
    ['restore-kills', 'restoreKills'],
  ] as const) {
    const v = values[flag];
    if (v === undefined) continue;
    if (!/^\d+$/.test(v)) throw new Error(`--${flag} must be a whole number`);
    scale[key] = Number(v);
  }
  const rate = values.rate ? Number(values.rate) : undefined;
  if (rate !== undefined && !(rate > 0))
    throw new Error('--rate must be a positive number (requests per second per client)');
  const loadSeconds = values['load-seconds'] ? Number(values['load-seconds']) : undefined;
  if (loadSeconds !== undefined && !(loadSeconds > 0)) throw new Error('--load-seconds must be a positive number');
  const load: LoadTuning = {
    rate,
    seconds: loadSeconds,
    cpuProfile: !!values['cpu-profile'],
    noBackups: !!values['no-backups'],
  };
  const run = await runCampaign({
    quick,
    engines,
    families,
    seed,
    command,
    minutes,
    scale,
    load,
    log: (l) => process.stderr.write(`${l}\n`),
  });
  const runs = [...included, run];
  if (!quick && families.includes('load') && !values['skip-catalog-queries']) {
    // Next to the HTTP latencies, what the database itself does for each catalog query (plans and in-process times).
    appendices.push(
      `## Catalog queries behind the list and status routes (test/chaos/catalog-queries.ts)\n${await catalogQueryReport(LONG.loadBackups, 200)}`,
    );
  }
  process.stdout.write(`\n${summaryTable(runs.flatMap((r) => r.results))}\n`);
  const out = values.out ?? (quick ? join(run.meta.logDir, 'reliability.md') : join(ROOT, 'docs/reliability.md'));
  writeFileSync(out, `${renderMarkdown(runs, appendices)}\n`);
  // Every failure in full (the document lists the first few of each family); --include takes it back.
  const json = values.json ?? join(run.meta.logDir, 'results.json');
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, JSON.stringify(runs, null, 2));
  process.stdout.write(`\nwritten: ${out}\n         ${json}\n`);
  process.exitCode = runs.some((r) => r.results.some((x) => x.failures.length > 0)) ? 1 : 0;
}

if (require.main === module) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.stack}\n`);
    process.exit(2);
  });
}
