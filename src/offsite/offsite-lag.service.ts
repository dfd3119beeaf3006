import { Inject, Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { BackupEntity } from '../backup/backup.entity';
import { OFFSITE_STORAGE } from '../backup/storage.provider';
import { AppConfig } from '../config/app-config';
import type { BackupStorage } from '../engine/storage/storage';

export interface OffsiteLag {
  /** Seconds since the oldest completed backup without an offsite copy finished; 0 when every one has its copy. */
  lagSeconds: number;
  /** That backup, when there is one. */
  oldest: { id: string; finishedAt: string; status: string; attempts: number; error: string | null } | null;
  /** Completed backups by the state of their offsite copy ("none": not yet looked at). */
  counts: Record<'pending' | 'copied' | 'failed' | 'none', number>;
}

/** How far the offsite copies are behind, from the catalog (so every instance reports the same). */
@Injectable()
export class OffsiteLagService {
  constructor(
    @InjectRepository(BackupEntity) private readonly repo: Repository<BackupEntity>,
    @Inject(OFFSITE_STORAGE) private readonly offsite: BackupStorage | null,
    private readonly config: AppConfig,
  ) {}

  get enabled(): boolean {
    return !!this.offsite;
  }

  /** Null when offsite copies are off. */
  async lag(now = new Date()): Promise<OffsiteLag | null> {
    if (!this.offsite) return null;
    const rows: { s: string | null; n: number | string }[] = await this.repo
      .createQueryBuilder('b')
      .select('b.offsite_status', 's')
      .addSelect('COUNT(*)', 'n')
      .where('b.status = :c', { c: 'completed' })
      .groupBy('b.offsite_status')
      .getRawMany();
    const counts = { pending: 0, copied: 0, failed: 0, none: 0 };
    for (const r of rows) counts[(r.s ?? 'none') as keyof typeof counts] += Number(r.n);
    const oldest = await this.repo
      .createQueryBuilder('b')
      .where('b.status = :c', { c: 'completed' })
      .andWhere("(b.offsite_status IS NULL OR b.offsite_status <> 'copied')")
      .orderBy('b.finished_at', 'ASC')
      .getOne();
    if (!oldest) return { lagSeconds: 0, oldest: null, counts };
    const finishedAt = oldest.finishedAt ?? oldest.createdAt;
    return {
      lagSeconds: Math.max(0, Math.floor((now.getTime() - Date.parse(finishedAt)) / 1000)),
      oldest: {
        id: oldest.id,
        finishedAt,
        status: oldest.offsiteStatus ?? 'pending',
        attempts: oldest.offsiteAttempts ?? 0,
        error: oldest.offsiteError ?? null,
      },
      counts,
    };
  }

  /** The status problem when the lag exceeds OFFSITE_MAX_LAG_HOURS, else null. */
  problem(lag: OffsiteLag | null): string | null {
    if (!lag?.oldest) return null;
    const max = this.config.OFFSITE_MAX_LAG_HOURS;
    if (lag.lagSeconds <= max * 3600) return null;
    const o = lag.oldest;
    return `offsite copy lags more than OFFSITE_MAX_LAG_HOURS (${max}h): backup ${o.id}, finished ${o.finishedAt}, has no offsite copy (${o.status}, ${o.attempts} attempt(s)${o.error ? `, last error: ${o.error}` : ''})`;
  }
}
