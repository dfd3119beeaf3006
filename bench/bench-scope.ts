/**
 * The scope rows of the PostgreSQL group: a scoped backup of one typical project (the root
 * table `projects`; its tasks and their comments follow by foreign key) and a scoped replace of
 * it over live data, each against the full backup and the full replace of the same run (goal:
 * at most 5% of the full one's wall). The project is the one with the median number of tasks,
 * so neither an empty nor the largest project flatters the number.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { MAIN_VARIANT, ourBackup, ours, query, type Ctx, type OurBackup } from './bench-context';
import { goal, unmeasuredGoal, type Goal } from './report';
import type { Case, RoundsResult, Sample } from './rounds';

export interface ScopeState {
  project: number;
  store: string;
  /** The newest scoped backup (the replace restores it). */
  latest: OurBackup | null;
}

type OnServer = (fn: () => Promise<Sample>) => Promise<Sample>;

/** The project with the median task count (ties: the lowest id). */
export async function typicalProject(url: string): Promise<number> {
  const rows = await query<{ id: string }>(
    url,
    `SELECT project_id::text AS id FROM tasks GROUP BY project_id ORDER BY count(*), project_id
     OFFSET (SELECT count(DISTINCT project_id) / 2 FROM tasks) LIMIT 1`,
  );
  if (!rows.length) throw new Error('the bench dataset has no tasks, so no project to scope');
  return Number(rows[0].id);
}

export function scopeBackupCase(ctx: Ctx, src: string, s: ScopeState, onServer: OnServer): Case {
  return {
    key: 'scope',
    group: 'PostgreSQL backup',
    tool: `Strongroom scope backup of one project (${MAIN_VARIANT.label}): project ${s.project}, its tasks and their comments`,
    setup: async () => (s.latest ? rmSync(join(s.store, s.latest.dir), { recursive: true, force: true }) : undefined),
    run: () =>
      onServer(async () => {
        s.latest = await ourBackup(ctx, src, s.store, MAIN_VARIANT, [
          '--scope-table',
          'projects',
          '--scope-key',
          String(s.project),
        ]);
        return { measured: s.latest.measured, bytes: s.latest.bytes, note: `${s.latest.rows} rows, keyed reads` };
      }),
  };
}

/** The project's rows, hashed in key order: equal in the source and in the restored database. */
async function projectDigest(url: string, project: number): Promise<string> {
  const [r] = await query<{ d: string }>(
    url,
    `SELECT md5(coalesce((SELECT string_agg(t::text, ',' ORDER BY t.id) FROM tasks t WHERE t.project_id = $1), '') ||
                coalesce((SELECT string_agg(c::text, ',' ORDER BY c.id) FROM comments c JOIN tasks t ON t.id = c.task_id
                          WHERE t.project_id = $1), '')) AS d`,
    [project],
  );
  return r.d;
}

export function scopeReplaceCase(
  ctx: Ctx,
  db: { src: string; url: string },
  s: ScopeState,
  ops: { fresh(): Promise<void>; drop(): Promise<void>; onServer: OnServer },
): Case {
  return {
    key: 'scope replace',
    group: 'PostgreSQL restore',
    tool: 'Strongroom scope replace of that project, over live data (same setup as replace), until the commit',
    setup: ops.fresh,
    run: () =>
      ops.onServer(async () => {
        if (!s.latest) throw new Error('every run of the scope backup failed, so there is nothing to restore');
        const measured = await ours(
          'our-restore.ts',
          ['--url', db.url, '--store', s.store, '--dir', s.latest.dir, '--mode', 'replace', '--analyze', 'false'],
          ctx.keys,
          'our restore scope replace',
        );
        return {
          measured,
          bytes: null,
          note: 'closure under the restore locks, keyed delete and merge, foreign keys checked for the rows written',
        };
      }),
    // The project is exactly the source's again; every other project keeps its later changes.
    after: async () => {
      const [want, got] = await Promise.all([projectDigest(db.src, s.project), projectDigest(db.url, s.project)]);
      if (want !== got) throw new Error(`scope replace: project ${s.project} differs from the backup after restore`);
      const [{ n }] = await query<{ n: string }>(
        db.url,
        `SELECT count(*)::text AS n FROM comments c JOIN tasks t ON t.id = c.task_id WHERE c.id % 50 = 0 AND t.project_id <> $1`,
        [s.project],
      );
      if (n !== '0') throw new Error(`scope replace: ${n} comments of other projects came back`);
      await ops.drop();
    },
  };
}

const pct = (v: number, of: number) => `${((v / of) * 100).toFixed(1)}%`;

export function scopeGoals(b: RoundsResult, r: RoundsResult, projects: number): Goal[] {
  const out: Goal[] = [];
  const full = b.rows.get('ours');
  const scoped = b.rows.get('scope');
  if (!full || !scoped)
    out.push(
      unmeasuredGoal('PostgreSQL scope backup', '≤ 5% of the full backup', full ? 'the scope backup' : 'our backup'),
    );
  else
    out.push(
      goal(
        `PostgreSQL scope backup of one project (of ${projects})`,
        '≤ 5% of the full backup (same run)',
        scoped.wallMs,
        0.05 * full.wallMs,
        (v) => `${(v / 1000).toFixed(2)} s = ${pct(v, full.wallMs)} of ${(full.wallMs / 1000).toFixed(1)} s`,
      ),
    );
  const replace = r.rows.get('replace');
  const scopedReplace = r.rows.get('scope replace');
  if (!replace || !scopedReplace)
    out.push(
      unmeasuredGoal(
        'PostgreSQL scope replace',
        '≤ 5% of the full replace',
        replace ? 'the scope replace' : 'our replace restore',
      ),
    );
  else
    out.push(
      goal(
        `PostgreSQL scope replace of one project (of ${projects})`,
        '≤ 5% of the full replace (same run)',
        scopedReplace.wallMs,
        0.05 * replace.wallMs,
        (v) => `${(v / 1000).toFixed(2)} s = ${pct(v, replace.wallMs)} of ${(replace.wallMs / 1000).toFixed(1)} s`,
      ),
    );
  return out;
}
