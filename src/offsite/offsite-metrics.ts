import { Gauge, type Registry } from 'prom-client';
import type { OffsiteCopier } from './offsite-copier.service';
import type { OffsiteLagService } from './offsite-lag.service';

/**
 * Offsite copy series, read from the catalog at scrape time (the same truth in every
 * instance), plus this process's failed attempts. Nothing is registered while offsite copies are off.
 */
export function registerOffsiteMetrics(registry: Registry, lag: OffsiteLagService, copier: OffsiteCopier): void {
  if (!lag.enabled) return;
  const registers = [registry];
  const lagSeconds = new Gauge({
    name: 'strongroom_offsite_lag_seconds',
    help: 'Seconds since the oldest completed backup without an offsite copy finished (0: every backup is copied)',
    registers,
  });
  const backups = new Gauge({
    name: 'strongroom_offsite_backups',
    help: 'Completed backups by the state of their offsite copy (none: not looked at yet)',
    labelNames: ['state'],
    registers,
  });
  const failures = new Gauge({
    name: 'strongroom_offsite_copy_failures',
    help: 'Failed offsite copy attempts of this process since it started',
    registers,
  });
  let pending: Promise<void> | null = null;
  const collectAll = async (): Promise<void> => {
    const l = await lag.lag();
    if (!l) return;
    lagSeconds.set(l.lagSeconds);
    for (const [state, n] of Object.entries(l.counts)) backups.set({ state }, n);
    failures.set(copier.failures);
  };
  const collect = async (): Promise<void> => {
    pending ??= collectAll().finally(() => setImmediate(() => (pending = null)));
    await pending;
  };
  for (const g of [lagSeconds, backups, failures]) (g as unknown as { collect: () => Promise<void> }).collect = collect;
}
