import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';

/**
 * Runs work in one database transaction on either engine.
 *
 * TypeORM's better-sqlite3 driver shares ONE connection and query runner across the
 * process, so two overlapping transactions would nest into each other. On SQLite we
 * therefore serialize transactions in-process, and take the write lock up front so another
 * process's writer makes us wait on busy_timeout instead of failing a lock upgrade half-way.
 */
@Injectable()
export class Transactions {
  private tail: Promise<unknown> = Promise.resolve();

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  get engine(): 'sqlite' | 'postgres' {
    return this.ds.options.type === 'postgres' ? 'postgres' : 'sqlite';
  }

  run<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    if (this.engine === 'postgres') return this.ds.transaction(work);
    const next = this.tail.then(() => this.runSqlite(work));
    this.tail = next.catch(() => undefined);
    return next;
  }

  /**
   * Holds the in-process write turn without a TypeORM transaction: for engine work that
   * writes the service's own SQLite file through another connection (a restore), so that
   * the service's own writes wait their turn instead of blocking the thread on the lock.
   */
  exclusive<T>(work: () => Promise<T>): Promise<T> {
    if (this.engine === 'postgres') return work();
    const next = this.tail.then(work);
    this.tail = next.catch(() => undefined);
    return next;
  }

  private async runSqlite<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    const qr = this.ds.createQueryRunner();
    // TypeORM only issues a deferred BEGIN; a deferred transaction that reads and then
    // writes fails at once (SQLITE_BUSY) when another connection wrote in between, without
    // waiting. BEGIN IMMEDIATE takes the write lock up front and honours busy_timeout.
    // We then tell the runner a transaction is open, so the manager does not start its own.
    await qr.query('BEGIN IMMEDIATE');
    const state = qr as unknown as { isTransactionActive: boolean; transactionDepth: number };
    state.isTransactionActive = true;
    state.transactionDepth = 1;
    try {
      const result = await work(qr.manager);
      await qr.query('COMMIT');
      return result;
    } catch (e) {
      await qr.query('ROLLBACK').catch(() => undefined);
      throw e;
    } finally {
      state.isTransactionActive = false;
      state.transactionDepth = 0;
    }
  }
}
