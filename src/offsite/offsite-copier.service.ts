import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, Repository } from 'typeorm';
import { AuditService } from '../audit/audit.service';
import { BackupCopies } from '../backup/backup-copies.service';
import { BackupEntity } from '../backup/backup.entity';
import { BackupEvents } from '../backup/backup-events';
import { safeErrorMessage } from '../common/redact';
import { SYSTEM_ACTOR } from '../common/request-context';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { LeaseService } from '../database/lease.service';
import { copyBackup } from '../engine/backup/backup-copy';
import { offsiteRetryDelaySeconds } from './offsite-backoff';

/** Copies looked at per pass, oldest first; the next pass takes the rest. */
const BATCH = 20;

/**
 * Copies every completed backup to the offsite storage in the background, one at a time
 * (streamed: memory does not grow with the backup), verified by its checksums before the
 * copy's manifest is written (engine/backup/backup-copy.ts). The work list is the catalog
 * itself (completed backups without a copy, and failed copies whose retry is due), so a
 * restart loses nothing: the next pass, at boot and every OFFSITE_RETRY_BASE_SECONDS, picks
 * them up. A lease per backup makes one instance copy it when several run.
 */
@Injectable()
export class OffsiteCopier implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('OffsiteCopier');
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private again = false;
  private readonly stopping = new AbortController();
  private unsubscribe: (() => void) | null = null;
  /** Failed copy attempts of this process (a metric). */
  failures = 0;

  constructor(
    @InjectRepository(BackupEntity) private readonly repo: Repository<BackupEntity>,
    private readonly copies: BackupCopies,
    private readonly leases: LeaseService,
    private readonly audit: AuditService,
    private readonly events: BackupEvents,
    private readonly config: AppConfig,
  ) {}

  get enabled(): boolean {
    return !!this.copies.offsite;
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) return;
    this.unsubscribe = this.events.subscribe((e) => {
      if (e.kind === 'completed') this.kick();
    });
    this.timer = setInterval(() => this.kick(), this.config.OFFSITE_RETRY_BASE_SECONDS * 1000);
    this.timer.unref();
    // Copies left pending or failed by an earlier run (or by another instance's crash).
    this.kick();
  }

  async onApplicationShutdown(): Promise<void> {
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.stopping.abort();
    await this.running?.catch(() => undefined);
  }

  /** Starts a pass unless one runs; one that runs makes one more pass after it (new work arrived meanwhile). */
  kick(): void {
    if (!this.enabled || this.stopping.signal.aborted) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.passes().finally(() => (this.running = null));
  }

  /** Runs passes until nothing is due (tests and the CLI await this). */
  async drain(): Promise<void> {
    this.kick();
    while (this.running) await this.running;
  }

  private async passes(): Promise<void> {
    do {
      this.again = false;
      try {
        await this.pass();
      } catch (e) {
        this.logger.error(`offsite copy pass failed: ${safeErrorMessage(e)}`);
      }
    } while (this.again && !this.stopping.signal.aborted);
  }

  private async pass(): Promise<void> {
    for (const row of await this.due()) {
      if (this.stopping.signal.aborted) return;
      await this.copyOne(row);
    }
  }

  /** Completed backups with no copy yet, and failed copies whose retry time has come, oldest first. */
  private due(): Promise<BackupEntity[]> {
    return this.repo
      .createQueryBuilder('b')
      .where('b.status = :completed', { completed: 'completed' })
      .andWhere(
        new Brackets((w) =>
          w
            .where('b.offsite_status IS NULL')
            .orWhere('b.offsite_status = :pending', { pending: 'pending' })
            .orWhere('(b.offsite_status = :failed AND (b.offsite_next_at IS NULL OR b.offsite_next_at <= :now))', {
              failed: 'failed',
              now: nowIso(),
            }),
        ),
      )
      .orderBy('b.created_at', 'ASC')
      .limit(BATCH)
      .getMany();
  }

  private async copyOne(row: BackupEntity): Promise<void> {
    const lease = await this.leases.acquire(`offsite-copy:${row.id}`);
    if (!lease) return; // another instance copies it
    const lost = new AbortController();
    const keeper = this.leases.keepAlive(lease, {
      onLost: () => lost.abort(),
      onError: (e) => this.logger.warn(`offsite copy of ${row.id}: could not renew its lease: ${e.message}`),
    });
    try {
      // Read again under the lease: another instance may have copied it, or it was deleted.
      const fresh = await this.repo.findOne({ where: { id: row.id } });
      if (!fresh || fresh.status !== 'completed' || fresh.offsiteStatus === 'copied') return;
      if (fresh.offsiteStatus !== 'pending' && fresh.offsiteStatus !== 'failed')
        await this.repo.update({ id: row.id }, { offsiteStatus: 'pending' });
      const attempts = (fresh.offsiteAttempts ?? 0) + 1;
      try {
        const copied = await copyBackup(this.copies.primary, this.copies.offsite!, fresh.storageDir, {
          signal: AbortSignal.any([this.stopping.signal, lost.signal]),
        });
        if (!(await this.repo.exist({ where: { id: row.id } }))) {
          // Deleted while it was copied: its copy must not outlive it (a rescan from offsite would bring it back).
          await this.copies.offsite!.deletePrefix(fresh.storageDir).catch(() => undefined);
          return;
        }
        await this.repo.update(
          { id: row.id },
          {
            offsiteStatus: 'copied',
            offsiteAt: nowIso(),
            offsiteAttempts: attempts,
            offsiteError: null,
            offsiteNextAt: null,
          },
        );
        await this.audit.recordQuietly({
          actor: SYSTEM_ACTOR,
          action: 'backup.offsite-copy',
          resource: 'backup',
          resourceId: row.id,
          outcome: 'success',
          details: { attempts, parts: copied.parts, bytes: copied.bytes, offsite: this.copies.offsite!.location },
        });
        this.logger.log(`backup ${row.id} copied offsite (${copied.parts} parts, ${copied.bytes} bytes)`);
      } catch (e) {
        if (this.stopping.signal.aborted) return; // shutting down: the next start copies it
        this.failures++;
        const error = safeErrorMessage(e).slice(0, 1000);
        const delay = offsiteRetryDelaySeconds(
          attempts,
          this.config.OFFSITE_RETRY_BASE_SECONDS,
          this.config.OFFSITE_RETRY_MAX_SECONDS,
        );
        const nextAt = new Date(Date.now() + delay * 1000).toISOString();
        await this.repo.update(
          { id: row.id },
          {
            offsiteStatus: 'failed',
            offsiteAt: nowIso(),
            offsiteAttempts: attempts,
            offsiteError: error,
            offsiteNextAt: nextAt,
          },
        );
        await this.audit.recordQuietly({
          actor: SYSTEM_ACTOR,
          action: 'backup.offsite-copy',
          resource: 'backup',
          resourceId: row.id,
          outcome: 'failure',
          details: { attempts, error, nextAttemptAt: nextAt },
        });
        this.logger.warn(`offsite copy of backup ${row.id} failed (attempt ${attempts}, next at ${nextAt}): ${error}`);
      }
    } finally {
      keeper.stop();
      await this.leases.release(lease).catch(() => undefined);
    }
  }
}
