import { ScopesService } from '../scopes/scopes.service';
import type { ScopeRequestDto } from '../scopes/dto/scope.dto';
import type { ScopeRequest } from '../engine/scope/scope-backup';
import { checkScopeRequest } from './scope-request';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown, Optional } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { In } from 'typeorm';
import { APP_VERSION } from '../app-version';
import { AuditService } from '../audit/audit.service';
import { DomainError, ErrorCode } from '../common/domain-error';
import { ForegroundActivity } from '../common/foreground-activity';
import { safeErrorMessage } from '../common/redact';
import { estimateProgress } from '../common/progress-estimate';
import { Actor, SYSTEM_ACTOR } from '../common/request-context';
import { currentActor } from '../common/request-scope';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { LeaseEntity } from '../database/lease.entity';
import { LeaseKeeper } from '../database/lease-keeper';
import { HeldLease, LeaseService, ownerAliveOnThisHost } from '../database/lease.service';
import { Transactions } from '../database/transactions';
import type { BackupTrigger, BackupType, Compression } from '../engine/archive/manifest.types';
import { BackupProgress, writeBackup } from '../engine/backup/write-backup';
import type { BackupStorage } from '../engine/storage/storage';
import { BackupEntity } from './backup.entity';
import { BackupCatalogRepository } from './backup-catalog.repository';
import { EnginePort } from './engine.port';
import { BackupEvents, BackupFinishedEvent, finishedEvent } from './backup-events';
import { JobRegistry, orphanReason } from './backup-jobs';
import { JobSweeper } from './job-sweeper';
import { CancelWatch, JobCancelledError } from './job-cancel';
import { finishedRefusal, JobCancelCatalog } from './job-cancel-catalog';
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
  /** Type "scope": the scope as asked (a saved name or inline), resolved by ScopesService. */
  scope?: ScopeRequestDto;
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
  /** Running jobs of this process, so a cancel sent here stops them at once (job-cancel.ts). */
  private readonly watches = new Map<string, CancelWatch>();

  constructor(
    private readonly catalogRepo: BackupCatalogRepository,
    private readonly engine: EnginePort,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    private readonly target: TargetDatabase,
    private readonly leases: LeaseService,
    private readonly tx: Transactions,
    private readonly audit: AuditService,
    private readonly catalog: BackupCatalogService,
    private readonly config: AppConfig,
    private readonly sweeper: JobSweeper,
    private readonly cancels: JobCancelCatalog,
    private readonly scopes: ScopesService,
    @Optional() private readonly events?: BackupEvents,
    @Optional() private readonly foreground?: ForegroundActivity,
  ) {
    sweeper.register((staleBefore) => this.failOrphanedJobs(staleBefore));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.leases.releaseStale(ownerAliveOnThisHost);
    await this.failOrphanedJobs(this.sweeper.staleBefore());
    await this.catalog.rescan().catch((e: Error) => this.logger.error(`catalog rescan failed: ${e.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.jobs.cancelAll();
  }

  /** Validates, takes the lease (409 if held), records a pending backup and starts the job. */
  async start(input: StartBackupInput): Promise<BackupView> {
    // Who started it (request-scope.ts); the job itself carries it on.
    const actor = currentActor();
    const { dialect, tables, scope } = await this.prepare(input);
    const lease = await this.leases
      .acquireOrConflict(this.target.leaseName, () => this.sweeper.sweep())
      .catch(async (e: unknown) => {
        await dialect.close().catch(() => undefined);
        throw e;
      });
    const id = randomUUID();
    this.jobs.hold(id);
    const row = await this.record(id, input, tables, dialect, lease, actor, scope).catch(async (e: unknown) => {
      this.jobs.drop(id);
      await dialect.close().catch(() => undefined);
      await this.leases.release(lease).catch(() => undefined);
      throw e;
    });
    const watch = this.watchFor(row.id);
    this.jobs.start(row.id, (signal) => this.run(row, dialect, lease, signal, null, watch));
    return toBackupView(row);
  }

  /**
   * Runs a backup to its end inside an operation that already holds the data lease (a
   * recovery's safety backup): the lease is neither taken nor released here, and the
   * operation's keeper beats this backup's heartbeat too. Resolves with the completed backup;
   * rejects when it failed (the failure is recorded as usual). Cancelling the operation
   * (`parent`) cancels this backup too.
   */
  async runUnderLease(
    input: StartBackupInput,
    keeper: LeaseKeeper,
    actor: Actor = SYSTEM_ACTOR,
    signal?: AbortSignal,
    parent?: CancelWatch,
  ): Promise<BackupView> {
    const { dialect, tables, scope } = await this.prepare(input);
    const id = randomUUID();
    this.jobs.hold(id);
    let row: BackupEntity;
    try {
      row = await this.record(id, input, tables, dialect, keeper.lease, actor, scope);
    } catch (e) {
      this.jobs.drop(id);
      await dialect.close().catch(() => undefined);
      throw e;
    }
    try {
      await this.run(
        row,
        dialect,
        keeper.lease,
        signal ?? new AbortController().signal,
        keeper,
        this.watchFor(id),
        parent,
      );
    } finally {
      this.jobs.drop(id);
    }
    const done = await this.catalog.get(row.id);
    if (done.status !== 'completed') throw new Error(`backup ${row.id} failed: ${done.error ?? 'unknown error'}`);
    return done;
  }

  private async prepare(
    input: StartBackupInput,
  ): Promise<{ dialect: ReturnType<TargetDatabase['dialect']>; tables: string[]; scope: ScopeRequest | null }> {
    if (input.type !== 'scope' && input.scope)
      throw new DomainError(ErrorCode.InvalidInput, 'scope: only a backup of type "scope" takes a scope');
    const scope = input.type === 'scope' ? await this.scopes.resolve(input.scope) : null;
    if (input.type === 'tables' && !input.tables?.length) {
      throw new DomainError(ErrorCode.InvalidInput, 'tables: type "tables" needs a non-empty tables list');
    }
    if (input.type === 'files' && !this.config.BACKUP_FILE_PATHS.length) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        'type: a "files" backup needs file directories to back up, and BACKUP_FILE_PATHS lists none',
      );
    }
    if (input.encrypt && !this.keysConfigured()) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        'encrypt: no encryption key is configured (BACKUP_ENCRYPTION_KEYS or BACKUP_ENCRYPTION_PASSPHRASE)',
      );
    }
    const dialect = this.target.dialect(input.type);
    try {
      const tables = await this.target.resolveTables(dialect, input.type, input.tables);
      if (scope) await checkScopeRequest(dialect, tables, scope);
      return { dialect, tables, scope };
    } catch (e) {
      await dialect.close().catch(() => undefined);
      throw e;
    }
  }

  private async record(
    id: string,
    input: StartBackupInput,
    tables: string[],
    dialect: ReturnType<TargetDatabase['dialect']>,
    lease: HeldLease,
    actor: Actor,
    scope: ScopeRequest | null = null,
  ): Promise<BackupEntity> {
    const encrypted = input.encrypt ?? this.keysConfigured();
    const row: BackupEntity = {
      id,
      type: input.type,
      trigger: input.trigger,
      status: 'pending',
      scheduleId: input.scheduleId ?? null,
      description: input.description ?? null,
      tags: input.tags ?? [],
      pinned: false,
      createdAt: nowIso(),
      startedAt: null,
      finishedAt: null,
      sizeBytes: 0,
      rowCount: 0,
      tables: [],
      requestedTables: tables,
      files: { count: 0, bytes: 0 },
      compression: input.compression ?? this.config.BACKUP_COMPRESSION,
      encrypted,
      keyId: null,
      checksum: null,
      verifiedAt: null,
      error: null,
      progress: { phase: 'pending', tablesDone: 0, tablesTotal: tables.length, rows: 0, bytes: 0 },
      storageDir: `backups/${id}`,
      engine: dialect.engine,
      owner: lease.owner,
      heartbeatAt: nowIso(),
      scope: scope
        ? {
            name: scope.name ?? null,
            table: scope.table,
            keys: scope.keys as Record<string, string | number>[],
            exclude: scope.exclude ?? [],
            filesColumn: scope.filesColumn ?? null,
            members: {},
            context: {},
            warnings: [],
          }
        : null,
    };
    await this.tx.run(async (m) => {
      await m.save(BackupEntity, row);
      await this.audit.record(
        {
          actor,
          action: 'backup.create',
          resource: 'backup',
          resourceId: id,
          outcome: 'success',
          details: {
            type: input.type,
            trigger: input.trigger,
            tables,
            ...(scope ? { scope: { name: scope.name ?? null, table: scope.table, keys: scope.keys } } : {}),
          },
        },
        m,
      );
    });
    return row;
  }

  /** Resolves when this process's job for `id` has ended (tests, CLI). */
  waitFor(id: string): Promise<void> {
    return this.jobs.wait(id);
  }

  /**
   * Stops a pending or running backup: it ends `cancelled` and its parts are removed. Sent to
   * the instance running it, the job stops at once; sent to any other, the request is recorded
   * on the backup's row, where the running instance finds it within a second. 409 once the
   * backup has finished or is writing its manifest (its commit point).
   */
  async cancel(id: string): Promise<BackupView> {
    const actor = currentActor();
    const tooLate = `backup ${id} is past its commit point (its manifest is being written): it is too late to cancel it`;
    const watch = this.watches.get(id);
    if (watch) {
      const outcome = await watch.cancel(actor.name);
      if (outcome === 'committed') throw new DomainError(ErrorCode.Conflict, tooLate);
      if (outcome === 'finished') throw finishedRefusal('backup', id, 'ended');
      await this.cancels
        .note(BackupEntity, id, actor.name)
        .catch((e: Error) => this.logger.warn(`backup ${id}: could not note who cancelled it: ${e.message}`));
    } else {
      await this.cancels.request(BackupEntity, 'backup', id, actor.name, tooLate);
    }
    return toBackupView(await this.catalog.entity(id));
  }

  /** The job's cancel watch, polling its row for a cancel recorded by another instance. */
  private watchFor(id: string): CancelWatch {
    const watch = this.cancels.watch(BackupEntity, id, (e) =>
      this.logger.warn(`backup ${id}: could not look for a cancel request: ${e.message}`),
    );
    this.watches.set(id, watch);
    return watch;
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

  /**
   * The job itself. Without `borrowed` it owns the lease: it keeps it (and its heartbeat)
   * alive, and frees it at the end; under a borrowed keeper (a recovery's safety backup) the
   * borrower does, and only this row's heartbeat is added to its beats.
   */
  private async run(
    row: BackupEntity,
    dialect: ReturnType<TargetDatabase['dialect']>,
    lease: HeldLease,
    signal: AbortSignal,
    borrowed: LeaseKeeper | null,
    watch: CancelWatch,
    parent?: CancelWatch,
  ): Promise<void> {
    const lost = new AbortController();
    const keeper =
      borrowed ??
      this.leases.keepAlive(lease, {
        onLost: () => lost.abort(),
        onError: (e) =>
          this.logger.warn(
            `backup ${row.id}: could not renew its lease and heartbeat in the catalog database: ${e.message}`,
          ),
      });
    keeper.track(BackupEntity, row.id);
    watch.start();
    const jobSignal = AbortSignal.any([signal, lost.signal, watch.signal, ...(parent ? [parent.signal] : [])]);
    let lastProgress = 0;
    let finished: BackupFinishedEvent | null = null;
    let end: () => Promise<void>;
    try {
      await catalogStep('marking the backup running', () =>
        this.update(row.id, { status: 'running', startedAt: nowIso() }),
      );
      const migrations = await catalogStep('reading the applied migrations', () => this.migrations());
      const auditHead = await catalogStep('reading the audit head', () => this.audit.head());
      // Only an estimate for progress: its failure must not fail the backup.
      const expectedBytes = await this.catalogRepo.previousSize(row.type, row.engine).catch(() => null);
      const startedMs = Date.now();
      const auditCheckpoint = await catalogStep('reading the latest audit checkpoint', () =>
        this.audit.latestCheckpoint(),
      );
      const manifest = await writeBackup(dialect, this.storage, {
        id: row.id,
        dir: row.storageDir,
        type: row.type,
        trigger: row.trigger,
        description: row.description,
        tags: row.tags,
        scheduleId: row.scheduleId,
        tables: row.requestedTables,
        fileRoots:
          row.type === 'full' || row.type === 'files' || row.scope?.filesColumn ? this.config.BACKUP_FILE_PATHS : [],
        scope: row.scope ?? undefined,
        compression: row.compression as Compression,
        compressionLevel: this.compressionLevel(row.compression),
        keys: row.encrypted ? this.target.keys : { keyring: null, passphrase: null },
        // An unencrypted backup is still sealed, so it stays restorable where a key is configured.
        sealKeys: this.target.keys,
        appVersion: APP_VERSION,
        migrations,
        auditHead,
        auditCheckpoint,
        parallel: this.config.BACKUP_PARALLELISM,
        fullFormat: this.config.SQLITE_FULL_BACKUP_FORMAT,
        signal: jobSignal,
        pacer: this.foreground ?? null,
        beforeCommit: () =>
          watch.gate(
            () => this.cancels.claimCommit(BackupEntity, row.id),
            (e) => this.logger.warn(`backup ${row.id}: could not claim its commit in the catalog: ${e.message}`),
          ),
        createdAt: row.createdAt,
        onWarning: (message) => this.logger.warn(`backup ${row.id}: ${message}`),
        onProgress: (p: BackupProgress) => {
          const now = Date.now();
          if (now - lastProgress < PROGRESS_EVERY_MS && p.phase !== 'done') return;
          lastProgress = now;
          const bytes = estimateProgress(p.bytes, p.phase === 'done' ? p.bytes : expectedBytes, startedMs, now);
          void this.update(row.id, { progress: { ...p, ...bytes } }).catch(() => undefined);
        },
      });
      const fields = completedFieldsFor(manifest);
      end = () =>
        this.recordEnd(row, lease, !borrowed, fields, {
          action: 'backup.completed',
          outcome: 'success',
          details: { sizeBytes: fields.sizeBytes, tables: manifest.tables.length },
        });
      finished = finishedEvent(row, {
        kind: 'completed',
        sizeBytes: fields.sizeBytes,
        startedAt: manifest.startedAt,
        finishedAt: manifest.finishedAt,
      });
    } catch (e) {
      const cancelledBy = lost.signal.aborted ? null : cancellation(e, watch, parent);
      const message =
        cancelledBy !== null
          ? `cancelled by ${cancelledBy}; its parts were removed`
          : lost.signal.aborted
            ? 'stopped: its heartbeat had gone stale (the catalog database was unreachable) and the job was taken over; its parts were removed'
            : safeErrorMessage(e);
      if (cancelledBy !== null) this.logger.warn(`backup ${row.id} ${message}`);
      else this.logger.error(`backup ${row.id} failed: ${message}`);
      end = () =>
        this.recordEnd(
          row,
          lease,
          !borrowed,
          { status: cancelledBy !== null ? 'cancelled' : 'failed', error: message, finishedAt: nowIso(), owner: null },
          cancelledBy !== null
            ? { action: 'backup.cancelled', outcome: 'success', details: { cancelledBy, partsRemoved: true } }
            : { action: 'backup.failed', outcome: 'failure', details: { error: message } },
        );
      finished = finishedEvent(row, {
        kind: cancelledBy !== null ? 'cancelled' : 'failed',
        finishedAt: nowIso(),
        error: message,
      });
    } finally {
      if (borrowed) borrowed.untrack(row.id);
      else keeper.stop();
      watch.finish();
      await dialect.close().catch(() => undefined);
    }
    await this.jobs.recordEnd(row.id, end, (e) =>
      this.logger.error(
        `backup ${row.id}: the catalog database is unreachable, its end is recorded (and its lease freed) once it is back: ${e.message}`,
      ),
    );
    this.watches.delete(row.id);
    // After the lease is free, so a listener may start the next job at once.
    if (finished) this.events?.emit(finished);
  }

  /**
   * Writes a job's end and its audit event, and frees its lease (when it owns it) in the same
   * transaction, so that a job's end and its lease's release never part ways (an outage in
   * between would keep the lease until it expired). Unless the row is no longer this job's:
   * a sweep found it stale and ended it meanwhile; that outcome stands, recorded once.
   */
  private async recordEnd(
    row: BackupEntity,
    lease: HeldLease,
    freeLease: boolean,
    patch: Partial<BackupEntity>,
    event: { action: string; outcome: 'success' | 'failure'; details: Record<string, unknown> },
  ): Promise<void> {
    await catalogStep('recording the end of the backup', () =>
      this.tx.run(async (m) => {
        if (freeLease) await m.delete(LeaseEntity, { name: lease.name, owner: lease.owner });
        const res = await m.update(
          BackupEntity,
          { id: row.id, owner: lease.owner, status: In(['pending', 'running']) },
          patch,
        );
        if (!res.affected) {
          this.logger.warn(
            `backup ${row.id} had already been ended by a sweep; its own end (${patch.status}) is not recorded`,
          );
          return;
        }
        await this.audit.record(
          {
            actor: SYSTEM_ACTOR,
            action: event.action,
            resource: 'backup',
            resourceId: row.id,
            outcome: event.outcome,
            details: event.details,
          },
          m,
        );
      }),
    );
  }

  private async update(id: string, patch: Partial<BackupEntity>): Promise<void> {
    await this.tx.run((m) => m.update(BackupEntity, { id }, patch));
  }

  private async migrations(): Promise<string[]> {
    if (!this.target.isServiceDatabase) return [];
    return this.catalogRepo.appliedMigrations();
  }

  /**
   * Ends backups nobody runs any more (at boot, and from every sweep): a job of this process
   * that is no longer alive in it, one whose process on this host is gone, or one whose
   * heartbeat is older than `staleBefore`. Storage decides the outcome: a manifest that reads
   * back means the backup was whole (`completed`); otherwise its parts are removed and it is
   * `failed`. The lease it held is freed. Ends written here first: those of this process's own
   * jobs that the catalog could not take when they ended.
   */
  async failOrphanedJobs(staleBefore: string = this.sweeper.staleBefore()): Promise<number> {
    await this.jobs.recordDeferred();
    const open = await this.catalogRepo.openJobs();
    let ended = 0;
    for (const row of open) {
      const reason = orphanReason(row, staleBefore);
      if (reason && (await this.endOrphan(row, reason))) ended++;
    }
    return ended;
  }

  private async endOrphan(row: BackupEntity, reason: string): Promise<boolean> {
    const manifest = await this.engine.readManifest(this.storage, row.storageDir).catch(() => null);
    if (!manifest) await this.storage.deletePrefix(row.storageDir).catch(() => undefined);
    // A cancel asked for and not yet carried out ends it as cancelled: what was asked happened.
    const cancelledBy = row.cancelRequestedAt ? (row.cancelRequestedBy ?? 'unknown') : null;
    const error = cancelledBy
      ? `cancelled by ${cancelledBy} (and interrupted: ${reason}); its parts were removed`
      : `interrupted: ${reason} before the backup finished; its parts were removed`;
    const patch: Partial<BackupEntity> = manifest
      ? completedFieldsFor(manifest)
      : { status: cancelledBy ? 'cancelled' : 'failed', error, finishedAt: nowIso(), owner: null };
    const ended = await this.catalogRepo.endIfUnchanged(row, patch, {
      actor: SYSTEM_ACTOR,
      action: manifest ? 'backup.completed' : cancelledBy ? 'backup.cancelled' : 'backup.failed',
      resource: 'backup',
      resourceId: row.id,
      outcome: manifest ? 'success' : 'failure',
      details: manifest
        ? { reconciled: reason }
        : { error: 'interrupted', reason, ...(cancelledBy ? { cancelledBy } : {}) },
    });
    if (!ended) return false;
    if (row.owner) await this.leases.releaseOwner(row.owner);
    this.logger.warn(
      `backup ${row.id} ended as ${manifest ? 'completed (its manifest is stored)' : 'failed'}: ${reason}`,
    );
    this.events?.emit(
      manifest
        ? finishedEvent(row, {
            kind: 'completed',
            sizeBytes: patch.sizeBytes ?? 0,
            startedAt: manifest.startedAt,
            finishedAt: manifest.finishedAt,
          })
        : finishedEvent(row, { kind: cancelledBy ? 'cancelled' : 'failed', finishedAt: nowIso(), error }),
    );
    return true;
  }
}

/**
 * Who cancelled the job, when that is why it stopped (its own cancel, or the operation it
 * runs under); null when it failed for another reason (a shutdown included).
 */
function cancellation(e: unknown, watch: CancelWatch, parent?: CancelWatch): string | null {
  if (e instanceof JobCancelledError) return e.by;
  return watch.cancelledBy ?? parent?.cancelledBy ?? null;
}

/** Runs a step against the catalog database, so that its failure says so (not, say, storage). */
async function catalogStep<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new Error(`catalog database: ${what} failed: ${safeErrorMessage(e)}`, { cause: e });
  }
}
