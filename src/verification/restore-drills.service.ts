import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { Repository } from 'typeorm';
import { BackupArchiveService, VerifyOutcome } from '../backup/backup-archive.service';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { BackupEntity } from '../backup/backup.entity';
import { encodeCursor, Page, parseNewestFirstCursor } from '../common/pagination';
import { safeErrorMessage } from '../common/redact';
import { SYSTEM_ACTOR } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { NotificationsService } from '../notifications/notifications.service';
import { failedChecks, failedParts } from './corruption-alert';
import { DRILL_FAILED_KEY, DRILL_RTO_KEY } from '../notifications/alert-keys';
import { judgeRto } from './drill-rto';
import { RestoreDrillEntity } from './restore-drill.entity';
import { RollingVerifier } from './rolling-verifier.service';
import { VerificationGate } from './verification-gate';
import { drillView, DrillView, VerificationState } from './verification-state.service';
import { runAs } from '../common/request-scope';

/** The keys of the drill alerts: one alert each, repeated drills update it. */
export { DRILL_FAILED_KEY, DRILL_RTO_KEY };

/** A deep verification's outcome, or a drill that could not even start one (no copy read). */
type DrillOutcome = Pick<VerifyOutcome, 'ok' | 'checks' | 'primaryProblem'> & {
  source: VerifyOutcome['source'] | null;
};

/**
 * The restore drill: the newest completed full backup is deep-verified, that is restored into a
 * scratch database of the target's engine (a temporary SQLite file, or a temporary database on
 * the target's PostgreSQL server, dropped afterwards) and compared table by table with its
 * manifest (BackupArchiveService.verify with deep). Its wall time, from the first byte read to
 * the comparison's end, is the measured RTO: a real restore of that backup does the same work
 * (every part checked, then loaded) without the comparison. Each drill is kept in the catalog;
 * a failed drill, or one more than DRILL_RTO_THRESHOLD_PERCENT slower than the median of the
 * previous DRILL_RTO_BASELINE_DRILLS successful ones, raises an alert.
 */
@Injectable()
export class RestoreDrills {
  private readonly logger = new Logger('RestoreDrills');

  constructor(
    @InjectRepository(RestoreDrillEntity) private readonly repo: Repository<RestoreDrillEntity>,
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    private readonly catalog: BackupCatalogService,
    private readonly archive: BackupArchiveService,
    private readonly verifier: RollingVerifier,
    private readonly notifications: NotificationsService,
    private readonly gate: VerificationGate,
    private readonly state: VerificationState,
    private readonly config: AppConfig,
  ) {}

  /** The drills, newest first (keyset pages over started_at, id). */
  async list(limit: number, cursor?: string): Promise<Page<DrillView>> {
    const qb = this.repo
      .createQueryBuilder('d')
      .orderBy('d.started_at', 'DESC')
      .addOrderBy('d.id', 'DESC')
      .take(limit + 1);
    const c = parseNewestFirstCursor(cursor);
    if (c) qb.andWhere('(d.started_at < :c0 OR (d.started_at = :c0 AND d.id < :c1))', { c0: c[0], c1: c[1] });
    const rows = await qb.getMany();
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(drillView),
      nextCursor: rows.length > limit && last ? encodeCursor([last.startedAt, last.id]) : null,
    };
  }

  /**
   * Runs one drill on the newest completed full backup (what a disaster recovery restores, so
   * drills measure the same thing each time), or on the newest completed backup of any type
   * when there is no full one; null when there is none.
   */
  async run(): Promise<DrillView | null> {
    const newest =
      (await this.catalog.list({ status: 'completed', type: 'full' }, 1)).items[0] ??
      (await this.catalog.list({ status: 'completed' }, 1)).items[0];
    if (!newest) return null;
    return this.gate.run(() => this.drill(newest.id));
  }

  private async drill(backupId: string): Promise<DrillView> {
    const startedAt = new Date();
    const t0 = performance.now();
    let outcome: DrillOutcome;
    try {
      outcome = await runAs(SYSTEM_ACTOR, () => this.archive.verify(backupId, true));
    } catch (e) {
      // Deleted meanwhile, the catalog unreachable: the drill could not show the backup restores.
      outcome = {
        ok: false,
        checks: [{ name: 'drill', ok: false, detail: safeErrorMessage(e) }],
        source: null,
        primaryProblem: null,
      };
    }
    const durationMs = Math.round(performance.now() - t0);
    const previous = await this.state.previousDurations(this.config.DRILL_RTO_BASELINE_DRILLS);
    const judged = judgeRto(
      durationMs,
      previous,
      this.config.DRILL_RTO_THRESHOLD_PERCENT,
      this.config.DRILL_RTO_BASELINE_DRILLS,
    );
    const problems = failedChecks(outcome.checks);
    const row: RestoreDrillEntity = {
      id: randomUUID(),
      backupId,
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      durationMs,
      ok: outcome.ok,
      source: outcome.ok ? outcome.source : null,
      error: outcome.ok ? null : problems.join('; ').slice(0, 4000),
      baselineMs: judged.baselineMs === null ? null : Math.round(judged.baselineMs),
      // Only a drill that restored is a measure of the RTO.
      regressed: outcome.ok && judged.regressed,
    };
    await this.repo.insert(row);
    this.state.invalidate();
    await this.recordCopyFindings(backupId, outcome);
    this.alert(row, judged.growthPercent, problems);
    return drillView(row);
  }

  /** A drill that read the primary copy found what the rolling verifier would have: kept on the copy's state too. */
  private async recordCopyFindings(backupId: string, outcome: DrillOutcome): Promise<void> {
    const row = await this.backups.findOne({ where: { id: backupId } });
    if (!row) return;
    if (outcome.primaryProblem !== null) {
      // The primary copy failed and the offsite one served the drill.
      const problems = outcome.primaryProblem.split('; ');
      const parts = problems
        .filter((p) => p.startsWith('part '))
        .map((p) => p.slice(5, p.indexOf(':') > 5 ? p.indexOf(':') : undefined));
      await this.verifier.record(row, { backupId, copy: 'primary', ok: false, problems, parts }, 'restore drill');
    } else if (!outcome.ok && outcome.source === 'primary') {
      const stored = outcome.checks.filter((c) => c.name === 'manifest' || c.name.startsWith('part '));
      // Only a stored-bytes failure is the copy's; a failed restore or comparison is the drill's own.
      if (stored.some((c) => !c.ok))
        await this.verifier.record(
          row,
          { backupId, copy: 'primary', ok: false, problems: failedChecks(stored), parts: failedParts(stored) },
          'restore drill',
        );
    }
  }

  private alert(row: RestoreDrillEntity, growthPercent: number | null, problems: string[]): void {
    const seconds = (row.durationMs / 1000).toFixed(1);
    if (!row.ok) {
      this.logger.error(`restore drill of backup ${row.backupId} failed after ${seconds}s: ${row.error}`);
      this.notifications.notify({
        type: 'drill.failed',
        severity: 'critical',
        key: DRILL_FAILED_KEY,
        message: `Restore drill of backup ${row.backupId} failed after ${seconds}s: ${problems.join('; ').slice(0, 1500)}`,
        details: {
          drillId: row.id,
          backupId: row.backupId,
          durationSeconds: row.durationMs / 1000,
          problems: problems.slice(0, 20),
        },
      });
      return;
    }
    this.logger.log(`restore drill of backup ${row.backupId}: restored and compared in ${seconds}s`);
    void this.notifications.resolve(DRILL_FAILED_KEY, `the restore drill of backup ${row.backupId} passed`);
    if (!row.regressed)
      void this.notifications.resolve(DRILL_RTO_KEY, `the restore drill took ${seconds}s, within the threshold again`);
    if (row.regressed && row.baselineMs !== null)
      this.notifications.notify({
        type: 'drill.rto-regressed',
        severity: 'warning',
        key: DRILL_RTO_KEY,
        message: `Restore drill of backup ${row.backupId} took ${seconds}s, ${growthPercent}% longer than the median of the previous drills (${(row.baselineMs / 1000).toFixed(1)}s; threshold ${this.config.DRILL_RTO_THRESHOLD_PERCENT}%)`,
        details: {
          drillId: row.id,
          backupId: row.backupId,
          rtoSeconds: row.durationMs / 1000,
          baselineSeconds: row.baselineMs / 1000,
          growthPercent,
          thresholdPercent: this.config.DRILL_RTO_THRESHOLD_PERCENT,
        },
      });
  }
}
