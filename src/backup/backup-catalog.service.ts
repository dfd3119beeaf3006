import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { newestFirstPage, Page } from '../common/pagination';
import { Actor, SYSTEM_ACTOR } from '../common/request-context';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { isBackupId } from '../engine/archive/manifest';
import { MANIFEST_FILE } from '../engine/archive/manifest.types';
import { authenticateManifest } from '../engine/backup/backup-keys';
import { readManifest } from '../engine/backup/read-backup';
import type { BackupStorage } from '../engine/storage/storage';
import { BackupEntity } from './backup.entity';
import { BackupDetail, BackupView, toBackupDetail, toBackupView } from './backup.view';
import { completedFieldsFor } from './completed-fields';
import { BACKUP_STORAGE } from './storage.provider';
import { TargetDatabase } from './target-database';

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
  ) {}

  async list(f: BackupFilter, limit = 50, cursor?: string): Promise<Page<BackupView>> {
    const qb = this.repo.createQueryBuilder('b');
    if (f.status) qb.andWhere('b.status = :status', { status: f.status });
    if (f.type) qb.andWhere('b.type = :type', { type: f.type });
    if (f.trigger) qb.andWhere('b.trigger = :trigger', { trigger: f.trigger });
    // Tags are stored as a JSON array; match the quoted element.
    if (f.tag) qb.andWhere('b.tags LIKE :tag', { tag: `%${JSON.stringify(f.tag).replace(/[%_]/g, '')}%` });
    if (f.from) qb.andWhere('b.created_at >= :from', { from: new Date(f.from).toISOString() });
    if (f.to) qb.andWhere('b.created_at <= :to', { to: new Date(f.to).toISOString() });
    const { rows, nextCursor } = await newestFirstPage(qb, 'b', limit, cursor);
    return { items: rows.map(toBackupView), nextCursor };
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
    await this.entity(id);
    await this.tx.run((m) => m.update(BackupEntity, { id }, patch));
    return this.get(id);
  }

  /** Storage first, then the catalog: a crash in between leaves a row the rescan flags, never an orphaned archive. */
  async delete(
    id: string,
    actor: Actor = SYSTEM_ACTOR,
    opts: { reason?: string; force?: boolean } = {},
  ): Promise<void> {
    const row = await this.entity(id);
    if (row.pinned && !opts.force) throw new DomainError(ErrorCode.Conflict, `backup ${id} is pinned: unpin it first`);
    if (row.status === 'running' || row.status === 'pending')
      throw new DomainError(ErrorCode.Conflict, `backup ${id} is ${row.status}`);
    await this.storage.deletePrefix(row.storageDir);
    await this.tx.run(async (m) => {
      await m.delete(BackupEntity, { id });
      await this.audit.record(
        {
          actor,
          action: 'backup.delete',
          resource: 'backup',
          resourceId: id,
          outcome: 'success',
          details: { reason: opts.reason ?? 'requested', sizeBytes: row.sizeBytes },
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
  async rescan(): Promise<{ added: string[]; missing: string[]; skipped: { dir: string; reason: string }[] }> {
    const objects = await this.storage.list('backups/');
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
        const m = await readManifest(this.storage, dir);
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
    for (const row of known) {
      if (row.status === 'completed' && !dirs.has(row.storageDir)) {
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
    if (added.length || missing.length || skipped.length) {
      await this.audit.recordQuietly({
        actor: SYSTEM_ACTOR,
        action: 'backup.rescan',
        resource: 'backup',
        outcome: 'success',
        details: { added, missing, skipped: skipped.map((x) => x.dir) },
      });
    }
    return { added, missing, skipped };
  }
}
