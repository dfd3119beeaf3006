import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { safeErrorMessage } from '../common/redact';
import { Actor, SYSTEM_ACTOR } from '../common/request-context';
import { checkCopy } from '../engine/backup/backup-copy';
import type { BackupStorage } from '../engine/storage/storage';
import { backupCorruptKey, copyCorruptKey, primaryCopyKey } from '../notifications/alert-keys';
import { NotificationsService } from '../notifications/notifications.service';
import type { BackupEntity } from './backup.entity';
import { BACKUP_STORAGE, OFFSITE_STORAGE } from './storage.provider';

export type CopySource = 'primary' | 'offsite';

export interface ChosenCopy {
  storage: BackupStorage;
  source: CopySource;
  /** What is wrong with the primary copy when the offsite one is used; else null. */
  primaryProblem: string | null;
}

/**
 * A backup's two copies: the primary one (BACKUP_STORAGE) and the offsite one (OFFSITE_STORAGE).
 * Readers (download, restore) ask which copy to read: the primary one, unless it is missing or
 * corrupt and a sound offsite copy exists. Deleting a backup deletes both.
 */
@Injectable()
export class BackupCopies {
  private readonly logger = new Logger('BackupCopies');

  constructor(
    @Inject(BACKUP_STORAGE) readonly primary: BackupStorage,
    @Inject(OFFSITE_STORAGE) readonly offsite: BackupStorage | null,
    private readonly audit: AuditService,
    // Absent in the command line, which raises no alerts.
    @Optional() private readonly notifications?: NotificationsService,
  ) {}

  /** Whether the backup has an offsite copy to fall back to. */
  hasOffsiteCopy(row: Pick<BackupEntity, 'offsiteStatus'>): boolean {
    return !!this.offsite && row.offsiteStatus === 'copied';
  }

  /**
   * The copy to read. With an offsite copy to fall back to, the primary copy is first checked
   * against its manifest's checksums (every stored byte read once), so that a missing or
   * corrupt part is found before anything is written, not half-way through; the fallback is
   * audited. Without one, the primary copy is read as it is (and its reader finds any fault).
   * `sizesOnly` makes the check of the primary copy cheap (missing or truncated parts only),
   * for a request that must answer at once; the job then checks fully before it writes.
   */
  async choose(
    row: BackupEntity,
    purpose: string,
    actor: Actor = SYSTEM_ACTOR,
    opts: { sizesOnly?: boolean } = {},
  ): Promise<ChosenCopy> {
    const primary: ChosenCopy = { storage: this.primary, source: 'primary', primaryProblem: null };
    if (!this.offsite || !this.hasOffsiteCopy(row)) return primary;
    const own = await checkCopy(this.primary, row.storageDir, opts);
    if (own.ok) {
      // A full check found it whole again (repaired, or a transient read error): the alert clears.
      if (!opts.sizesOnly) this.primaryCopySound(row.id);
      return primary;
    }
    const other = await checkCopy(this.offsite, row.storageDir);
    this.primaryCopyUnsound(row.id, own.problem, other.ok ? null : other.problem);
    if (!other.ok) {
      // Neither copy is whole: read the primary one, whose reader then names what is wrong.
      this.logger.error(
        `backup ${row.id}: both copies are unsound (primary: ${own.problem}; offsite: ${other.problem})`,
      );
      return { ...primary, primaryProblem: own.problem };
    }
    this.logger.warn(
      `backup ${row.id}: the primary copy is unsound (${own.problem}); ${purpose} uses the offsite copy`,
    );
    await this.recordFallback(row.id, purpose, own.problem, actor);
    return { storage: this.offsite, source: 'offsite', primaryProblem: own.problem };
  }

  /**
   * Alerts that the primary copy of a backup is missing or corrupt (`offsiteProblem` null: the
   * offsite copy is sound and reads use it). Fire and forget, like every notification.
   */
  primaryCopyUnsound(id: string, problem: string, offsiteProblem: string | null): void {
    this.notifications?.notify({
      type: 'backup.copy-unsound',
      severity: offsiteProblem === null ? 'error' : 'critical',
      message:
        offsiteProblem === null
          ? `The primary copy of backup ${id} is unsound (${problem}); reads use its offsite copy`
          : `Both copies of backup ${id} are unsound: primary: ${problem}; offsite: ${offsiteProblem}`,
      details: { backupId: id, primaryProblem: problem.slice(0, 1000), offsiteProblem },
      key: primaryCopyKey(id),
    });
  }

  primaryCopySound(id: string): void {
    void this.notifications?.resolve(primaryCopyKey(id), `the primary copy of backup ${id} checks out again`);
  }

  async recordFallback(
    id: string,
    purpose: string,
    primaryProblem: string,
    actor: Actor = SYSTEM_ACTOR,
  ): Promise<void> {
    await this.audit.recordQuietly({
      actor,
      action: 'backup.offsite-fallback',
      resource: 'backup',
      resourceId: id,
      outcome: 'success',
      details: { purpose, primaryProblem: primaryProblem.slice(0, 1000), offsite: this.offsite?.location ?? null },
    });
  }

  /**
   * Removes the backup from both storages: the offsite copy first, so that a failure there
   * (storage unreachable) leaves a copied backup whole where it was, to be deleted on a later
   * try, instead of an offsite copy no catalog row knows of (a rescan from offsite would bring it back).
   */
  async deleteEverywhere(
    row: Pick<BackupEntity, 'id' | 'storageDir' | 'offsiteStatus'>,
  ): Promise<{ offsite: boolean }> {
    if (this.offsite) {
      try {
        await this.offsite.deletePrefix(row.storageDir);
      } catch (e) {
        // Never copied (or a copy that failed before its manifest, which nothing reads as a
        // backup): an unreachable offsite storage must not keep the primary copy forever.
        if (row.offsiteStatus !== 'copied' && row.offsiteStatus !== 'pending') {
          this.logger.warn(`backup ${row.id}: offsite storage unreachable, parts of a failed copy may remain there`);
          await this.primary.deletePrefix(row.storageDir);
          return { offsite: false };
        }
        throw new DomainError(
          ErrorCode.Unavailable,
          `backup ${row.id}: its offsite copy could not be deleted (${safeErrorMessage(e)}); nothing was deleted, try again once the offsite storage is reachable`,
        );
      }
    }
    await this.primary.deletePrefix(row.storageDir);
    // Nothing is left to be wrong with: its alerts close.
    for (const key of [
      primaryCopyKey(row.id),
      backupCorruptKey(row.id),
      copyCorruptKey(row.id, 'primary'),
      copyCorruptKey(row.id, 'offsite'),
    ])
      void this.notifications?.resolve(key, `backup ${row.id} was deleted`);
    return { offsite: !!this.offsite };
  }
}
