import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, IsNull, Repository } from 'typeorm';
import { AuditInput, AuditService } from '../audit/audit.service';
import { MIGRATIONS_TABLE } from '../database/data-source-options';
import { Transactions } from '../database/transactions';
import { BackupEntity } from './backup.entity';

/**
 * The catalog queries behind the backup jobs' decisions, so that the services' branches can be
 * unit-tested with a fake of this class; the queries themselves run in the integration tests.
 */
@Injectable()
export class BackupCatalogRepository {
  constructor(
    @InjectRepository(BackupEntity) private readonly repo: Repository<BackupEntity>,
    @InjectDataSource() private readonly ds: DataSource,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
  ) {}

  /** Backups whose job has not recorded an end (pending or running). */
  openJobs(): Promise<BackupEntity[]> {
    return this.repo.find({ where: { status: In(['pending', 'running']) } });
  }

  /** A backup's status, or null when the catalog has no such backup. */
  async status(id: string): Promise<BackupEntity['status'] | null> {
    const row = await this.repo.findOne({ where: { id }, select: { id: true, status: true } });
    return row?.status ?? null;
  }

  /**
   * Ends an open job found orphaned and records its audit event, in one transaction; only if
   * the row is still as it was read (two instances sweeping at once end it once). False when
   * someone else ended or renewed it meanwhile.
   */
  endIfUnchanged(row: BackupEntity, patch: Partial<BackupEntity>, event: AuditInput): Promise<boolean> {
    return this.tx.run(async (m) => {
      const res = await m.update(
        BackupEntity,
        { id: row.id, status: row.status, heartbeatAt: row.heartbeatAt ?? IsNull() },
        { ...patch, owner: null },
      );
      if (!res.affected) return false;
      await this.audit.record(event, m);
      return true;
    });
  }

  /** Stored size of the newest completed backup of this type and engine: what the next one is expected to write. */
  async previousSize(type: string, engine: string | null): Promise<number | null> {
    const row = await this.repo.findOne({
      where: { status: 'completed', type: type as BackupEntity['type'], engine: engine ?? IsNull() },
      order: { createdAt: 'DESC', id: 'DESC' },
      select: { id: true, sizeBytes: true },
    });
    return row?.sizeBytes ?? null;
  }

  /** The service database's applied migrations, in order (recorded in each manifest). */
  async appliedMigrations(): Promise<string[]> {
    const rows: { name: string }[] = await this.ds.query(`SELECT name FROM ${MIGRATIONS_TABLE} ORDER BY id`);
    return rows.map((r) => r.name);
  }
}
