import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, In, Repository } from 'typeorm';
import { APP_VERSION } from '../app-version';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { Actor, SYSTEM_ACTOR } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { HeldLease, LeaseService, ownerAliveOnThisHost, PROCESS_OWNER } from '../database/lease.service';
import { Transactions } from '../database/transactions';
import type { BackupTrigger, BackupType, Compression } from '../engine/archive/manifest.types';
import { BackupProgress, writeBackup } from '../engine/backup/write-backup';
import type { BackupStorage } from '../engine/storage/storage';
import { BackupEntity } from './backup.entity';
import { BackupEvents, BackupFinishedEvent, finishedEvent } from './backup-events';
import { JobRegistry } from './backup-jobs';
import { toBackupView, BackupView } from './backup.view';
import { BackupCatalogService } from './backup-catalog.service';
import { completedFieldsFor } from './completed-fields';
import { BACKUP_STORAGE } from './storage.provider';
import { TargetDatabase } from './target-database';

export interface StartBackupInput {
  type: BackupType;
  tables?: string[];
  description?: string | null;
  tags?: string[];
  encrypt?: boolean;
  compression?: Compression;
  trigger: BackupTrigger;
  scheduleId?: string | null;
}

const PROGRESS_EVERY_MS = 1000;

/**
 * Runs backups as background jobs of this process: the request gets 202 at once, the job
 * holds the data lease (renewed while it works), reports progress, and ends `completed`
 * only after its manifest was stored and read back.
 */
@Injectable()
export class BackupsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Backups');
  private readonly jobs = new JobRegistry();

  constructor(
    @InjectRepository(BackupEntity) private readonly repo: Repository<BackupEntity>,
    @InjectDataSource() private readonly ds: DataSource,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    private readonly target: TargetDatabase,
    private readonly leases: LeaseService,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
    private readonly catalog: BackupCatalogService,
    private readonly config: AppConfig,
    @Optional() private readonly events?: BackupEvents,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.failOrphanedJobs();
    await this.catalog.rescan().catch((e: Error) => this.logger.error(`catalog rescan failed: ${e.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.jobs.cancelAll();
  }

  /** Validates, takes the lease (409 if held), records a pending backup and starts the job. */
  async start(input: StartBackupInput, actor: Actor = SYSTEM_ACTOR): Promise<BackupView> {
    const { dialect, tables } = await this.prepare(input);
    const lease = await this.leases.acquire(this.target.leaseName);
    if (!lease) {
      await dialect.close().catch(() => undefined);
      const holder = await this.leases.holder(this.target.leaseName);
      throw new DomainError(ErrorCode.Conflict, `another backup or restore of this database is running (${holder?.owner ?? 'unknown owner'})`);
    }
    const row = await this.record(input, tables, dialect, lease, actor).catch(async (e: unknown) => {
      await dialect.close().catch(() => undefined);
      await this.leases.release(lease).catch(() => undefined);
      throw e;
    });
    this.jobs.start(row.id, (signal) => this.run(row, dialect, lease, signal));
    return toBackupView(row);
  }

  /**
   * Runs a backup to its end inside an operation that already holds the data lease (a
   * recovery's safety backup): the lease is neither taken nor released here. Resolves with
   * the completed backup; rejects when it failed (the failure is recorded as usual).
   */
  async runUnderLease(input: StartBackupInput, lease: HeldLease, actor: Actor = SYSTEM_ACTOR, signal?: AbortSignal): Promise<BackupView> {
    const { dialect, tables } = await this.prepare(input);
    let row: BackupEntity;
    try {
      row = await this.record(input, tables, dialect, lease, actor);
    } catch (e) {
      await dialect.close().catch(() => undefined);
      throw e;
    }
    await this.run(row, dialect, lease, signal ?? new AbortController().signal, { releaseLease: false });
    const done = await this.catalog.get(row.id);
    if (done.status !== 'completed') throw new Error(`backup ${row.id} failed: ${done.error ?? 'unknown error'}`);
    return done;
  }

  private async prepare(input: StartBackupInput): Promise<{ dialect: ReturnType<TargetDatabase['dialect']>; tables: string[] }> {
    if (input.type === 'tables' && !input.tables?.length) {
      throw new DomainError(ErrorCode.InvalidInput, 'tables: type "tables" needs a non-empty tables list');
    }
    if (input.encrypt && !this.keysConfigured()) {
      throw new DomainError(ErrorCode.InvalidInput, 'encrypt: no encryption key is configured (BACKUP_ENCRYPTION_KEYS or BACKUP_ENCRYPTION_PASSPHRASE)');
    }
    const dialect = this.target.dialect(input.type);
    try {
      return { dialect, tables: await this.target.resolveTables(dialect, input.type, input.tables) };
    } catch (e) {
      await dialect.close().catch(() => undefined);
      throw e;
    }
  }

  private async record(input: StartBackupInput, tables: string[], dialect: ReturnType<TargetDatabase['dialect']>, lease: HeldLease, actor: Actor): Promise<BackupEntity> {
    const id = randomUUID();
    const encrypted = input.encrypt ?? this.keysConfigured();
    const row = this.repo.create({
      id, type: input.type, trigger: input.trigger, status: 'pending', scheduleId: input.scheduleId ?? null,
      description: input.description ?? null, tags: input.tags ?? [], pinned: false, createdAt: nowIso(),
      startedAt: null, finishedAt: null, sizeBytes: 0, rowCount: 0, tables: [], requestedTables: tables,
      files: { count: 0, bytes: 0 }, compression: input.compression ?? this.config.BACKUP_COMPRESSION, encrypted,
      keyId: null, checksum: null, verifiedAt: null, error: null,
      progress: { phase: 'pending', tablesDone: 0, tablesTotal: tables.length, rows: 0, bytes: 0 },
      storageDir: `backups/${id}`, engine: dialect.engine, owner: lease.owner,
    });
    await this.tx.run(async (m) => {
      await m.save(BackupEntity, row);
      await this.audit.record({ actor, action: 'backup.start', resource: 'backup', resourceId: id, outcome: 'success', details: { type: input.type, trigger: input.trigger, tables } }, m);
    });
    return row;
  }

  /** Resolves when this process's job for `id` has ended (tests, CLI). */
  waitFor(id: string): Promise<void> {
    return this.jobs.wait(id);
  }

  /** The configured level applies to the configured compression; a per-request choice uses its default. */
  private compressionLevel(compression: string): number | undefined {
    if (compression !== this.config.BACKUP_COMPRESSION || compression === 'none') return undefined;
    const level = this.config.BACKUP_COMPRESSION_LEVEL;
    return compression === 'gzip' && level !== undefined ? Math.min(level, 9) : level;
  }

  private keysConfigured(): boolean {
    return !!this.target.keys.keyring || !!this.target.keys.passphrase;
  }

  private async run(
    row: BackupEntity, dialect: ReturnType<TargetDatabase['dialect']>, lease: HeldLease, signal: AbortSignal,
    opts: { releaseLease: boolean } = { releaseLease: true },
  ): Promise<void> {
    // Under a borrowed lease the borrower renews it; renewing here too would be harmless but noisy.
    const renew = opts.releaseLease ? setInterval(() => {
      void this.leases.renew(lease).catch(() => undefined);
    }, (this.config.LEASE_TTL_SECONDS * 1000) / 3) : undefined;
    let lastProgress = 0;
    let finished: BackupFinishedEvent | null = null;
    try {
      await this.update(row.id, { status: 'running', startedAt: nowIso() });
      const manifest = await writeBackup(dialect, this.storage, {
        id: row.id, dir: row.storageDir, type: row.type, trigger: row.trigger, description: row.description, tags: row.tags,
        scheduleId: row.scheduleId, tables: row.requestedTables, fileRoots: row.type === 'full' ? this.config.BACKUP_FILE_PATHS : [],
        compression: row.compression as Compression,
        compressionLevel: this.compressionLevel(row.compression),
        keys: row.encrypted ? this.target.keys : { keyring: null, passphrase: null },
        // An unencrypted backup is still sealed, so it stays restorable where a key is configured.
        sealKeys: this.target.keys,
        appVersion: APP_VERSION, migrations: await this.migrations(), auditHead: await this.audit.head(),
        parallel: this.config.BACKUP_PARALLELISM, signal, createdAt: row.createdAt,
        onWarning: (message) => this.logger.warn(`backup ${row.id}: ${message}`),
        onProgress: (p: BackupProgress) => {
          const now = Date.now();
          if (now - lastProgress < PROGRESS_EVERY_MS && p.phase !== 'done') return;
          lastProgress = now;
          void this.update(row.id, { progress: p }).catch(() => undefined);
        },
      });
      await this.tx.run(async (m) => {
        await m.update(BackupEntity, { id: row.id }, completedFieldsFor(manifest));
        await this.audit.record({ actor: SYSTEM_ACTOR, action: 'backup.completed', resource: 'backup', resourceId: row.id, outcome: 'success', details: { sizeBytes: manifest.tables.reduce((s, t) => s + t.part.size, 0), tables: manifest.tables.length } }, m);
      });
      this.logger.log(`backup ${row.id} completed`);
      finished = finishedEvent(row, { kind: 'completed', sizeBytes: completedFieldsFor(manifest).sizeBytes, startedAt: manifest.startedAt, finishedAt: manifest.finishedAt });
    } catch (e) {
      const message = errorMessage(e);
      this.logger.error(`backup ${row.id} failed: ${message}`);
      await this.tx.run(async (m) => {
        await m.update(BackupEntity, { id: row.id }, { status: 'failed', error: message, finishedAt: nowIso(), owner: null });
        await this.audit.record({ actor: SYSTEM_ACTOR, action: 'backup.failed', resource: 'backup', resourceId: row.id, outcome: 'failure', details: { error: message } }, m);
      }).catch((err: Error) => this.logger.error(`could not record failure of ${row.id}: ${err.message}`));
      finished = finishedEvent(row, { kind: 'failed', finishedAt: nowIso(), error: message });
    } finally {
      clearInterval(renew);
      await dialect.close().catch(() => undefined);
      if (opts.releaseLease) await this.leases.release(lease).catch(() => undefined);
      // After the lease is free, so a listener may start the next job at once.
      if (finished) this.events?.emit(finished);
    }
  }

  private async update(id: string, patch: Partial<BackupEntity>): Promise<void> {
    await this.tx.run((m) => m.update(BackupEntity, { id }, patch));
  }

  private async migrations(): Promise<string[]> {
    if (!this.target.isServiceDatabase) return [];
    const rows: { name: string }[] = await this.ds.query(`SELECT name FROM strongroom_migrations ORDER BY id`);
    return rows.map((r) => r.name);
  }

  /**
   * At boot: jobs left pending/running by a process that is gone are marked failed and
   * their partial parts removed; stale leases are released.
   */
  async failOrphanedJobs(): Promise<number> {
    await this.leases.releaseStale(ownerAliveOnThisHost);
    const open = await this.repo.find({ where: { status: In(['pending', 'running']) } });
    let failed = 0;
    for (const row of open) {
      if (row.owner === PROCESS_OWNER) continue;
      const holder = await this.leases.holder(this.target.leaseName);
      if (row.owner && holder?.owner === row.owner && ownerAliveOnThisHost(row.owner)) continue;
      await this.storage.deletePrefix(row.storageDir).catch(() => undefined);
      await this.update(row.id, { status: 'failed', error: 'interrupted: the process running this backup stopped before it finished', finishedAt: nowIso(), owner: null });
      await this.audit.recordQuietly({ actor: SYSTEM_ACTOR, action: 'backup.failed', resource: 'backup', resourceId: row.id, outcome: 'failure', details: { error: 'interrupted' } });
      failed++;
    }
    return failed;
  }
}

function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  // Connection strings can carry passwords; never store or show them.
  return msg.replace(/(postgres(?:ql)?:\/\/[^:\s/]+:)[^@\s]+@/g, '$1***@').slice(0, 2000);
}
