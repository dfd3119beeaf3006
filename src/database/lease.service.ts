import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { LessThan, Repository } from 'typeorm';
import { AppConfig } from '../config/app-config';
import { LeaseEntity } from './lease.entity';
import { Transactions } from './transactions';

/** This process's identity as a lease owner: host, pid and a per-boot nonce. */
export const PROCESS_OWNER = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

export interface HeldLease {
  name: string;
  owner: string;
  expiresAt: string;
}

/**
 * Named leases with expiry in the database: one writer across processes. A holder renews
 * while it works; a crashed holder's lease simply expires (or is released at boot).
 */
@Injectable()
export class LeaseService {
  constructor(
    @InjectRepository(LeaseEntity) private readonly repo: Repository<LeaseEntity>,
    private readonly tx: Transactions,
    private readonly config: AppConfig,
  ) {}

  /** Takes the lease if it is free or expired; null when someone else holds it. */
  async acquire(name: string, owner: string = PROCESS_OWNER, ttlSeconds = this.config.LEASE_TTL_SECONDS): Promise<HeldLease | null> {
    return this.tx.run(async (m) => {
      const now = new Date();
      const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
      if (this.tx.engine === 'postgres') {
        // Serializes concurrent acquirers of the same name, also before the row exists.
        await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`strongroom-lease:${name}`]);
      }
      const current = await m.findOne(LeaseEntity, { where: { name } });
      if (current && current.expiresAt > now.toISOString() && current.owner !== owner) return null;
      await m.save(LeaseEntity, { name, owner, acquiredAt: now.toISOString(), expiresAt });
      return { name, owner, expiresAt };
    });
  }

  /** Extends a lease we hold; false when it was lost (expired and taken by another). */
  async renew(lease: HeldLease, ttlSeconds = this.config.LEASE_TTL_SECONDS): Promise<boolean> {
    const expiresAt = new Date(Date.now() + ttlSeconds * 1000).toISOString();
    const res = await this.tx.run((m) => m.update(LeaseEntity, { name: lease.name, owner: lease.owner }, { expiresAt }));
    if (res.affected) lease.expiresAt = expiresAt;
    return !!res.affected;
  }

  async release(lease: HeldLease): Promise<void> {
    await this.tx.run((m) => m.delete(LeaseEntity, { name: lease.name, owner: lease.owner }));
  }

  async holder(name: string): Promise<LeaseEntity | null> {
    const row = await this.repo.findOne({ where: { name } });
    return row && row.expiresAt > new Date().toISOString() ? row : null;
  }

  /** Boot-time cleanup: leases held by a process that no longer exists on this host, and expired ones. */
  async releaseStale(isOwnerAlive: (owner: string) => boolean): Promise<number> {
    const expired = await this.repo.delete({ expiresAt: LessThan(new Date().toISOString()) });
    let released = expired.affected ?? 0;
    for (const row of await this.repo.find()) {
      if (!isOwnerAlive(row.owner)) {
        await this.repo.delete({ name: row.name, owner: row.owner });
        released++;
      }
    }
    return released;
  }
}

/** True unless the owner ran on this host and its pid is gone (or it is an earlier boot of this pid). */
export function ownerAliveOnThisHost(owner: string): boolean {
  const [host, pid, nonce] = owner.split(':');
  if (host !== hostname()) return true;
  if (owner === PROCESS_OWNER) return true;
  if (Number(pid) === process.pid && nonce !== PROCESS_OWNER.split(':')[2]) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}
