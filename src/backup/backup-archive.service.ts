import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { createReadStream } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { currentActor } from '../common/request-scope';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { packArchive, unpackArchive } from '../engine/archive/archive-tar';
import { isArchiveError } from '../engine/archive/errors';
import { listParts, serializeManifest } from '../engine/archive/manifest';
import { MANIFEST_FILE } from '../engine/archive/manifest.types';
import { partKey } from '../engine/archive/part-io';
import { verifyBackup, verifyParts, VerifyCheck } from '../engine/backup/verify-backup';
import type { BackupStorage } from '../engine/storage/storage';
import { backupCorruptKey } from '../notifications/alert-keys';
import { NotificationsService } from '../notifications/notifications.service';
import { BackupEntity } from './backup.entity';
import { BackupCopies, type CopySource } from './backup-copies.service';
import type { BackupDetail } from './backup.view';
import { BackupCatalogService } from './backup-catalog.service';
import { completedFieldsFor } from './completed-fields';
import { BACKUP_STORAGE } from './storage.provider';
import { TargetDatabase } from './target-database';

export interface VerifyOutcome {
  ok: boolean;
  checks: VerifyCheck[];
  /** The copy the checks are of: the offsite one when the primary copy failed and the offsite one passed. */
  source: CopySource;
  primaryProblem: string | null;
}

/** Reading backups back: verification, download as one archive, and import of such an archive. */
@Injectable()
export class BackupArchiveService {
  private readonly logger = new Logger('BackupArchive');

  constructor(
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    private readonly catalog: BackupCatalogService,
    private readonly target: TargetDatabase,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
    private readonly copies: BackupCopies,
    // Absent in the command line, which raises no alerts.
    @Optional() private readonly notifications?: NotificationsService,
  ) {}

  /** Reads every stored byte; `deep` also restores into a scratch database and compares. */
  async verify(id: string, deep = false): Promise<VerifyOutcome> {
    const actor = currentActor();
    const row = await this.completed(id);
    const opts = { deep, scratchServerUrl: row.engine === 'postgres' ? this.target.sourceUrl(row.type) : undefined };
    // A verification that cannot even run (storage gone, scratch database refused) proves
    // nothing readable either: it counts as failed, so retention holds its hand.
    const attempt = (storage: BackupStorage): Promise<{ ok: boolean; checks: VerifyCheck[] }> =>
      verifyBackup(storage, row.storageDir, this.target.keys, opts).catch((e: unknown) => ({
        ok: false,
        checks: [{ name: 'verify', ok: false, detail: (e as Error).message }],
      }));
    let result = await attempt(this.storage);
    let source: CopySource = 'primary';
    let primaryProblem: string | null = null;
    if (!result.ok && this.copies.hasOffsiteCopy(row)) {
      // The primary copy failed: the backup is still sound if its offsite copy is.
      const offsite = await attempt(this.copies.offsite!);
      if (offsite.ok) {
        primaryProblem = result.checks
          .filter((c) => !c.ok)
          .map((c) => `${c.name}: ${c.detail ?? 'failed'}`)
          .join('; ');
        result = offsite;
        source = 'offsite';
        await this.copies.recordFallback(id, deep ? 'deep verify' : 'verify', primaryProblem, actor);
        this.copies.primaryCopyUnsound(id, primaryProblem, null);
      }
    }
    this.alertOnVerify(id, deep, result, source);
    await this.tx.run(async (m) => {
      // Both outcomes are kept: retention deletes nothing while the newest backup's last check failed.
      await m.update(BackupEntity, { id }, result.ok ? { verifiedAt: nowIso() } : { verifyFailedAt: nowIso() });
      await this.audit.record(
        {
          actor,
          action: 'backup.verify',
          resource: 'backup',
          resourceId: id,
          outcome: result.ok ? 'success' : 'failure',
          details: {
            deep,
            failed: result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? ''}`),
            ...(source === 'offsite' ? { source, primaryProblem } : {}),
          },
        },
        m,
      );
    });
    return { ok: result.ok, checks: result.checks, source, primaryProblem };
  }

  /** A failed verification is an alert naming the backup and what failed; a passing one resolves it. */
  private alertOnVerify(id: string, deep: boolean, result: { ok: boolean; checks: VerifyCheck[] }, source: CopySource) {
    if (!this.notifications) return;
    if (result.ok) {
      void this.notifications.resolve(backupCorruptKey(id), `backup ${id} passed ${deep ? 'deep ' : ''}verification`);
      if (source === 'primary') this.copies.primaryCopySound(id);
      return;
    }
    const failed = result.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`);
    this.notifications.notify({
      type: 'verify.failed',
      severity: 'critical',
      message: `${deep ? 'Deep verification' : 'Verification'} of backup ${id} failed: ${failed.join('; ')}`,
      details: { backupId: id, deep, failed },
      key: backupCorruptKey(id),
    });
  }

  /** The whole backup as one tar (parts, then the manifest), importable as it is. */
  async download(id: string): Promise<{ stream: Readable; filename: string; source: CopySource }> {
    const actor = currentActor();
    const row = await this.completed(id);
    const copy = await this.copies.choose(row, 'download', actor);
    return {
      stream: packArchive(copy.storage, row.storageDir),
      filename: `strongroom-${row.id}.tar`,
      source: copy.source,
    };
  }

  /**
   * Imports an archive from `download`: unpacked into quarantine, fully verified, and only
   * then moved into place and cataloged. A corrupt or foreign file is a 422 and nothing of
   * it is kept.
   */
  async import(file: string): Promise<BackupDetail> {
    const actor = currentActor();
    const quarantine = `quarantine/${randomUUID()}`;
    try {
      let manifest;
      try {
        manifest = await unpackArchive(createReadStream(file), this.storage, quarantine);
      } catch (e) {
        throw new DomainError(ErrorCode.Unprocessable, `not a valid Strongroom archive: ${(e as Error).message}`);
      }
      const v = await verifyParts(this.storage, quarantine, manifest, this.target.keys);
      if (!v.ok) {
        const bad = v.checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`);
        throw new DomainError(ErrorCode.Unprocessable, `archive failed verification: ${bad.join('; ')}`);
      }
      const exists = await this.catalog.entity(manifest.id).then(
        () => true,
        () => false,
      );
      if (exists) throw new DomainError(ErrorCode.Conflict, `backup ${manifest.id} is already in the catalog`);
      const dir = `backups/${manifest.id}`;
      // Parts first, manifest last: the same commit point as a backup written here.
      for (const name of listParts(manifest).map((p) => p.name)) {
        await this.storage.put(partKey(dir, name), await this.storage.get(partKey(quarantine, name)));
      }
      const { checksum: _checksum, ...body } = manifest;
      await this.storage.put(partKey(dir, MANIFEST_FILE), Readable.from([serializeManifest(body)]));
      const row = {
        id: manifest.id,
        type: manifest.type,
        trigger: 'import' as const,
        scheduleId: null,
        description: manifest.description,
        tags: manifest.tags,
        pinned: false,
        createdAt: nowIso(),
        verifiedAt: nowIso(),
        requestedTables: manifest.tables.map((t) => t.name),
        storageDir: dir,
        ...completedFieldsFor(manifest),
      } as BackupEntity;
      await this.tx.run(async (m) => {
        await m.save(BackupEntity, row);
        await this.audit.record(
          {
            actor,
            action: 'backup.import',
            resource: 'backup',
            resourceId: manifest.id,
            outcome: 'success',
            details: { originalTrigger: manifest.trigger },
          },
          m,
        );
      });
      return this.catalog.get(manifest.id);
    } catch (e) {
      if (isArchiveError(e)) throw new DomainError(ErrorCode.Unprocessable, e.message);
      throw e;
    } finally {
      await this.storage
        .deletePrefix(quarantine)
        .catch((err: Error) => this.logger.error(`could not clear ${quarantine}: ${err.message}`));
    }
  }

  private async completed(id: string): Promise<BackupEntity> {
    const row = await this.catalog.entity(id);
    if (row.status !== 'completed')
      throw new DomainError(ErrorCode.Conflict, `backup ${id} is ${row.status}, not completed`);
    return row;
  }
}
