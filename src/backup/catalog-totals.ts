import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type {
  DataSource,
  EntitySubscriberInterface,
  InsertEvent,
  QueryRunner,
  RemoveEvent,
  TransactionCommitEvent,
  TransactionRollbackEvent,
  UpdateEvent,
} from 'typeorm';
import { AppConfig } from '../config/app-config';
import { TtlCache } from '../common/ttl-cache';
import { BackupEntity } from './backup.entity';

export interface CatalogTotalsView {
  count: number;
  totalBytes: number;
}

/**
 * How many backups the catalog holds and their stored bytes, for GET /api/status. Counting is
 * a scan of every catalog row (an index scan, but O(n) on both engines: 3–20 ms at 10,000
 * backups), so the totals are kept for STATUS_TOTALS_CACHE_SECONDS and dropped as soon as
 * this process inserts, deletes or changes the status or size of a backup (and again when
 * that transaction ends, so a read taken before the commit is not kept). A change made by
 * another instance, the CLI or plain SQL shows within that bound.
 *
 * Why not totals maintained in the catalog: every writer (job end, sweeper, delete, rescan,
 * import, retention, another process) would have to update them in the same transaction, and
 * one path missed would leave them wrong for good; a database trigger would do it for all
 * writers, but the catalog can share its database with the data Strongroom backs up, and
 * nothing of Strongroom's may live in (or be restored over) that. A bounded cache cannot drift.
 */
@Injectable()
export class CatalogTotals implements EntitySubscriberInterface<BackupEntity> {
  private readonly cache: TtlCache<CatalogTotalsView>;
  /** Transactions that changed the totals and have not ended yet. */
  private readonly open = new WeakSet<QueryRunner>();

  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    config: AppConfig,
  ) {
    this.cache = new TtlCache(() => this.count(), config.STATUS_TOTALS_CACHE_SECONDS * 1000);
    ds.subscribers.push(this);
  }

  get(): Promise<CatalogTotalsView> {
    return this.cache.get();
  }

  invalidate(): void {
    this.cache.invalidate();
  }

  listenTo(): typeof BackupEntity {
    return BackupEntity;
  }

  afterInsert(e: InsertEvent<BackupEntity>): void {
    this.changed(e.queryRunner);
  }

  afterRemove(e: RemoveEvent<BackupEntity>): void {
    this.changed(e.queryRunner);
  }

  /** Progress and heartbeat updates (many per running backup) leave the totals as they are. */
  afterUpdate(e: UpdateEvent<BackupEntity>): void {
    const set = e.entity as Partial<BackupEntity> | undefined;
    if (!set || 'status' in set || 'sizeBytes' in set) this.changed(e.queryRunner);
  }

  afterTransactionCommit(e: TransactionCommitEvent): void {
    if (this.open.delete(e.queryRunner)) this.invalidate();
  }

  afterTransactionRollback(e: TransactionRollbackEvent): void {
    if (this.open.delete(e.queryRunner)) this.invalidate();
  }

  private changed(qr: QueryRunner | undefined): void {
    this.invalidate();
    if (qr?.isTransactionActive) this.open.add(qr);
  }

  private async count(): Promise<CatalogTotalsView> {
    const [row] = (await this.ds.query(
      `SELECT COUNT(*) AS "n", SUM("size_bytes") AS "bytes" FROM "strongroom_backups"`,
    )) as { n: number | string; bytes: number | string | null }[];
    return { count: Number(row?.n ?? 0), totalBytes: Number(row?.bytes ?? 0) };
  }
}
