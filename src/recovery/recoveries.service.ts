import { ScopesService } from '../scopes/scopes.service';
import type { ScopeRequestDto } from '../scopes/dto/scope.dto';
import { RestoreError } from '../engine/restore/restore-error';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { BackupCopies, ChosenCopy } from '../backup/backup-copies.service';
import { EnginePort } from '../backup/engine.port';
import { JobRegistry, orphanReason } from '../backup/backup-jobs';
import { JobSweeper } from '../backup/job-sweeper';
import { CancelWatch, JobCancelledError } from '../backup/job-cancel';
import { finishedRefusal, JobCancelCatalog } from '../backup/job-cancel-catalog';
import { BackupsService } from '../backup/backups.service';
import { BACKUP_STORAGE } from '../backup/storage.provider';
import { TargetDatabase } from '../backup/target-database';
import { DomainError, ErrorCode } from '../common/domain-error';
import { Page } from '../common/pagination';
import { safeErrorMessage } from '../common/redact';
import { Actor, SYSTEM_ACTOR } from '../common/request-context';
import { currentActor } from '../common/request-scope';
import { AppConfig, dialectOptions } from '../config/app-config';
import { isArchiveError } from '../engine/archive/errors';
import { nowIso } from '../database/columns';
import { HeldLease, LeaseService, ownerAliveOnThisHost } from '../database/lease.service';
import { Transactions } from '../database/transactions';
import { recoverInterruptedFileRestores } from '../engine/backup/file-restore-journal';
import type { DryRunResult, RestoreMode, RestoreTableResult } from '../engine/dialects/dialect';
import type { BackupStorage } from '../engine/storage/storage';
import { CountingStorage } from '../engine/storage/counting-storage';
import { estimateProgress } from '../common/progress-estimate';
import { interruptedOutcome } from './interrupted-outcome';
import { RecoveryEntity } from './recovery.entity';
import { RecoveryRepository } from './recovery.repository';
import {
  assertConfirmed,
  prepareRecovery,
  PreparedRecovery,
  RecoveryRequest,
  rollbackPhrase,
} from './recovery-request';
import { RecoveryProgress, RecoveryView, toRecoveryView } from './recovery.view';
import { commitResolver, FileCommit, type FilesAfterFailure } from './file-commit';
import {
  checkScopeMoves,
  checkTables,
  describeIssues,
  dryRunTables,
  restoreTables,
  rowTotal,
} from '../engine/restore/restore-backup';

/** Who wants to know when a restore starts and ends (maintenance mode); a hook's failure never stops a restore. */
export interface RecoveryLifecycleHook {
  started(id: string): Promise<unknown>;
  ended(id: string): Promise<unknown>;
}

export interface StartRecoveryInput {
  backupId: string;
  mode?: RestoreMode;
  tables?: string[];
  confirm?: string;
  safetyBackup?: boolean;
  allowSchemaMismatch?: boolean;
  /** Restore file artefacts too; default as in prepareRecovery. */
  files?: boolean;
  /** A scoped backup's scope (checked against it); absent: the backup's own. */
  scope?: ScopeRequestDto;
  /** Restore rows of the scoped backup that now belong to another scope (moves them back). */
  allowScopeMoves?: boolean;
}

/**
 * Restores backups into the target database as background jobs. A recovery holds the data
 * lease from start to end (no backup or other restore runs meanwhile), takes a safety backup
 * of the tables in scope under that lease, then restores all tables in one transaction
 * (the dialect's restore) and, for a whole-backup replace, the file artefacts after the
 * database committed. Every recovery is bracketed by recovery.execute (recovery.rollback for a rollback) and
 * recovery.completed / recovery.failed audit events.
 */
@Injectable()
export class RecoveriesService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Recoveries');
  private readonly jobs = new JobRegistry();
  /**
   * Progress lives in memory: while a restore writes the service's own SQLite file, the
   * service must not write it (the restore holds the write lock), so progress is not stored.
   */
  private readonly progress = new Map<string, RecoveryProgress>();
  /** Running recoveries of this process, so a cancel sent here stops them at once (job-cancel.ts). */
  private readonly watches = new Map<string, CancelWatch>();
  readonly lifecycle: RecoveryLifecycleHook[] = [];

  constructor(
    private readonly repo: RecoveryRepository,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    private readonly catalog: BackupCatalogService,
    private readonly backups: BackupsService,
    private readonly target: TargetDatabase,
    private readonly leases: LeaseService,
    private readonly tx: Transactions,
    private readonly config: AppConfig,
    private readonly sweeper: JobSweeper,
    private readonly engine: EnginePort,
    private readonly copies: BackupCopies,
    private readonly cancels: JobCancelCatalog,
    private readonly scopes: ScopesService,
  ) {
    sweeper.register((staleBefore) => this.failInterrupted(staleBefore));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.leases.releaseStale(ownerAliveOnThisHost);
    // Files first: a restore killed between its database commit and its swap is rolled
    // forward here, so the recovery reconciled next is truly complete when it says so.
    await this.recoverInterruptedFileRestores();
    await this.failInterrupted(this.sweeper.staleBefore());
    await this.dropAbandonedRestoreData();
  }

  /** Settles prepared file journals by asking the target database their restore wrote to. */
  private commitResolver() {
    return commitResolver([this.target.sourceUrl('full'), this.target.sourceUrl('audit')], dialectOptions(this.config));
  }

  /**
   * A file restore killed while staging or swapping directories leaves a journal beside them:
   * finish or undo it now (all directories new, or all old, as the tables are: a journal
   * prepared for a database commit is settled by asking the target whether that restore
   * committed) and drop staged and old copies, rather than leave the roots mixed until the next
   * file restore.
   */
  private async recoverInterruptedFileRestores(): Promise<void> {
    try {
      const r = await recoverInterruptedFileRestores(this.config.BACKUP_FILE_PATHS, {
        committed: this.commitResolver(),
      });
      for (const u of r.undecided)
        this.logger.error(`interrupted file restore of recovery ${u.commitId} left staged: ${u.why}`);
      if (r.completed.length)
        this.logger.warn(
          `completed ${r.completed.length} interrupted file restore(s): the file directories hold the restored files`,
        );
      if (r.rolledBack.length)
        this.logger.warn(
          `rolled back ${r.rolledBack.length} interrupted file restore(s): the file directories are as they were before`,
        );
      if (r.removed.length)
        this.logger.warn(`removed ${r.removed.length} staged or old copies left by interrupted file restores`);
      if (r.busy.length) this.logger.warn(`file restore(s) ${r.busy.join(', ')} of another running process left alone`);
    } catch (err) {
      this.logger.error(`could not recover interrupted file restores: ${(err as Error).message}`);
    }
  }

  /**
   * A restore killed mid-way can leave loaded shadow tables behind (PostgreSQL), as large as
   * the tables it was restoring: free that space at start, not only at the next restore. The
   * target may be unreachable at boot; that must not stop the service.
   */
  private async dropAbandonedRestoreData(): Promise<void> {
    const dialect = this.target.dialect('full');
    try {
      await dialect.dropAbandonedRestoreData?.();
    } catch (err) {
      this.logger.warn(`could not look for data left by interrupted restores: ${(err as Error).message}`);
    } finally {
      await dialect.close().catch(() => undefined);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.jobs.cancelAll();
  }

  /**
   * Dry run: per-table counts of what the restore would do, what would stop it (blockers) and
   * what it would change beyond the tables asked for (warnings); nothing is written.
   */
  async plan(input: StartRecoveryInput): Promise<{ plan: DryRunResult }> {
    const mode = input.mode ?? 'replace';
    const prepared = await this.prepare({
      backupId: input.backupId,
      mode,
      tables: input.tables,
      allowSchemaMismatch: input.allowSchemaMismatch ?? false,
      files: input.files,
    });
    try {
      await this.checkScope(prepared, input.scope);
      // A scoped restore with its files: the plan lists the files it would write and remove.
      const scopeFiles =
        prepared.files && prepared.manifest.scope ? { roots: prepared.manifest.files.roots } : undefined;
      const { tables, blockers, warnings, files } = await this.inWriteTurn(prepared, () =>
        dryRunTables(prepared.dialect, {
          ...this.spec(prepared, mode),
          allowScopeMoves: input.allowScopeMoves,
          scopeFiles,
        }),
      );
      return { plan: { tables, blockers, warnings, ...(files ? { files } : {}) } };
    } catch (e) {
      if (e instanceof RestoreError || e instanceof DomainError) throw e;
      throw new DomainError(ErrorCode.Conflict, `dry run of backup ${input.backupId} failed: ${safeErrorMessage(e)}`);
    } finally {
      await prepared.dialect.close().catch(() => undefined);
    }
  }

  /** Validates, checks the confirmation phrase, takes the data lease (409 if held), records and starts the job. */
  async start(input: StartRecoveryInput): Promise<RecoveryView> {
    // Who asked (request-scope.ts), captured here: the job runs long after and records as them.
    const actor = currentActor();
    const mode = input.mode ?? 'replace';
    const backup = await this.catalog.entity(input.backupId);
    if (backup.status === 'completed') assertConfirmed(mode, backup.id, input.confirm);
    return this.launch(
      {
        backupId: input.backupId,
        mode,
        tables: input.tables,
        allowSchemaMismatch: input.allowSchemaMismatch ?? false,
        files: input.files,
      },
      {
        safetyBackup: input.safetyBackup ?? true,
        rollbackOf: null,
        scope: input.scope,
        allowScopeMoves: input.allowScopeMoves ?? false,
      },
      actor,
    );
  }

  /** Restores the safety backup taken before recovery `id` (replace, same tables) and marks it rolled_back. */
  async rollback(id: string, confirm: string | undefined): Promise<RecoveryView> {
    const actor = currentActor();
    const original = await this.entity(id);
    if (confirm !== rollbackPhrase(id)) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        `confirm: a rollback overwrites data; set confirm to exactly "${rollbackPhrase(id)}"`,
      );
    }
    if (original.status !== 'completed') {
      throw new DomainError(
        ErrorCode.Conflict,
        `recovery ${id} is ${original.status}; only a completed recovery can be rolled back`,
      );
    }
    if (!original.safetyBackupId) {
      throw new DomainError(
        ErrorCode.Conflict,
        `recovery ${id} ran without a safety backup: there is nothing to roll back to`,
      );
    }
    const safety = await this.catalog.entity(original.safetyBackupId).catch(() => {
      throw new DomainError(
        ErrorCode.Conflict,
        `the safety backup ${original.safetyBackupId} of recovery ${id} no longer exists`,
      );
    });
    const tables = safety.tables.map((t) => t.name).filter((t) => original.tables.includes(t));
    return this.launch(
      {
        backupId: safety.id,
        mode: 'replace',
        // A files-only recovery had no tables: its rollback restores the files alone.
        tables: original.tables.length ? tables : undefined,
        allowSchemaMismatch: false,
        files: original.options.files,
      },
      // Undoing its own restore: rows it moved into the scope go back where they were.
      { safetyBackup: true, rollbackOf: id, allowScopeMoves: true },
      actor,
    );
  }

  /** Resolves when this process's job for `id` has ended (tests, CLI). */
  waitFor(id: string): Promise<void> {
    return this.jobs.wait(id);
  }

  /**
   * Stops a pending or running recovery before its commit: the restore rolls back (the target
   * stays exactly as it was, staged files are removed) and it ends `cancelled`. Sent to the
   * instance running it, it stops at once; sent to any other, the request is recorded on the
   * recovery's row, where the running instance finds it within a second, or at the latest
   * when it claims its commit. 409 once it has finished, or once its restore committed: then
   * it is too late, and a rollback is the way back.
   */
  async cancel(id: string): Promise<RecoveryView> {
    const actor = currentActor();
    const tooLate = `recovery ${id} has already committed its restore: it is too late to cancel it; roll it back instead once it completed (POST /api/recoveries/${id}/rollback)`;
    const watch = this.watches.get(id);
    if (watch) {
      const outcome = await watch.cancel(actor.name);
      if (outcome === 'committed') throw new DomainError(ErrorCode.Conflict, tooLate);
      if (outcome === 'finished') throw finishedRefusal('recovery', id, 'ended');
      await this.cancels
        .note(RecoveryEntity, id, actor.name)
        .catch((e: Error) => this.logger.warn(`recovery ${id}: could not note who cancelled it: ${e.message}`));
    } else {
      await this.cancels.request(RecoveryEntity, 'recovery', id, actor.name, tooLate);
    }
    return this.get(id);
  }

  async entity(id: string): Promise<RecoveryEntity> {
    const row = await this.repo.find(id);
    if (!row) throw DomainError.notFound('recovery', id);
    return row;
  }

  async get(id: string): Promise<RecoveryView> {
    const row = await this.entity(id);
    return toRecoveryView(row, this.progressOf(id));
  }

  /** Live progress with bytes read of the backup, its stored size, and the time left once 10% is read. */
  private progressOf(id: string): RecoveryProgress | null {
    const p = this.progress.get(id);
    if (!p) return null;
    if (p.startedMs === undefined) return { ...p, etaSeconds: null };
    return { ...p, ...estimateProgress(p.bytesDone ?? 0, p.bytesTotal ?? null, p.startedMs, Date.now()) };
  }

  async list(filter: { status?: string; backupId?: string }, limit = 50, cursor?: string): Promise<Page<RecoveryView>> {
    const { rows, nextCursor } = await this.repo.page(filter, limit, cursor);
    return { items: rows.map((r) => toRecoveryView(r, this.progressOf(r.id))), nextCursor };
  }

  /**
   * The request checked against the backup and the target. The copy read is the primary one
   * unless it is missing or truncated and the offsite copy is whole (a quick check, so the
   * request answers at once; the job checks every byte before it writes, see `run`).
   */
  private async prepare(req: RecoveryRequest, actor: Actor = SYSTEM_ACTOR): Promise<PreparedRecovery & ChosenCopy> {
    const backup = await this.catalog.entity(req.backupId);
    const copy =
      backup.status === 'completed'
        ? await this.copies.choose(backup, 'restore', actor, { sizesOnly: true })
        : { storage: this.storage, source: 'primary' as const, primaryProblem: null };
    const prepared = await prepareRecovery(req, backup, {
      storage: copy.storage,
      keys: this.target.keys,
      urlFor: (type) => this.target.sourceUrl(type),
      dialect: dialectOptions(this.config),
      fileRoots: this.config.BACKUP_FILE_PATHS,
    });
    return { ...prepared, ...copy };
  }

  private async launch(
    req: RecoveryRequest,
    opts: {
      safetyBackup: boolean;
      rollbackOf: string | null;
      scope?: ScopeRequestDto;
      allowScopeMoves?: boolean;
    },
    actor: Actor,
  ): Promise<RecoveryView> {
    const prepared = await this.prepare(req, actor);
    await this.checkScope(prepared, opts.scope).catch(async (e: unknown) => {
      await prepared.dialect.close().catch(() => undefined);
      throw e;
    });
    const sc = prepared.manifest.scope;
    prepared.allowScopeMoves = opts.allowScopeMoves ?? false;
    await this.refuseBlocked(prepared, req.mode);
    await this.inWriteTurn(prepared, () =>
      checkScopeMoves(prepared.dialect, {
        ...this.spec(prepared, req.mode),
        allowScopeMoves: prepared.allowScopeMoves,
      }),
    ).catch(async (e: unknown) => {
      await prepared.dialect.close().catch(() => undefined);
      throw e;
    });
    const lease = await this.leases
      .acquireOrConflict(this.target.leaseName, () => this.sweeper.sweep())
      .catch(async (e: unknown) => {
        await prepared.dialect.close().catch(() => undefined);
        throw e;
      });
    const row: RecoveryEntity = {
      id: randomUUID(),
      backupId: prepared.backup.id,
      mode: req.mode,
      tables: prepared.tables,
      status: 'pending',
      safetyBackupId: null,
      rowsWritten: 0,
      createdAt: nowIso(),
      startedAt: null,
      finishedAt: null,
      error: null,
      options: {
        safetyBackup: opts.safetyBackup,
        allowSchemaMismatch: req.allowSchemaMismatch,
        files: prepared.files,
        requestedTables: req.tables ?? null,
        ...(prepared.source === 'offsite' ? { source: 'offsite' as const } : {}),
      },
      rollbackOf: opts.rollbackOf,
      rolledBackBy: null,
      requestedBy: actor.name,
      owner: lease.owner,
      heartbeatAt: nowIso(),
      commitToken: null,
      note: null,
      scope: sc
        ? {
            name: sc.name,
            table: sc.table,
            keys: sc.keys as Record<string, string | number>[],
            exclude: sc.exclude,
            allowScopeMoves: prepared.allowScopeMoves,
            rows: {},
          }
        : null,
    };
    this.jobs.hold(row.id);
    try {
      await this.repo.create(row, {
        actor,
        action: row.rollbackOf ? 'recovery.rollback' : 'recovery.execute',
        resource: 'recovery',
        resourceId: row.id,
        outcome: 'success',
        details: {
          backupId: row.backupId,
          mode: row.mode,
          tables: row.tables,
          files: prepared.files,
          safetyBackup: opts.safetyBackup,
          allowSchemaMismatch: req.allowSchemaMismatch,
          rollbackOf: opts.rollbackOf,
          ...(prepared.source === 'offsite' ? { source: 'offsite', primaryProblem: prepared.primaryProblem } : {}),
          ...(row.scope
            ? { scope: { table: row.scope.table, keys: row.scope.keys }, allowScopeMoves: prepared.allowScopeMoves }
            : {}),
        },
      });
    } catch (e) {
      this.jobs.drop(row.id);
      await prepared.dialect.close().catch(() => undefined);
      await this.leases.release(lease).catch(() => undefined);
      throw e;
    }
    this.progress.set(row.id, {
      phase: 'pending',
      table: null,
      rows: 0,
      bytesDone: 0,
      bytesTotal: prepared.backup.sizeBytes || null,
    });
    const watch = this.cancels.watch(RecoveryEntity, row.id, (e) =>
      this.logger.warn(`recovery ${row.id}: could not look for a cancel request: ${e.message}`),
    );
    this.watches.set(row.id, watch);
    // Maintenance begins before the job does: the target is read-only for new sessions before the restore writes.
    await this.announce('started', row.id);
    this.jobs.start(row.id, (signal) =>
      this.run(row, prepared, lease, signal, actor, watch).finally(() => this.announce('ended', row.id)),
    );
    return toRecoveryView(row, this.progressOf(row.id));
  }

  /**
   * Before anything is written: every byte of the primary copy against its checksums, when an
   * offsite copy could stand in for it; a primary copy found corrupt is replaced by the offsite
   * one for the whole restore (the same manifest, checked equal), and the recovery says so.
   */
  private async settleCopy(row: RecoveryEntity, prepared: PreparedRecovery & ChosenCopy, actor: Actor): Promise<void> {
    if (prepared.source === 'offsite' || !this.copies.hasOffsiteCopy(prepared.backup)) return;
    const copy = await this.copies.choose(prepared.backup, 'restore', actor);
    if (copy.source !== 'offsite') return;
    const manifest = await this.engine.readManifest(copy.storage, prepared.backup.storageDir);
    if (manifest.checksum !== prepared.manifest.checksum)
      throw new Error(
        `the primary copy is unsound (${copy.primaryProblem}) and the offsite copy holds another manifest`,
      );
    Object.assign(prepared, copy);
    row.options = { ...row.options, source: 'offsite' };
    await this.update(row.id, { options: row.options });
  }

  private async run(
    row: RecoveryEntity,
    prepared: PreparedRecovery & ChosenCopy,
    lease: HeldLease,
    signal: AbortSignal,
    actor: Actor,
    watch: CancelWatch,
  ): Promise<void> {
    const lost = new AbortController();
    const keeper = this.leases.keepAlive(lease, {
      onLost: () => lost.abort(),
      onError: (e) =>
        this.logger.warn(
          `recovery ${row.id}: could not renew its lease and heartbeat in the catalog database: ${e.message}`,
        ),
    });
    keeper.track(RecoveryEntity, row.id);
    watch.start();
    const jobSignal = AbortSignal.any([signal, lost.signal, watch.signal]);
    const progress: RecoveryProgress = this.progress.get(row.id) ?? { phase: 'pending', table: null, rows: 0 };
    let dbCommitted = false;
    let staged: FileCommit | null = null;
    let filesAfterFailure: FilesAfterFailure | null = null;
    let committedDespite: string | null = null;
    let end: () => Promise<void>;
    try {
      await this.update(row.id, { status: 'running', startedAt: nowIso() });
      await this.settleCopy(row, prepared, actor);
      // Bytes read of the backup from here on (the files, then the tables) are its progress.
      const reading = new CountingStorage(prepared.storage, (n) => {
        progress.startedMs ??= Date.now();
        progress.bytesDone = (progress.bytesDone ?? 0) + n;
      });
      prepared.storage = reading;
      if (row.options.safetyBackup) {
        progress.phase = 'safety-backup';
        const sc = prepared.manifest.scope;
        const safety = await this.backups.runUnderLease(
          {
            type: sc
              ? 'scope'
              : prepared.backup.type === 'audit' || prepared.backup.type === 'files'
                ? prepared.backup.type
                : prepared.files
                  ? 'full'
                  : 'tables',
            tables: prepared.tables,
            // A scoped restore's safety backup is the same scope, as it is now: nothing more.
            ...(sc
              ? {
                  scope: {
                    name: sc.name ?? undefined,
                    table: sc.table,
                    keys: sc.keys,
                    exclude: sc.exclude,
                    // With its files, so a rollback brings back the files this restore drops.
                    filesColumn: sc.filesColumn ?? undefined,
                  },
                }
              : {}),
            trigger: 'pre-restore',
            description: `safety backup before recovery ${row.id}`,
          },
          keeper,
          SYSTEM_ACTOR,
          jobSignal,
          watch,
        );
        row.safetyBackupId = safety.id;
        await this.update(row.id, { safetyBackupId: safety.id });
      }
      // The files are staged (extracted, checked, synced) before the tables commit: the
      // database commit is then the commit point of both (file-commit.ts).
      if (prepared.files) {
        progress.phase = 'files';
        staged = await FileCommit.stage(
          {
            storage: prepared.storage,
            dir: prepared.backup.storageDir,
            manifest: prepared.manifest,
            keys: this.target.keys,
          },
          {
            url: prepared.url,
            dialect: prepared.dialect,
            commitId: row.id,
            committed: this.commitResolver(),
            mode: row.mode,
            onWarning: (message) => this.logger.warn(`recovery ${row.id}: ${message}`),
          },
        );
      }
      // Right before writing: the lease must still be ours (a sweep elsewhere may have found us stale).
      if (!(await keeper.beat())) lost.abort();
      if (lost.signal.aborted) throw new Error('its lease was lost before the restore began');
      jobSignal.throwIfAborted();
      progress.phase = 'restoring';
      const total = rowTotal();
      const keepToken = (token: string) => this.update(row.id, { commitToken: token });
      let results: RestoreTableResult[] = [];
      try {
        results = await this.inWriteTurn(prepared, () =>
          restoreTables(prepared.dialect, {
            ...this.spec(prepared, row.mode),
            allowScopeMoves: prepared.allowScopeMoves,
            scopeFiles: staged?.scopeFiles(),
            signal: jobSignal,
            onProgress: (p) => {
              progress.table = p.table;
              progress.rows = total(p);
            },
            onWarning: (message) => this.logger.warn(`recovery ${row.id}: ${message}`),
            commitMarker: staged ? staged.marker(keepToken) : { id: row.id, onToken: keepToken },
            // The point of no return: a cancel recorded before it rolls the restore back. When the
            // restore writes the service's own SQLite file it holds that file's write lock: nobody
            // can record a cancel meanwhile, so reading the row is as good as a conditional write.
            commitGate: () =>
              watch.gate(
                prepared.url === this.config.DATABASE_URL && this.tx.engine === 'sqlite'
                  ? async () => !(await this.cancels.requestedBy(RecoveryEntity, row.id))
                  : () => this.cancels.claimCommit(RecoveryEntity, row.id),
                (e) => this.logger.warn(`recovery ${row.id}: could not claim its commit in the catalog: ${e.message}`),
              ),
          }),
        );
      } catch (e) {
        if (!staged) throw e;
        filesAfterFailure = await staged.afterFailure().catch(() => 'undecided' as const);
        if (filesAfterFailure !== 'committed') throw e;
        // The target shows the commit (the error came after it): tables and files are restored.
        committedDespite = safeErrorMessage(e);
      }
      dbCommitted = true;
      const rowsWritten = results.reduce((s, r) => s + r.rowsWritten, 0);
      row.rowsWritten = rowsWritten;
      const scopeEnd = row.scope
        ? { scope: { ...row.scope, rows: Object.fromEntries(results.map((r) => [r.name, r.rowsWritten])) } }
        : {};
      let files = null;
      if (staged) {
        progress.phase = 'files';
        files = filesAfterFailure === 'committed' ? staged.stats : await staged.afterCommit();
      }
      progress.phase = 'done';
      const notes = [
        prepared.source === 'offsite'
          ? `restored from the offsite copy (${this.copies.offsite?.location ?? 'offsite'}): the primary copy is unsound: ${prepared.primaryProblem}`
          : null,
        committedDespite
          ? `the restore reported an error after its commit (${committedDespite}); the target's commit proof shows it committed, and the file artefacts were swapped in`
          : null,
      ].filter((n): n is string => n !== null);
      const note = notes.length ? notes.join('; ') : null;
      end = () =>
        this.recordEnd(
          row,
          lease,
          { status: 'completed', rowsWritten, finishedAt: nowIso(), owner: null, error: null, note, ...scopeEnd },
          {
            action: 'recovery.completed',
            outcome: 'success',
            details: {
              backupId: row.backupId,
              rowsWritten,
              tables: results,
              files,
              safetyBackupId: row.safetyBackupId,
              note,
              source: prepared.source,
            },
          },
        );
      this.logger.log(`recovery ${row.id} completed (${rowsWritten} rows)`);
    } catch (e) {
      const cause = lost.signal.aborted
        ? `stopped: its heartbeat had gone stale and its lease was taken over (${safeErrorMessage(e)})`
        : safeErrorMessage(e);
      if (staged && !dbCommitted && filesAfterFailure === null) {
        // Failed before the table restore began (or in it, already settled above): nothing committed.
        await staged.discard().catch((e2: Error) => this.logger.warn(`recovery ${row.id}: ${e2.message}`));
      }
      const undecided = (filesAfterFailure as FilesAfterFailure | null) === 'undecided';
      // Cancelled only when nothing of the restore stayed: not committed, files settled.
      const cancelledBy =
        lost.signal.aborted || dbCommitted || undecided
          ? null
          : e instanceof JobCancelledError
            ? e.by
            : watch.cancelledBy;
      const message =
        cancelledBy !== null
          ? `cancelled by ${cancelledBy} before its commit; the restore was rolled back and the target is as it was${staged ? ' (staged file artefacts removed)' : ''}`
          : dbCommitted
            ? `the tables were restored (committed), but ${cause}`
            : undecided
              ? `${cause}; whether the restore committed could not be established, so its staged file artefacts were kept: the next start or file restore settles them with the tables`
              : cause;
      if (cancelledBy !== null) this.logger.warn(`recovery ${row.id} ${message}`);
      else this.logger.error(`recovery ${row.id} failed: ${message}`);
      end = () =>
        this.recordEnd(
          row,
          lease,
          {
            status: cancelledBy !== null ? 'cancelled' : 'failed',
            error: message,
            finishedAt: nowIso(),
            owner: null,
            rowsWritten: row.rowsWritten,
          },
          {
            action: cancelledBy !== null ? 'recovery.cancelled' : 'recovery.failed',
            outcome: cancelledBy !== null ? 'success' : 'failure',
            details: {
              backupId: row.backupId,
              error: message,
              tablesCommitted: dbCommitted,
              safetyBackupId: row.safetyBackupId,
              ...(cancelledBy !== null ? { cancelledBy, rolledBack: true } : {}),
            },
          },
        );
    } finally {
      keeper.stop();
      watch.finish();
      this.progress.delete(row.id);
      await prepared.dialect.close().catch(() => undefined);
    }
    await this.jobs.recordEnd(row.id, end, (e) =>
      this.logger.error(
        `recovery ${row.id}: the catalog database is unreachable, its end is recorded (and its lease freed) once it is back: ${safeErrorMessage(e)}`,
      ),
    );
    this.watches.delete(row.id);
  }

  private async announce(what: 'started' | 'ended', id: string): Promise<void> {
    for (const hook of this.lifecycle) {
      await hook[what](id).catch((e: unknown) =>
        this.logger.warn(`recovery ${id}: a ${what} hook failed: ${safeErrorMessage(e)}`),
      );
    }
  }

  /**
   * Writes a recovery's end (and, for a rollback, marks what it undid) and frees its lease, in
   * one transaction; unless the row is no longer this job's: a sweep ended it meanwhile, and
   * its outcome stands.
   */
  private async recordEnd(
    row: RecoveryEntity,
    lease: HeldLease,
    patch: Partial<RecoveryEntity>,
    event: { action: string; outcome: 'success' | 'failure'; details: Record<string, unknown> },
  ): Promise<void> {
    const recorded = await this.repo.endOwn(row, lease, patch, {
      actor: SYSTEM_ACTOR,
      action: event.action,
      resource: 'recovery',
      resourceId: row.id,
      outcome: event.outcome,
      details: event.details,
    });
    if (!recorded)
      this.logger.warn(
        `recovery ${row.id} had already been ended by a sweep; its own end (${patch.status}) is not recorded`,
      );
  }

  /**
   * A restore its checks say cannot succeed (Dialect.checkRestore: catalogs only, so cheap) is
   * refused before anything is recorded or written: 409, naming each blocker.
   */
  private async refuseBlocked(prepared: PreparedRecovery & ChosenCopy, mode: RestoreMode): Promise<void> {
    let checks;
    try {
      checks = await checkTables(prepared.dialect, this.spec(prepared, mode));
    } catch (e) {
      // A part that fails its checks fails the job itself, naming the part, with the target untouched (as before these checks).
      if (isArchiveError(e)) return;
      await prepared.dialect.close().catch(() => undefined);
      throw e;
    }
    if (!checks.blockers.length) return;
    await prepared.dialect.close().catch(() => undefined);
    throw new DomainError(
      ErrorCode.Conflict,
      `backup ${prepared.backup.id} cannot be restored into the target as asked, nothing was written: ${describeIssues(checks.blockers)}. A dry run lists these and the row-level ones.`,
      { blockers: checks.blockers, warnings: checks.warnings },
    );
  }

  /**
   * A scope in the request must be the scoped backup's own (a saved name resolves to its table);
   * a scope asked of a backup that is not scoped is refused: it holds no scope's member keys.
   */
  private async checkScope(p: PreparedRecovery, req: ScopeRequestDto | undefined): Promise<void> {
    if (!req) return;
    const sc = p.manifest.scope;
    if (!sc)
      throw new DomainError(
        ErrorCode.InvalidInput,
        `scope: backup ${p.backup.id} is a ${p.manifest.type} backup; a scoped restore needs a scoped backup (type "scope") of that scope`,
      );
    const asked = await this.scopes.resolve(req);
    const same = (a: Record<string, unknown>[]) => JSON.stringify(a.map((k) => JSON.stringify(k)).sort());
    if (asked.table !== sc.table || same(asked.keys) !== same(sc.keys))
      throw new DomainError(
        ErrorCode.InvalidInput,
        `scope: backup ${p.backup.id} holds the scope ${sc.table} ${JSON.stringify(sc.keys)}, not ${asked.table} ${JSON.stringify(asked.keys)}`,
      );
  }

  private spec(p: PreparedRecovery & { storage: BackupStorage }, mode: RestoreMode) {
    return {
      storage: p.storage,
      dir: p.backup.storageDir,
      manifest: p.manifest,
      keys: this.target.keys,
      mode,
      tables: p.tables,
    };
  }

  /**
   * When the restore writes the service's own SQLite file, it does so through another
   * connection holding the write lock; the service's own writes wait for their turn
   * in-process instead of blocking on the file lock.
   */
  private inWriteTurn<T>(p: PreparedRecovery, work: () => Promise<T>): Promise<T> {
    return p.url === this.config.DATABASE_URL ? this.tx.exclusive(work) : work();
  }

  private update(id: string, patch: Partial<RecoveryEntity>): Promise<void> {
    return this.repo.update(id, patch);
  }

  /**
   * Ends recoveries nobody runs any more (at boot, and from every sweep): one of this process
   * that is no longer alive in it, one whose process on this host is gone, or one whose
   * heartbeat is older than `staleBefore`. Whether its restore committed is asked of the
   * target (the proof its transaction left there): committed means `completed`, with a note
   * saying how that was established; otherwise `failed`, saying truthfully what the tables
   * hold. The lease it held is freed.
   */
  async failInterrupted(staleBefore: string = this.sweeper.staleBefore()): Promise<number> {
    await this.jobs.recordDeferred();
    const open = await this.repo.openJobs();
    let ended = 0;
    for (const row of open) {
      const reason = orphanReason(row, staleBefore);
      if (reason && (await this.endInterrupted(row, reason))) ended++;
    }
    return ended;
  }

  private async endInterrupted(row: RecoveryEntity, reason: string): Promise<boolean> {
    let committed: boolean | null;
    let unknownBecause: string | undefined;
    try {
      committed = await this.restoreCommitted(row);
    } catch (e) {
      committed = null;
      unknownBecause = safeErrorMessage(e);
    }
    const now = nowIso();
    const patch = interruptedOutcome(committed, {
      reason,
      files: row.options.files,
      backupId: row.backupId,
      at: now,
      unknownBecause,
      cancelledBy: row.cancelRequestedAt ? (row.cancelRequestedBy ?? 'unknown') : null,
    });
    const ended = await this.repo.endIfUnchanged(
      row,
      { ...patch, finishedAt: now },
      {
        actor: SYSTEM_ACTOR,
        action: `recovery.${patch.status}`,
        resource: 'recovery',
        resourceId: row.id,
        outcome: patch.status === 'completed' ? 'success' : 'failure',
        details: {
          backupId: row.backupId,
          error: patch.error,
          note: patch.note,
          tablesCommitted: committed,
          reconciled: reason,
        },
      },
    );
    if (!ended) return false;
    if (row.owner) await this.leases.releaseOwner(row.owner);
    this.logger.warn(`recovery ${row.id} ended as ${patch.status}: ${reason}`);
    return true;
  }

  /** Asks the target whether the recovery's restore committed (see Dialect.restoreCommitted). */
  private async restoreCommitted(row: RecoveryEntity): Promise<boolean | null> {
    const backup = await this.catalog.entity(row.backupId).catch(() => null);
    const dialect = this.engine.openDialect(this.target.sourceUrl(backup?.type ?? 'full'));
    try {
      return await dialect.restoreCommitted({ id: row.id, token: row.commitToken });
    } finally {
      await dialect.close().catch(() => undefined);
    }
  }
}
