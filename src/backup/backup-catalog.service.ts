import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { Page } from '../common/pagination';
import { SYSTEM_ACTOR } from '../common/request-context';
import { currentActor } from '../common/request-scope';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { isBackupId } from '../engine/archive/manifest';
import { MANIFEST_FILE } from '../engine/archive/manifest.types';
import { authenticateManifest } from '../engine/backup/backup-keys';
import { readManifest } from '../engine/backup/read-backup';
import type { BackupStorage } from '../engine/storage/storage';
import { BackupEntity } from './backup.entity';
import { listBackupsJson } from './backup-rows';
import { BackupDetail, BackupView, toBackupDetail } from './backup.view';
import { BackupCopies } from './backup-copies.service';
import { partKey } from '../engine/archive/part-io';
import { completedFieldsFor } from './completed-fields';
import { BACKUP_STORAGE } from './storage.provider';
import { TargetDatabase } from './target-database';

export interface RescanResult {
  added: string[];
  missing: string[];
  skipped: { dir: string; reason: string }[];
  offsiteOnly: string[];
}

export interface BackupFilter {
  status?: string;
  type?: string;
  trigger?: string;
  tag?: string;
  from?: string;
  to?: string;
}

/** The catalog: queries, edits, deletion, stats, and the rescan that rebuilds it from storage. */
@Injectable()
export class BackupCatalogService {
  private readonly logger = new Logger('BackupCatalog');

  constructor(
    @InjectRepository(BackupEntity) private readonly repo: Repository<BackupEntity>,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
    private readonly target: TargetDatabase,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly copies: BackupCopies,
  ) {}

  /** A page of the list as the JSON text GET /api/backups answers (backup-rows.ts: the lean read path). */
  listJson(f: BackupFilter, limit = 50, cursor?: string): Promise<string> {
    return listBackupsJson(this.ds, f, limit, cursor);
  }

  /** The same page as objects (CLI, scheduler): one query and one cursor logic for both. */
  async list(f: BackupFilter, limit = 50, cursor?: string): Promise<Page<BackupView>> {
    return JSON.parse(await this.listJson(f, limit, cursor)) as Page<BackupView>;
  }

  async all(): Promise<BackupEntity[]> {
    return this.repo.find({ order: { createdAt: 'DESC' } });
  }

  async entity(id: string): Promise<BackupEntity> {
    const row = await this.repo.findOne({ where: { id } });
    if (!row) throw DomainError.notFound('backup', id);
    return row;
  }

  /** The resource with its inventory and exclusions (columns lists do not read). */
  async get(id: string): Promise<BackupDetail> {
    const row = await this.repo
      .createQueryBuilder('b')
      .addSelect(['b.inventory', 'b.excluded'])
      .where('b.id = :id', { id })
      .getOne();
    if (!row) throw DomainError.notFound('backup', id);
    return toBackupDetail(row);
  }

  async update(
    id: string,
    patch: { description?: string | null; tags?: string[]; pinned?: boolean },
  ): Promise<BackupDetail> {
    const row = await this.entity(id);
    const fields = (Object.keys(patch) as (keyof typeof patch)[]).filter((f) => patch[f] !== undefined);
    await this.tx.run(async (m) => {
      await m.update(BackupEntity, { id }, patch);
      // Pinning decides what retention may delete: who changed it, and from what, is on record.
      await this.audit.record(
        {
          action: 'backup.update',
          resource: 'backup',
          resourceId: id,
          outcome: 'success',
          details: {
            before: Object.fromEntries(fields.map((f) => [f, row[f]])),
            after: Object.fromEntries(fields.map((f) => [f, patch[f]])),
          },
        },
        m,
      );
    });
    return this.get(id);
  }

  /** Storage first, then the catalog: a crash in between leaves a row the rescan flags, never an orphaned archive. */
  async delete(id: string, opts: { reason?: string; force?: boolean } = {}): Promise<void> {
    const actor = currentActor();
    const row = await this.entity(id);
    if (row.pinned && !opts.force) throw new DomainError(ErrorCode.Conflict, `backup ${id} is pinned: unpin it first`);
    if (row.status === 'running' || row.status === 'pending')
      throw new DomainError(ErrorCode.Conflict, `backup ${id} is ${row.status}`);
    const { offsite } = await this.copies.deleteEverywhere(row);
    await this.tx.run(async (m) => {
      await m.delete(BackupEntity, { id });
      await this.audit.record(
        {
          actor,
          action: 'backup.delete',
          resource: 'backup',
          resourceId: id,
          outcome: 'success',
          details: {
            reason: opts.reason ?? 'requested',
            sizeBytes: row.sizeBytes,
            ...(offsite ? { offsite: true } : {}),
          },
        },
        m,
      );
    });
  }

  async stats() {
    const rows: {
      status: string;
      n: number | string;
      bytes: number | string | null;
      oldest: string | null;
      newest: string | null;
    }[] = await this.repo
      .createQueryBuilder('b')
      .select('b.status', 'status')
      .addSelect('COUNT(*)', 'n')
      .addSelect('SUM(b.size_bytes)', 'bytes')
      .addSelect('MIN(b.created_at)', 'oldest')
      .addSelect('MAX(b.created_at)', 'newest')
      .groupBy('b.status')
      .getRawMany();
    const byStatus: Record<string, number> = { pending: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
    let count = 0;
    let totalBytes = 0;
    let oldest: string | null = null;
    let newest: string | null = null;
    for (const r of rows) {
      byStatus[r.status] = Number(r.n);
      count += Number(r.n);
      totalBytes += Number(r.bytes ?? 0);
      if (r.oldest && (!oldest || r.oldest < oldest)) oldest = r.oldest;
      if (r.newest && (!newest || r.newest > newest)) newest = r.newest;
    }
    return { count, totalBytes, oldest, newest, byStatus };
  }

  /**
   * Storage is the truth: catalog every manifest the catalog lacks (a lost or rebuilt
   * database), and flag completed rows whose manifest has gone. But storage is also where an
   * attacker with write access plants things: a manifest is catalogued only if it lies in
   * `backups/<its own id>/` and authenticates under the configured key (backup-keys.ts);
   * anything else is reported in `skipped` with the reason, and left alone.
   */
  async rescan(from: 'primary' | 'offsite' = 'primary'): Promise<RescanResult> {
    const storage = from === 'offsite' ? this.copies.offsite : this.storage;
    if (!storage)
      throw new DomainError(ErrorCode.InvalidInput, 'from: no offsite storage is configured (OFFSITE_STORAGE)');
    const objects = await storage.list('backups/');
    const dirs = new Set(
      objects.filter((o) => o.key.endsWith(`/${MANIFEST_FILE}`)).map((o) => o.key.slice(0, -MANIFEST_FILE.length - 1)),
    );
    const known = await this.repo.find();
    const byDir = new Map(known.map((r) => [r.storageDir, r]));
    const added: string[] = [];
    const skipped: { dir: string; reason: string }[] = [];
    for (const dir of dirs) {
      if (byDir.has(dir)) continue;
      const name = dir.slice('backups/'.length);
      if (!isBackupId(name)) {
        skipped.push({
          dir: dir.slice(0, 300),
          reason: 'not a backup directory: backups/<backup id> holds a manifest, and this name is not a backup id',
        });
        continue;
      }
      try {
        const m = await readManifest(storage, dir);
        if (m.id !== name) throw new Error(`its manifest is of backup ${m.id}, not ${name}`);
        await authenticateManifest(this.target.keys, m);
        await this.tx.run((tx) =>
          tx.save(
            BackupEntity,
            this.repo.create({
              id: m.id,
              type: m.type,
              trigger: m.trigger,
              scheduleId: m.scheduleId,
              description: m.description,
              tags: m.tags,
              pinned: false,
              createdAt: m.createdAt,
              verifiedAt: null,
              requestedTables: m.tables.map((t) => t.name),
              storageDir: dir,
              ...completedFieldsFor(m),
              // Found in the offsite storage: that copy exists (the primary one may not).
              ...(from === 'offsite' ? { offsiteStatus: 'copied', offsiteAt: nowIso(), offsiteAttempts: 0 } : {}),
            } as BackupEntity),
          ),
        );
        added.push(m.id);
      } catch (e) {
        const reason = (e as Error).message.slice(0, 500);
        this.logger.warn(`rescan: skipped ${dir}: ${reason}`);
        skipped.push({ dir, reason });
      }
    }
    const missing: string[] = [];
    const offsiteOnly: string[] = [];
    // A rescan of the offsite storage only adds: the primary storage says what is missing.
    for (const row of from === 'primary' ? known : []) {
      if (row.status === 'completed' && !dirs.has(row.storageDir)) {
        if (await this.offsiteManifestExists(row)) {
          offsiteOnly.push(row.id);
          continue;
        }
        await this.tx.run((m) =>
          m.update(
            BackupEntity,
            { id: row.id },
            {
              status: 'failed',
              error: 'manifest missing from storage (found by rescan)',
              finishedAt: row.finishedAt ?? nowIso(),
            },
          ),
        );
        missing.push(row.id);
      }
    }
    if (added.length || missing.length || skipped.length || offsiteOnly.length) {
      await this.audit.recordQuietly({
        actor: SYSTEM_ACTOR,
        action: 'backup.rescan',
        resource: 'backup',
        outcome: 'success',
        details: { from, added, missing, skipped: skipped.map((x) => x.dir), offsiteOnly },
      });
    }
    return { added, missing, skipped, offsiteOnly };
  }

  /** Whether a backup whose primary copy is gone still has its offsite one (then it stays completed). */
  private async offsiteManifestExists(row: BackupEntity): Promise<boolean> {
    if (!this.copies.hasOffsiteCopy(row)) return false;
    // Unreachable offsite storage proves nothing missing: the row stays as it is.
    const stat = await this.copies.offsite!.stat(partKey(row.storageDir, MANIFEST_FILE)).catch(() => 'unknown');
    return stat !== null;
  }
}
