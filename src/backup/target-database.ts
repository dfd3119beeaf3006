import { Injectable } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { AppConfig, dialectOptions } from '../config/app-config';
import { DomainError, ErrorCode } from '../common/domain-error';
import { keySourceFromConfig, KeySource } from '../engine/backup/backup-keys';
import { createDialect } from '../engine/dialects/create-dialect';
import type { Dialect } from '../engine/dialects/dialect';
import { AUDIT_TABLE, isBackedUpTable } from '../engine/backup/bookkeeping-tables';
import type { BackupType } from '../engine/archive/manifest.types';

/**
 * What is protected and with which keys, from configuration: the target database (by
 * default the service's own), and where the audit trail lives (the service database).
 */
@Injectable()
export class TargetDatabase {
  readonly keys: KeySource;

  constructor(private readonly config: AppConfig) {
    this.keys = keySourceFromConfig({
      keys: config.BACKUP_ENCRYPTION_KEYS,
      activeId: config.BACKUP_ENCRYPTION_KEY_ID,
      passphrase: config.BACKUP_ENCRYPTION_PASSPHRASE,
      allowUnauthenticated: config.ALLOW_UNAUTHENTICATED_ARCHIVES,
    });
  }

  get url(): string {
    return this.config.targetDatabaseUrl;
  }

  /** True when the target is the service's own database (the embedded default). */
  get isServiceDatabase(): boolean {
    return this.config.targetDatabaseUrl === this.config.DATABASE_URL;
  }

  /** Lease name for "one writer": per protected database, shared by backups and restores. */
  get leaseName(): string {
    return `data:${createHash('sha256').update(this.url).digest('hex').slice(0, 16)}`;
  }

  /** The database a backup of this type reads: the audit trail lives in the service database. */
  sourceUrl(type: BackupType): string {
    return type === 'audit' ? this.config.DATABASE_URL : this.url;
  }

  dialect(type: BackupType): Dialect {
    return createDialect(this.sourceUrl(type), dialectOptions(this.config));
  }

  /** The table names a backup covers; unknown names in a "tables" request are a 400 naming them. */
  async resolveTables(dialect: Dialect, type: BackupType, requested?: string[]): Promise<string[]> {
    if (type === 'audit') return [AUDIT_TABLE];
    // The file artefacts alone: no table is read.
    if (type === 'files') return [];
    const available = (await dialect.listTables()).map((t) => t.name).filter(isBackedUpTable);
    // A scope may reach any table: which ones it holds rows of is found in the snapshot.
    if (type === 'full' || type === 'scope') return available;
    const unknown = (requested ?? []).filter((t) => !available.includes(t));
    if (unknown.length) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        `tables: unknown table(s) ${unknown.join(', ')} (known: ${available.join(', ') || 'none'})`,
      );
    }
    return [...new Set(requested)];
  }
}
