import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { BackupEntity } from '../backup/backup.entity';
import { OFFSITE_STORAGE } from '../backup/storage.provider';
import { TtlCache } from '../common/ttl-cache';
import { AppConfig } from '../config/app-config';
import type { BackupStorage } from '../engine/storage/storage';
import { RestoreDrillEntity } from './restore-drill.entity';
import type { CopyName } from './verify-slice';

export interface CopyCounts {
  /** Copies of completed backups (offsite: those copied). */
  total: number;
  /** Never checked by the rolling verifier yet. */
  unchecked: number;
  /** Whose last check failed. */
  failed: number;
  /** Past their deadline: last check (or creation, if never checked) more than VERIFY_CYCLE_DAYS ago. */
  overdue: number;
}

export interface FailedCopy {
  backupId: string;
  copy: CopyName;
  checkedAt: string;
  error: string;
}

export interface DrillView {
  id: string;
  backupId: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  ok: boolean;
  source: string | null;
  error: string | null;
  baselineSeconds: number | null;
  regressed: boolean;
}

export interface VerificationView {
  cycleDays: number;
  primary: CopyCounts;
  /** Null while offsite copies are off. */
  offsite: CopyCounts | null;
  /** Copies whose last check failed, newest backup first (at most FAILED_LIMIT). */
  failed: FailedCopy[];
}

export interface DrillsView {
  enabled: boolean;
  /** The newest drill, passed or failed. */
  last: DrillView | null;
  /** The measured RTO: the duration of the newest successful drill, in seconds. */
  rtoSeconds: number | null;
}

export interface VerificationSnapshot {
  verification: VerificationView;
  drills: DrillsView;
}

const FAILED_LIMIT = 20;
const DAY_MS = 86_400_000;

/**
 * What the rolling verifier and the drills found, for GET /api/status and /metrics: counts per
 * copy from one pass over the catalog's completed rows, the failed copies, and the newest
 * drills. Kept for STATUS_TOTALS_CACHE_SECONDS (the same bound as the catalog totals), and
 * dropped whenever this process records a check or a drill.
 */
@Injectable()
export class VerificationState {
  private readonly cache: TtlCache<VerificationSnapshot>;

  constructor(
    @InjectRepository(BackupEntity) private readonly backups: Repository<BackupEntity>,
    @InjectRepository(RestoreDrillEntity) private readonly drills: Repository<RestoreDrillEntity>,
    @Inject(OFFSITE_STORAGE) private readonly offsite: BackupStorage | null,
    private readonly config: AppConfig,
  ) {
    this.cache = new TtlCache(() => this.load(), config.STATUS_TOTALS_CACHE_SECONDS * 1000);
  }

  get(): Promise<VerificationSnapshot> {
    return this.cache.get();
  }

  invalidate(): void {
    this.cache.invalidate();
  }

  /** Sentences for the status' problems: a copy that failed its last check, a drill that failed. */
  problems(s: VerificationSnapshot): string[] {
    const out = s.verification.failed.map(
      (f) => `backup ${f.backupId}: its ${f.copy} copy failed verification at ${f.checkedAt}: ${f.error.slice(0, 300)}`,
    );
    const last = s.drills.last;
    if (last && !last.ok)
      out.push(
        `the last restore drill (${last.startedAt}, backup ${last.backupId}) failed: ${(last.error ?? '').slice(0, 300)}`,
      );
    return out;
  }

  /** Previous successful drills' durations in ms, newest first. */
  async previousDurations(limit: number): Promise<number[]> {
    const rows = await this.drills.find({
      where: { ok: true },
      order: { startedAt: 'DESC', id: 'DESC' },
      take: limit,
      select: { durationMs: true },
    });
    return rows.map((r) => r.durationMs);
  }

  private async load(): Promise<VerificationSnapshot> {
    const offsiteOn = !!this.offsite;
    const cutoff = new Date(Date.now() - this.config.VERIFY_CYCLE_DAYS * DAY_MS).toISOString();
    const sum = (cond: string) => `SUM(CASE WHEN ${cond} THEN 1 ELSE 0 END)`;
    const copied = `b.offsite_status = 'copied'`;
    const raw = (await this.backups
      .createQueryBuilder('b')
      .select('COUNT(*)', 'pTotal')
      .addSelect(sum('b.primary_checked_at IS NULL'), 'pUnchecked')
      .addSelect(sum('b.primary_check_error IS NOT NULL'), 'pFailed')
      .addSelect(sum('COALESCE(b.primary_checked_at, b.created_at) < :cutoff'), 'pOverdue')
      .addSelect(sum(copied), 'oTotal')
      .addSelect(sum(`${copied} AND b.offsite_checked_at IS NULL`), 'oUnchecked')
      .addSelect(sum(`${copied} AND b.offsite_check_error IS NOT NULL`), 'oFailed')
      .addSelect(sum(`${copied} AND COALESCE(b.offsite_checked_at, b.created_at) < :cutoff`), 'oOverdue')
      .where('b.status = :s', { s: 'completed' })
      .setParameter('cutoff', cutoff)
      .getRawOne()) as Record<string, string | number | null> | undefined;
    const n = (k: string) => Number(raw?.[k] ?? 0);
    const failedRows = await this.backups
      .createQueryBuilder('b')
      .select(['b.id', 'b.primaryCheckedAt', 'b.primaryCheckError', 'b.offsiteCheckedAt', 'b.offsiteCheckError'])
      .where('b.status = :s', { s: 'completed' })
      .andWhere(
        offsiteOn
          ? `(b.primary_check_error IS NOT NULL OR (${copied} AND b.offsite_check_error IS NOT NULL))`
          : 'b.primary_check_error IS NOT NULL',
      )
      .orderBy('b.created_at', 'DESC')
      .addOrderBy('b.id', 'DESC')
      .limit(FAILED_LIMIT)
      .getMany();
    const failed: FailedCopy[] = [];
    for (const r of failedRows) {
      if (r.primaryCheckError)
        failed.push({
          backupId: r.id,
          copy: 'primary',
          checkedAt: r.primaryCheckedAt ?? '',
          error: r.primaryCheckError,
        });
      if (offsiteOn && r.offsiteCheckError)
        failed.push({
          backupId: r.id,
          copy: 'offsite',
          checkedAt: r.offsiteCheckedAt ?? '',
          error: r.offsiteCheckError,
        });
    }
    const [last] = await this.drills.find({ order: { startedAt: 'DESC', id: 'DESC' }, take: 1 });
    const [lastOk] = last?.ok
      ? [last]
      : await this.drills.find({ where: { ok: true }, order: { startedAt: 'DESC', id: 'DESC' }, take: 1 });
    return {
      verification: {
        cycleDays: this.config.VERIFY_CYCLE_DAYS,
        primary: { total: n('pTotal'), unchecked: n('pUnchecked'), failed: n('pFailed'), overdue: n('pOverdue') },
        offsite: offsiteOn
          ? { total: n('oTotal'), unchecked: n('oUnchecked'), failed: n('oFailed'), overdue: n('oOverdue') }
          : null,
        failed: failed.slice(0, FAILED_LIMIT),
      },
      drills: {
        enabled: this.config.DRILL_ENABLED,
        last: last ? drillView(last) : null,
        rtoSeconds: lastOk ? lastOk.durationMs / 1000 : null,
      },
    };
  }
}

export function drillView(d: RestoreDrillEntity): DrillView {
  return {
    id: d.id,
    backupId: d.backupId,
    startedAt: d.startedAt,
    finishedAt: d.finishedAt,
    durationSeconds: d.durationMs / 1000,
    ok: d.ok,
    source: d.source,
    error: d.error,
    baselineSeconds: d.baselineMs === null ? null : d.baselineMs / 1000,
    regressed: d.regressed,
  };
}
