import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In, IsNull } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { nowIso } from '../database/columns';
import { Transactions } from '../database/transactions';
import { RecoveryEntity } from '../recovery/recovery.entity';
import { BackupEntity } from './backup.entity';
import { CancelWatch, CancelWatchOptions, CANCEL_POLL_MS } from './job-cancel';

type JobEntity = typeof BackupEntity | typeof RecoveryEntity;

const OPEN = ['pending', 'running'];

/**
 * The catalog half of cancelling jobs (job-cancel.ts): recording a cancel on the job's row,
 * reading it back for the instance that runs the job, and the job's claim of its commit point.
 * Each write is one conditional UPDATE, so a cancel and a commit never both win, across
 * instances too.
 */
@Injectable()
export class JobCancelCatalog {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly tx: Transactions,
  ) {}

  /** A watch for the job on `entity`'s row `id`, polling that row (started by the caller). */
  watch(entity: JobEntity, id: string, onPollError?: CancelWatchOptions['onPollError']): CancelWatch {
    return new CancelWatch({ poll: () => this.requestedBy(entity, id), everyMs: CANCEL_POLL_MS, onPollError });
  }

  /**
   * Who asked for the job to be cancelled, or null. A plain read outside any transaction: on
   * SQLite a transaction would take the write lock, and a restore may be holding it.
   */
  async requestedBy(entity: JobEntity, id: string): Promise<string | null> {
    const row = await this.ds.getRepository<BackupEntity | RecoveryEntity>(entity).findOne({
      where: { id },
      select: { id: true, cancelRequestedAt: true, cancelRequestedBy: true },
    });
    return row?.cancelRequestedAt ? (row.cancelRequestedBy ?? 'unknown') : null;
  }

  /**
   * Records a cancel of an open job, or refuses with a 409 saying why (finished, or past its
   * commit point: `tooLate`). 404 for no such job. Asking twice is fine: the first asker stays.
   */
  async request(entity: JobEntity, what: string, id: string, by: string, tooLate: string): Promise<void> {
    const refusal = await this.tx.run(async (m) => {
      const row = await m.findOne<BackupEntity | RecoveryEntity>(entity, { where: { id } });
      if (!row) return DomainError.notFound(what, id);
      // Past its commit point (completed included): too late, and the answer says so.
      if (row.committingAt || row.status === 'completed') return new DomainError(ErrorCode.Conflict, tooLate);
      if (!OPEN.includes(row.status)) return finishedRefusal(what, id, row.status);
      if (row.cancelRequestedAt) return null;
      const res = await m.update(
        entity,
        { id, status: In(OPEN), committingAt: IsNull(), cancelRequestedAt: IsNull() },
        { cancelRequestedAt: nowIso(), cancelRequestedBy: by },
      );
      return res.affected ? null : new DomainError(ErrorCode.Conflict, tooLate);
    });
    if (refusal) throw refusal;
  }

  /**
   * Notes on the row a cancel already decided in this process (the job's watch), so that the
   * row says who asked even when the job ended before this write.
   */
  async note(entity: JobEntity, id: string, by: string): Promise<void> {
    await this.tx.run((m) =>
      m.update(entity, { id, cancelRequestedAt: IsNull() }, { cancelRequestedAt: nowIso(), cancelRequestedBy: by }),
    );
  }

  /** The job's claim of its commit point: false when a cancel was recorded first. */
  async claimCommit(entity: JobEntity, id: string): Promise<boolean> {
    const res = await this.tx.run((m) =>
      m.update(entity, { id, cancelRequestedAt: IsNull(), committingAt: IsNull() }, { committingAt: nowIso() }),
    );
    return !!res.affected;
  }
}

export function finishedRefusal(what: string, id: string, status: string): DomainError {
  return new DomainError(
    ErrorCode.Conflict,
    `${what} ${id} has already finished (${status}); only a pending or running ${what} can be cancelled`,
  );
}
