/** Results of the campaign: one row per trial family and engine, with every failure spelled out. */

export interface Failure {
  trial: string;
  check: string;
  detail: string;
}

export interface FamilyResult {
  family: string;
  engine: string;
  trials: number;
  /** Trials the scale asked for; fewer ran when the time budget (--minutes) ran out. */
  planned?: number;
  failures: Failure[];
  /** Observations that are not failures (how many kills landed mid-job, status codes seen, ...). */
  notes: string[];
  /** Extra markdown (e.g. a latency table), printed after the summary. */
  tables?: string[];
}

export function newResult(family: string, engine: string): FamilyResult {
  return { family, engine, trials: 0, failures: [], notes: [], tables: [] };
}

const MAX_LISTED = 40;

/**
 * The --minutes budget: true (and a note saying so) once `stopAt` has passed, so a family
 * stops starting trials and reports what it ran instead of losing everything at a hard stop.
 */
export function outOfTime(r: FamilyResult, stopAt: number, done: number, planned: number, what: string): boolean {
  r.planned = (r.planned ?? 0) + planned;
  if (Date.now() < stopAt) {
    r.planned -= planned;
    return false;
  }
  r.notes.push(`Stopped after ${done} of ${planned} planned ${what}: the time budget (--minutes) ran out.`);
  return true;
}

/** Failures counted once per trial (a trial failing three checks is one failed trial). */
export function failedTrials(r: FamilyResult): number {
  return new Set(r.failures.map((f) => f.trial)).size;
}

export function summaryTable(results: FamilyResult[]): string {
  const lines = ['| Family | Engine | Trials | Failed trials | Failed checks |', '|---|---|---:|---:|---|'];
  for (const r of results) {
    const byCheck = new Map<string, number>();
    for (const f of r.failures) byCheck.set(f.check, (byCheck.get(f.check) ?? 0) + 1);
    const checks = [...byCheck].map(([c, n]) => `${c} × ${n}`).join('; ') || '—';
    const trials = r.planned && r.planned > r.trials ? `${r.trials} (of ${r.planned} planned)` : `${r.trials}`;
    lines.push(`| ${r.family} | ${r.engine} | ${trials} | ${failedTrials(r)} | ${checks} |`);
  }
  return lines.join('\n');
}

function escapeCell(s: string): string {
  return s
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ')
    .replace(/\p{Cc}/gu, ' ')
    .slice(0, 400);
}

export function detailSection(r: FamilyResult): string {
  const out = [`### ${r.family} — ${r.engine}`, ''];
  for (const n of r.notes) out.push(`- ${n}`);
  if (r.notes.length) out.push('');
  for (const t of r.tables ?? []) out.push(t, '');
  if (!r.failures.length) {
    out.push('No failures.', '');
    return out.join('\n');
  }
  out.push('| Trial | Check | Detail |', '|---|---|---|');
  for (const f of r.failures.slice(0, MAX_LISTED))
    out.push(`| ${escapeCell(f.trial)} | ${escapeCell(f.check)} | ${escapeCell(f.detail)} |`);
  if (r.failures.length > MAX_LISTED)
    out.push(`| … | | ${r.failures.length - MAX_LISTED} more failures (see the JSON results file) |`);
  out.push('');
  return out.join('\n');
}
