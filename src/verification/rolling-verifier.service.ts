import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { BackupArchiveService } from '../backup/backup-archive.service';
import { BackupCopies } from '../backup/backup-copies.service';
import { BackupEntity } from '../backup/backup.entity';
import { TargetDatabase } from '../backup/target-database';
import { safeErrorMessage } from '../common/redact';
import { SYSTEM_ACTOR } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { verifyBackup, type VerifyCheck } from '../engine/backup/verify-backup';
import type { BackupStorage } from '../engine/storage/storage';
import { ByteRateLimiter, ThrottledStorage } from '../engine/storage/throttled-storage';
import { NotificationsService } from '../notifications/notifications.service';
import { nextRun } from '../scheduler/cron-schedule';
import { alertCorrupt, corruptKey, failedChecks, failedParts } from './corruption-alert';
import { backupCorruptKey } from '../notifications/alert-keys';
import { VerificationGate } from './verification-gate';
import { VerificationState } from './verification-state.service';
import { copiesOf, CopyName, selectSlice, ticksPerCycle } from './verify-slice';
import { runAs } from '../common/request-scope';

export interface CopyCheckOutcome {
  backupId: string;
  copy: CopyName;
  ok: boolean;
  /** What failed, check by check (empty when it passed). */
  problems: string[];
  parts: string[];
}

/**
 * Re-reads every retained backup's copies within VERIFY_CYCLE_DAYS, a slice per VERIFY_CRON
 * tick (verify-slice.ts decides which). A check is the plain verification of one copy in its
 * own storage: manifest, authentication, every part's size and SHA-256, decryption and
 * decompression, so bit rot, a truncated upload or a tampered part is found while another
 * copy can still replace it. Bounded: one copy at a time (VerificationGate), reads capped at
 * VERIFY_MAX_BYTES_PER_SECOND. A failed copy raises an alert naming the backup, the copy and
 * the parts; the outcome is kept on the catalog row (per copy) and in the audit trail.
 */
@Injectable()
export class RollingVerifier implements OnApplicationShutdown {
  private readonly logger = new Logger('RollingVerifier');
  /** Set at shutdown: the slice stops between copies (the rest are due on the next tick). */
  private stopping = false;
  /** One limiter for the process: the cap holds whichever storage is read. */
  private readonly limiter: ByteRateLimiter | null;

  constructor(
    @InjectRepository(BackupEntity) private readonly repo: Repository<BackupEntity>,
    private readonly copies: BackupCopies,
    private readonly target: TargetDatabase,
    private readonly archive: BackupArchiveService,
    private readonly audit: AuditService,
    private readonly notifications: NotificationsService,
    private readonly gate: VerificationGate,
    private readonly state: VerificationState,
    private readonly config: AppConfig,
  ) {
    this.limiter =
      config.VERIFY_MAX_BYTES_PER_SECOND > 0 ? new ByteRateLimiter(config.VERIFY_MAX_BYTES_PER_SECOND) : null;
  }

  onApplicationShutdown(): void {
    this.stopping = true;
  }

  /** One tick: checks this tick's slice of copies, one at a time. */
  async runSlice(fireAt = new Date()): Promise<CopyCheckOutcome[]> {
    const rows = await this.repo.find({
      where: { status: 'completed' },
      select: {
        id: true,
        createdAt: true,
        offsiteStatus: true,
        primaryCheckedAt: true,
        primaryCheckError: true,
        offsiteCheckedAt: true,
        offsiteCheckError: true,
      },
    });
    const { VERIFY_CRON: cron, BACKUP_TIMEZONE: tz, VERIFY_CYCLE_DAYS: cycleDays } = this.config;
    const next = (after: Date) => nextRun(cron, tz, after);
    const slice = selectSlice(copiesOf(rows, !!this.copies.offsite), {
      now: fireAt,
      nextTickAt: safe(() => next(fireAt)),
      cycleDays,
      ticksPerCycle: ticksPerCycle(next, fireAt, cycleDays),
    });
    const outcomes: CopyCheckOutcome[] = [];
    for (const c of slice) {
      if (this.stopping) return outcomes;
      const outcome = await this.gate.run(() => this.checkCopy(c.backupId, c.copy));
      if (outcome) outcomes.push(outcome);
    }
    if (slice.length)
      this.logger.log(
        `rolling verification: ${outcomes.length} copies checked, ${outcomes.filter((o) => !o.ok).length} failed`,
      );
    await this.legacyDeepVerify(fireAt, rows);
    return outcomes;
  }

  /**
   * Checks one copy of a backup and records the outcome; null when there is nothing to check
   * (the backup was deleted meanwhile, or it has no such copy).
   */
  async checkCopy(backupId: string, copy: CopyName): Promise<CopyCheckOutcome | null> {
    const row = await this.repo.findOne({ where: { id: backupId } });
    if (!row || row.status !== 'completed') return null;
    const storage = copy === 'primary' ? this.copies.primary : this.copies.offsite;
    if (!storage || (copy === 'offsite' && !this.copies.hasOffsiteCopy(row))) return null;
    const checks: VerifyCheck[] = await verifyBackup(this.throttled(storage), row.storageDir, this.target.keys).then(
      (r) => r.checks,
      // Unreadable (storage unreachable, a part gone): the copy cannot serve a restore either.
      (e: unknown) => [{ name: 'verify', ok: false, detail: safeErrorMessage(e) }],
    );
    const problems = failedChecks(checks);
    const outcome: CopyCheckOutcome = { backupId, copy, ok: !problems.length, problems, parts: failedParts(checks) };
    await this.record(row, outcome);
    return outcome;
  }

  /** Keeps the outcome on the row, audits it and alerts on a failure. */
  async record(
    row: BackupEntity,
    outcome: CopyCheckOutcome,
    found: 'rolling verification' | 'restore drill' = 'rolling verification',
  ): Promise<void> {
    const at = nowIso();
    const error = outcome.ok ? null : outcome.problems.join('; ').slice(0, 4000);
    const own =
      outcome.copy === 'primary'
        ? { primaryCheckedAt: at, primaryCheckError: error }
        : { offsiteCheckedAt: at, offsiteCheckError: error };
    // The backup stays restorable while its other copy passed its last check: only when no
    // copy is known sound does the failure count against the backup (retention then holds).
    const other =
      outcome.copy === 'primary'
        ? { at: row.offsiteCheckedAt, error: row.offsiteCheckError }
        : { at: row.primaryCheckedAt, error: row.primaryCheckError };
    const otherSound = (outcome.copy === 'offsite' || this.copies.hasOffsiteCopy(row)) && !!other.at && !other.error;
    const verdict = outcome.ok ? { verifiedAt: at } : otherSound ? {} : { verifyFailedAt: at };
    // A drill records its own verdict (BackupArchiveService.verify); only the copy's state is added here.
    await this.repo.update({ id: row.id }, found === 'restore drill' ? own : { ...own, ...verdict });
    this.state.invalidate();
    if (found === 'rolling verification')
      await this.audit.recordQuietly({
        actor: SYSTEM_ACTOR,
        action: 'backup.verify',
        resource: 'backup',
        resourceId: row.id,
        outcome: outcome.ok ? 'success' : 'failure',
        details: { deep: false, copy: outcome.copy, rolling: true, failed: outcome.problems.slice(0, 20) },
      });
    if (!outcome.ok) {
      this.logger.error(`backup ${row.id}: its ${outcome.copy} copy failed ${found}: ${error}`);
      alertCorrupt(this.notifications, row.id, outcome.copy, outcome.problems, outcome.parts, found);
    } else {
      await this.notifications.resolve(
        corruptKey(row.id, outcome.copy),
        `the ${outcome.copy} copy of backup ${row.id} passed ${found}`,
      );
    }
  }

  /**
   * Without restore drills, the tick deep-verifies the newest backup on DEEP_VERIFY_WEEKDAY, as
   * before drills existed; with them, the daily drill is that deep verification.
   */
  private async legacyDeepVerify(fireAt: Date, rows: BackupEntity[]): Promise<void> {
    if (this.config.DRILL_ENABLED || weekdayIn(fireAt, this.config.BACKUP_TIMEZONE) !== this.config.DEEP_VERIFY_WEEKDAY)
      return;
    const newest = rows.reduce<BackupEntity | null>((a, b) => (!a || b.createdAt > a.createdAt ? b : a), null);
    if (!newest) return;
    const result = await this.gate.run(() =>
      runAs(SYSTEM_ACTOR, () => this.archive.verify(newest.id, true)).catch((e: unknown) => ({
        ok: false,
        checks: [{ name: 'verify', ok: false, detail: safeErrorMessage(e) }],
      })),
    );
    if (!result.ok)
      this.notifications.notify({
        type: 'verify.failed',
        severity: 'critical',
        message: `Deep verification of backup ${newest.id} failed: ${failedChecks(result.checks).join('; ')}`,
        details: { backupId: newest.id, deep: true },
        // The verification's own alert key: a failure that threw (nothing verified) still alerts, once.
        key: backupCorruptKey(newest.id),
      });
  }

  private throttled(storage: BackupStorage): BackupStorage {
    return this.limiter ? new ThrottledStorage(storage, this.limiter) : storage;
  }
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

function weekdayIn(at: Date, timezone: string): number {
  const name = new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short' }).format(at);
  return ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(name);
}
