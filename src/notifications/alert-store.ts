import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, EntityManager } from 'typeorm';
import type { QueryDeepPartialEntity } from 'typeorm/query-builder/QueryPartialEntity';
import { newestFirstPage } from '../common/pagination';
import { Transactions } from '../database/transactions';
import { AlertEntity, AlertState } from './alert.entity';

export interface AlertInput {
  key: string;
  type: string;
  severity: string;
  message: string;
  details: Record<string, unknown>;
}

/** What a raise should announce: a new alert, a reminder of one still open, or nothing (a repeat). */
export type Announcement = 'new' | 'reminder' | null;

/** Resolved alerts stay listed by GET /api/alerts (without a state filter) this long. */
export const RECENTLY_RESOLVED_MS = 7 * 86_400_000;

/**
 * The alerts table. Every change runs in one transaction and is conditional on the row as it
 * was read, so instances raising or resolving the same key at once agree on exactly one
 * winner: one insert survives the unique index on open_key, one update flips it to resolved,
 * one update moves notified_at for a reminder. The winner alone sends the webhook.
 */
@Injectable()
export class AlertStore {
  constructor(
    @InjectDataSource() private readonly ds: DataSource,
    private readonly tx: Transactions,
  ) {}

  raise(
    input: AlertInput,
    now: Date,
    renotifyMs: number | null,
  ): Promise<{ row: AlertEntity; announce: Announcement }> {
    const at = now.toISOString();
    return this.tx.run(async (m) => {
      let row = await this.openRow(m, input.key);
      if (!row) {
        const fresh: AlertEntity = {
          id: randomUUID(),
          key: input.key,
          openKey: input.key,
          type: input.type,
          severity: input.severity,
          state: 'open',
          message: input.message,
          details: input.details,
          createdAt: at,
          lastSeenAt: at,
          occurrences: 1,
          notifiedAt: at,
          resolvedAt: null,
          resolution: null,
        };
        // Another instance may have inserted the same key since the read: the unique index
        // keeps its row, and this raise becomes a repeat of it.
        await m
          .createQueryBuilder()
          .insert()
          .into(AlertEntity)
          .values(fresh as QueryDeepPartialEntity<AlertEntity>)
          .orIgnore()
          .execute();
        row = await this.openRow(m, input.key);
        if (row?.id === fresh.id) return { row, announce: 'new' as const };
        if (!row) throw new Error(`alert ${input.key}: neither inserted nor found open`);
      }
      await m
        .createQueryBuilder()
        .update(AlertEntity)
        .set({
          lastSeenAt: at,
          occurrences: () => 'occurrences + 1',
          severity: input.severity,
          message: input.message,
          details: input.details,
        })
        .where('id = :id', { id: row.id })
        .execute();
      const updated: AlertEntity = {
        ...row,
        lastSeenAt: at,
        occurrences: row.occurrences + 1,
        severity: input.severity,
        message: input.message,
        details: input.details,
      };
      if (renotifyMs === null || now.getTime() - Date.parse(row.notifiedAt) < renotifyMs)
        return { row: updated, announce: null };
      const claimed = await m
        .createQueryBuilder()
        .update(AlertEntity)
        .set({ notifiedAt: at })
        .where('id = :id AND notified_at = :old', { id: row.id, old: row.notifiedAt })
        .execute();
      return { row: { ...updated, notifiedAt: at }, announce: claimed.affected === 1 ? 'reminder' : null };
    });
  }

  /** Resolves the open alert of `key`; the resolved row for the one caller that resolved it, else null. */
  async resolve(key: string, resolution: string, now: Date): Promise<AlertEntity | null> {
    // Most resolves find nothing open (a verification that passed, a backup deleted): one
    // indexed read, and no write transaction, answers those.
    if (!(await this.ds.getRepository(AlertEntity).exists({ where: { openKey: key } }))) return null;
    const at = now.toISOString();
    return this.tx.run(async (m) => {
      const row = await this.openRow(m, key);
      if (!row) return null;
      const res = await m
        .createQueryBuilder()
        .update(AlertEntity)
        .set({ state: 'resolved', openKey: null, resolvedAt: at, resolution })
        .where('id = :id AND open_key = :key', { id: row.id, key })
        .execute();
      if (res.affected !== 1) return null;
      return { ...row, state: 'resolved' as const, openKey: null, resolvedAt: at, resolution };
    });
  }

  open(): Promise<AlertEntity[]> {
    return this.ds
      .getRepository(AlertEntity)
      .find({ where: { state: 'open' }, order: { createdAt: 'DESC', id: 'DESC' } });
  }

  /** Open alerts by type and severity, for the metric. */
  async openCounts(): Promise<{ type: string; severity: string; n: number }[]> {
    const rows: { type: string; severity: string; n: string | number }[] = await this.ds
      .getRepository(AlertEntity)
      .createQueryBuilder('a')
      .select('a.type', 'type')
      .addSelect('a.severity', 'severity')
      .addSelect('COUNT(*)', 'n')
      .where('a.open_key IS NOT NULL')
      .groupBy('a.type')
      .addGroupBy('a.severity')
      .getRawMany();
    return rows.map((r) => ({ type: r.type, severity: r.severity, n: Number(r.n) }));
  }

  /** Newest first: open ones and those resolved within RECENTLY_RESOLVED_MS, or one state only. */
  async list(
    q: { state?: AlertState; key?: string; limit: number; cursor?: string },
    now: Date,
  ): Promise<{ rows: AlertEntity[]; nextCursor: string | null }> {
    const qb = this.ds.getRepository(AlertEntity).createQueryBuilder('a');
    if (q.state) qb.andWhere('a.state = :state', { state: q.state });
    else
      qb.andWhere("(a.state = 'open' OR a.resolved_at >= :since)", {
        since: new Date(now.getTime() - RECENTLY_RESOLVED_MS).toISOString(),
      });
    if (q.key) qb.andWhere('a.alert_key = :key', { key: q.key });
    return newestFirstPage(qb, 'a', q.limit, q.cursor);
  }

  private openRow(m: EntityManager, key: string): Promise<AlertEntity | null> {
    return m.findOne(AlertEntity, { where: { openKey: key } });
  }
}
