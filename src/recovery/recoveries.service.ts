import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { EnginePort } from '../backup/engine.port';
import { JobRegistry, orphanReason } from '../backup/backup-jobs';
import { JobSweeper } from '../backup/job-sweeper';
import { BackupsService } from '../backup/backups.service';
import { BACKUP_STORAGE } from '../backup/storage.provider';
import { TargetDatabase } from '../backup/target-database';
import { DomainError, ErrorCode } from '../common/domain-error';
import { Page } from '../common/pagination';
import { safeErrorMessage } from '../common/redact';
import { Actor, SYSTEM_ACTOR } from '../common/request-context';
import { AppConfig, dialectOptions } from '../config/app-config';
import { isArchiveError } from '../engine/archive/errors';
import { nowIso } from '../database/columns';
import { HeldLease, LeaseService, ownerAliveOnThisHost } from '../database/lease.service';
import { Transactions } from '../database/transactions';
import { recoverInterruptedFileRestores } from '../engine/backup/file-restore-journal';
import type { DryRunResult, RestoreMode, RestoreTableResult } from '../engine/dialects/dialect';
import type { BackupStorage } from '../engine/storage/storage';
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
import { checkTables, describeIssues, dryRunTables, restoreTables, rowTotal } from '../engine/restore/restore-backup';

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
}

/**
 * Restores backups into the target database as background jobs. A recovery holds the data
 * lease from start to end (no backup or other restore runs meanwhile), takes a safety backup
 * of the tables in scope under that lease, then restores all tables in one transaction
 * (the dialect's restore) and, for a whole-backup replace, the file artefacts after the
 * database committed. Every recovery is bracketed by recovery.started and
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
      const { tables, blockers, warnings } = await this.inWriteTurn(prepared, () =>
        dryRunTables(prepared.dialect, this.spec(prepared, mode)),
      );
      return { plan: { tables, blockers, warnings } };
    } catch (e) {
      throw new DomainError(ErrorCode.Conflict, `dry run of backup ${input.backupId} failed: ${safeErrorMessage(e)}`);
    } finally {
      await prepared.dialect.close().catch(() => undefined);
    }
  }

  /** Validates, checks the confirmation phrase, takes the data lease (409 if held), records and starts the job. */
  async start(input: StartRecoveryInput, actor: Actor = SYSTEM_ACTOR): Promise<RecoveryView> {
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
      { safetyBackup: input.safetyBackup ?? true, rollbackOf: null },
      actor,
    );
  }

  /** Restores the safety backup taken before recovery `id` (replace, same tables) and marks it rolled_back. */
  async rollback(id: string, confirm: string | undefined, actor: Actor = SYSTEM_ACTOR): Promise<RecoveryView> {
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
      { backupId: safety.id, mode: 'replace', tables, allowSchemaMismatch: false, files: original.options.files },
      { safetyBackup: true, rollbackOf: id },
      actor,
    );
  }

  /** Resolves when this process's job for `id` has ended (tests, CLI). */
  waitFor(id: string): Promise<void> {
    return this.jobs.wait(id);
  }

  async entity(id: string): Promise<RecoveryEntity> {
    const row = await this.repo.find(id);
    if (!row) throw DomainError.notFound('recovery', id);
    return row;
  }

  async get(id: string): Promise<RecoveryView> {
    const row = await this.entity(id);
    return toRecoveryView(row, this.progress.get(id) ?? null);
  }

  async list(filter: { status?: string; backupId?: string }, limit = 50, cursor?: string): Promise<Page<RecoveryView>> {
    const { rows, nextCursor } = await this.repo.page(filter, limit, cursor);
    return { items: rows.map((r) => toRecoveryView(r, this.progress.get(r.id) ?? null)), nextCursor };
  }

  private async prepare(req: RecoveryRequest): Promise<PreparedRecovery> {
    const backup = await this.catalog.entity(req.backupId);
    return prepareRecovery(req, backup, {
      storage: this.storage,
      keys: this.target.keys,
      urlFor: (type) => this.target.sourceUrl(type),
      dialect: dialectOptions(this.config),
      fileRoots: this.config.BACKUP_FILE_PATHS,
    });
  }

  private async launch(
    req: RecoveryRequest,
    opts: { safetyBackup: boolean; rollbackOf: string | null },
    actor: Actor,
  ): Promise<RecoveryView> {
    const prepared = await this.prepare(req);
    await this.refuseBlocked(prepared, req.mode);
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
      },
      rollbackOf: opts.rollbackOf,
      rolledBackBy: null,
      requestedBy: actor.name,
      owner: lease.owner,
      heartbeatAt: nowIso(),
      commitToken: null,
      note: null,
    };
    this.jobs.hold(row.id);
    try {
      await this.repo.create(row, {
        actor,
        action: 'recovery.started',
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
        },
      });
    } catch (e) {
      this.jobs.drop(row.id);
      await prepared.dialect.close().catch(() => undefined);
      await this.leases.release(lease).catch(() => undefined);
      throw e;
    }
    this.progress.set(row.id, { phase: 'pending', table: null, rows: 0 });
    // Maintenance begins before the job does: the target is read-only for new sessions before the restore writes.
    await this.announce('started', row.id);
    this.jobs.start(row.id, (signal) =>
      this.run(row, prepared, lease, signal).finally(() => this.announce('ended', row.id)),
    );
    return toRecoveryView(row, this.progress.get(row.id));
  }

  private async run(
    row: RecoveryEntity,
    prepared: PreparedRecovery,
    lease: HeldLease,
    signal: AbortSignal,
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
    const jobSignal = AbortSignal.any([signal, lost.signal]);
    const progress = this.progress.get(row.id) ?? { phase: 'pending', table: null, rows: 0 };
    let dbCommitted = false;
    let staged: FileCommit | null = null;
    let filesAfterFailure: FilesAfterFailure | null = null;
    let committedDespite: string | null = null;
    let end: () => Promise<void>;
    try {
      await this.update(row.id, { status: 'running', startedAt: nowIso() });
      if (row.options.safetyBackup) {
        progress.phase = 'safety-backup';
        const safety = await this.backups.runUnderLease(
          {
            type: prepared.backup.type === 'audit' ? 'audit' : prepared.files ? 'full' : 'tables',
            tables: prepared.tables,
            trigger: 'pre-restore',
            description: `safety backup before recovery ${row.id}`,
          },
          keeper,
          SYSTEM_ACTOR,
          jobSignal,
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
            storage: this.storage,
            dir: prepared.backup.storageDir,
            manifest: prepared.manifest,
            keys: this.target.keys,
          },
          {
            url: prepared.url,
            dialect: prepared.dialect,
            commitId: row.id,
            committed: this.commitResolver(),
            onWarning: (message) => this.logger.warn(`recovery ${row.id}: ${message}`),
          },
        );
      }
      // Right before writing: the lease must still be ours (a sweep elsewhere may have found us stale).
      if (!(await keeper.beat())) lost.abort();
      if (lost.signal.aborted) throw new Error('its lease was lost before the restore began');
      progress.phase = 'restoring';
      const total = rowTotal();
      const keepToken = (token: string) => this.update(row.id, { commitToken: token });
      let results: RestoreTableResult[] = [];
      try {
        results = await this.inWriteTurn(prepared, () =>
          restoreTables(prepared.dialect, {
            ...this.spec(prepared, row.mode),
            signal: jobSignal,
            onProgress: (p) => {
              progress.table = p.table;
              progress.rows = total(p);
            },
            onWarning: (message) => this.logger.warn(`recovery ${row.id}: ${message}`),
            commitMarker: staged ? staged.marker(keepToken) : { id: row.id, onToken: keepToken },
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
      let files = null;
      if (staged) {
        progress.phase = 'files';
        files = filesAfterFailure === 'committed' ? staged.stats : await staged.afterCommit();
      }
      progress.phase = 'done';
      const note = committedDespite
        ? `the restore reported an error after its commit (${committedDespite}); the target's commit proof shows it committed, and the file artefacts were swapped in`
        : null;
      end = () =>
        this.recordEnd(
          row,
          lease,
          { status: 'completed', rowsWritten, finishedAt: nowIso(), owner: null, error: null, note },
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
      const message = dbCommitted
        ? `the tables were restored (committed), but ${cause}`
        : (filesAfterFailure as FilesAfterFailure | null) === 'undecided'
          ? `${cause}; whether the restore committed could not be established, so its staged file artefacts were kept: the next start or file restore settles them with the tables`
          : cause;
      this.logger.error(`recovery ${row.id} failed: ${message}`);
      end = () =>
        this.recordEnd(
          row,
          lease,
          { status: 'failed', error: message, finishedAt: nowIso(), owner: null, rowsWritten: row.rowsWritten },
          {
            action: 'recovery.failed',
            outcome: 'failure',
            details: {
              backupId: row.backupId,
              error: message,
              tablesCommitted: dbCommitted,
              safetyBackupId: row.safetyBackupId,
            },
          },
        );
    } finally {
      keeper.stop();
      this.progress.delete(row.id);
      await prepared.dialect.close().catch(() => undefined);
    }
    await this.jobs.recordEnd(row.id, end, (e) =>
      this.logger.error(
        `recovery ${row.id}: the catalog database is unreachable, its end is recorded (and its lease freed) once it is back: ${safeErrorMessage(e)}`,
      ),
    );
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
  private async refuseBlocked(prepared: PreparedRecovery, mode: RestoreMode): Promise<void> {
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

  private spec(p: PreparedRecovery, mode: RestoreMode) {
    return {
      storage: this.storage,
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
    });
    const ended = await this.repo.endIfUnchanged(
      row,
      { ...patch, finishedAt: now },
      {
        actor: SYSTEM_ACTOR,
        action: patch.status === 'completed' ? 'recovery.completed' : 'recovery.failed',
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
