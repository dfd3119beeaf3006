import { Gauge, type Registry } from 'prom-client';
import type { VerificationState } from './verification-state.service';

/**
 * Rolling verification and restore drill series, read from the catalog at scrape time (the
 * same truth in every instance; a restart loses nothing).
 */
export function registerVerificationMetrics(registry: Registry, state: VerificationState): void {
  const registers = [registry];
  const copies = new Gauge({
    name: 'strongroom_verify_copies',
    help: 'Copies of completed backups by copy (primary, offsite) and the state of their last rolling check (ok, failed, unchecked)',
    labelNames: ['copy', 'state'],
    registers,
  });
  const overdue = new Gauge({
    name: 'strongroom_verify_overdue_copies',
    help: 'Copies not checked within VERIFY_CYCLE_DAYS (never-checked ones counted from when the backup was taken)',
    labelNames: ['copy'],
    registers,
  });
  const rto = new Gauge({
    name: 'strongroom_restore_drill_rto_seconds',
    help: 'The measured RTO: how long the newest successful restore drill took (restore into a scratch database and compare)',
    registers,
  });
  const baseline = new Gauge({
    name: 'strongroom_restore_drill_baseline_seconds',
    help: 'Median duration of the successful drills before the newest drill, which it was judged against',
    registers,
  });
  const lastAt = new Gauge({
    name: 'strongroom_restore_drill_last_timestamp_seconds',
    help: 'When the newest restore drill finished',
    registers,
  });
  const lastOk = new Gauge({
    name: 'strongroom_restore_drill_last_success',
    help: '1 when the newest restore drill passed, 0 when it failed',
    registers,
  });
  const regressed = new Gauge({
    name: 'strongroom_restore_drill_rto_regressed',
    help: '1 when the newest restore drill took more than DRILL_RTO_THRESHOLD_PERCENT longer than its baseline',
    registers,
  });
  const drillSeries = [rto, baseline, lastAt, lastOk, regressed];
  let pending: Promise<void> | null = null;
  const collectAll = async (): Promise<void> => {
    const s = await state.get();
    copies.reset();
    overdue.reset();
    for (const [copy, c] of [
      ['primary', s.verification.primary],
      ['offsite', s.verification.offsite],
    ] as const) {
      if (!c) continue;
      copies.set({ copy, state: 'ok' }, c.total - c.failed - c.unchecked);
      copies.set({ copy, state: 'failed' }, c.failed);
      copies.set({ copy, state: 'unchecked' }, c.unchecked);
      overdue.set({ copy }, c.overdue);
    }
    // No drill yet: the series are absent rather than a misleading 0.
    for (const g of drillSeries) g.reset();
    const last = s.drills.last;
    if (s.drills.rtoSeconds !== null) rto.set(s.drills.rtoSeconds);
    if (last) {
      lastAt.set(Date.parse(last.finishedAt) / 1000);
      lastOk.set(last.ok ? 1 : 0);
      regressed.set(last.regressed ? 1 : 0);
      if (last.baselineSeconds !== null) baseline.set(last.baselineSeconds);
    }
  };
  const collect = async (): Promise<void> => {
    pending ??= collectAll().finally(() => setImmediate(() => (pending = null)));
    await pending;
  };
  for (const g of [copies, overdue, ...drillSeries])
    (g as unknown as { collect: () => Promise<void> }).collect = collect;
}
