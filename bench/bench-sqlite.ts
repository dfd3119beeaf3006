/** SQLite group: our encrypted backup against SQLite's online backup API (better-sqlite3 `db.backup`), shape by shape. */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  BREAKDOWN_VARIANTS,
  collect,
  Ctx,
  MAIN_VARIANT,
  MIB_256,
  ourBackup,
  ours,
  pushGoals,
  sizeOf,
} from './bench-context';
import { goal, mb, ratio, secs, unmeasuredGoal, type Goal } from './report';
import { Case, log, runRounds, selectCases } from './rounds';
import type { Shape } from './shapes';

export async function benchSqlite(ctx: Ctx): Promise<void> {
  for (const shape of ctx.shapes) await benchShape(ctx, shape);
}

async function benchShape(ctx: Ctx, shape: Shape): Promise<void> {
  const file = join(ctx.work, 'bench.db');
  const store = join(ctx.work, 'sqlite-store');
  const dest = join(ctx.work, 'online-copy.db');
  const clean = async () => {
    rmSync(store, { recursive: true, force: true });
    rmSync(dest, { force: true });
  };
  const dropFile = () => {
    for (const f of [file, `${file}-wal`, `${file}-shm`, `${file}-journal`]) rmSync(f, { force: true });
  };
  dropFile();
  try {
    log(`seeding SQLite shape ${shape.id} (${shape.title}) at scale ${ctx.scale}`);
    const t = Date.now();
    const counts = shape.seedSqlite(file, ctx.scale, ctx.seed);
    const seedMs = Date.now() - t;
    ctx.datasets.push({ shape: shape.id, engine: 'SQLite', bytes: sizeOf(file), rows: counts, seedMs });
    log(`SQLite shape ${shape.id}: ${mb(sizeOf(file))} in ${secs(seedMs)}`);
    const url = `sqlite:${file}`;
    const variants = [MAIN_VARIANT, ...(ctx.breakdown ? BREAKDOWN_VARIANTS : [])];
    const cases: Case[] = [
      ...variants.map((v): Case => ({
        key: v === MAIN_VARIANT ? 'ours' : `ours ${v.label}`,
        group: 'SQLite backup',
        tool: `Strongroom (${v.label}, parallel 2)`,
        setup: clean,
        run: async () => {
          const b = await ourBackup(ctx, url, store, v);
          return {
            measured: b.measured,
            bytes: b.bytes,
            note:
              v !== MAIN_VARIANT
                ? 'breakdown only'
                : b.format && b.format !== 'rows'
                  ? `${b.format}, ${mb(b.rawBytes)}`
                  : `row data ${mb(b.rawBytes)} as NDJSON`,
            stages: b.stages,
          };
        },
        after: clean,
      })),
      {
        key: 'online',
        reference: true,
        group: 'SQLite backup',
        tool: 'better-sqlite3 db.backup() (page copy, uncompressed, unencrypted)',
        setup: clean,
        run: async () => ({
          measured: await ours('sqlite-online-backup.ts', ['--src', file, '--dest', dest], '', 'SQLite online backup'),
          bytes: sizeOf(dest),
        }),
        after: clean,
      },
    ];
    const r = await runRounds(selectCases(ctx, cases), ctx.repeat, ctx.loads);
    collect(ctx, shape, cases, r);
    const o = r.rows.get('ours');
    const online = r.rows.get('online');
    if (!o) {
      pushGoals(ctx, shape, [unmeasuredGoal('SQLite backup', 'wall and memory goals', 'our SQLite backup')]);
      return;
    }
    const goals: Goal[] = [];
    if (online)
      goals.push(
        goal(
          'SQLite backup wall (encrypted)',
          '≤ 1.5 × online backup API (page copy)',
          o.wallMs,
          1.5 * online.wallMs,
          (v) => `${secs(v)} = ${ratio(v, online.wallMs)} online backup`,
        ),
      );
    else if (ctx.reference) goals.push(unmeasuredGoal('SQLite backup', 'wall goal', 'the online backup'));
    goals.push(goal('SQLite backup peak memory', '≤ 256 MiB', o.peakRssBytes, MIB_256, mb));
    pushGoals(ctx, shape, goals);
  } finally {
    await clean();
    dropFile();
  }
}
