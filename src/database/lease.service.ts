import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { EntityManager, LessThan, Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { AppConfig } from '../config/app-config';
import { LeaseEntity } from './lease.entity';
import { LeaseKeeper, LeaseKeeperOptions } from './lease-keeper';
import { Transactions } from './transactions';

/** This process's identity: host, pid and a per-boot nonce. */
const PROCESS_OWNER = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/**
 * The process part (host:pid:nonce) of a lease owner. Each acquisition appends its own token,
 * so two jobs of one process never share an owner, and an owner names exactly one holding.
 */
function processOf(owner: string): string {
  return owner.split(':').slice(0, 3).join(':');
}

/** True when `owner` (a lease owner or a job's owner column) belongs to this very process. */
export function ownedByThisProcess(owner: string | null): boolean {
  return !!owner && processOf(owner) === PROCESS_OWNER;
}

export interface HeldLease {
  name: string;
  owner: string;
  expiresAt: string;
}

/**
 * Named leases with expiry in the database: one writer, across processes and within one. A
 * lease is exclusive: while it is held and not expired nobody else gets it, not even another
 * job of the same process. A holder renews while it works; a crashed holder's lease simply
 * expires (or is released at boot, or when its job is found stale).
 */
@Injectable()
export class LeaseService {
  constructor(
    @InjectRepository(LeaseEntity) private readonly repo: Repository<LeaseEntity>,
    private readonly tx: Transactions,
    private readonly config: AppConfig,
  ) {}

  /**
   * Takes the lease if it is free or expired; null while anyone holds it (this process
   * included: a lease is never re-entrant). `processOwner` identifies the process; the lease's
   * owner is that plus a token of this acquisition.
   */
  async acquire(
    name: string,
    processOwner: string = PROCESS_OWNER,
    ttlSeconds = this.config.LEASE_TTL_SECONDS,
  ): Promise<HeldLease | null> {
    const owner = `${processOwner}:${randomUUID().slice(0, 8)}`;
    return this.tx.run(async (m) => {
      const now = new Date();
      const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
      if (this.tx.engine === 'postgres') {
        // Serializes concurrent acquirers of the same name, also before the row exists.
        await m.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`strongroom-lease:${name}`]);
      }
      const current = await m.findOne(LeaseEntity, { where: { name } });
      if (current && current.expiresAt > now.toISOString()) return null;
      await m.save(LeaseEntity, { name, owner, acquiredAt: now.toISOString(), expiresAt });
      return { name, owner, expiresAt };
    });
  }

  /**
   * "One writer" for a job about to start: takes the lease, or is a 409 naming who holds it.
   * The holder may be a job nobody runs any more: once `sweep` (the job sweeper) ended it,
   * the lease is free, so it is tried once more after a sweep that ended something.
   */
  async acquireOrConflict(name: string, sweep: () => Promise<number>): Promise<HeldLease> {
    const lease = (await this.acquire(name)) ?? ((await sweep().catch(() => 0)) > 0 ? await this.acquire(name) : null);
    if (lease) return lease;
    const holder = await this.holder(name);
    throw new DomainError(
      ErrorCode.Conflict,
      `another backup or restore of this database is running (${holder?.owner ?? 'unknown owner'})`,
    );
  }

  /**
   * Renews a lease we hold and, in the same transaction, runs `alsoWrite` (a job's heartbeat),
   * so a job's heartbeat is fresh exactly while its lease is. False when the lease was lost.
   */
  async renewWith(
    lease: HeldLease,
    alsoWrite: (m: EntityManager, now: string) => Promise<void>,
    ttlSeconds = this.config.LEASE_TTL_SECONDS,
  ): Promise<boolean> {
    const now = new Date();
    const expiresAt = new Date(now.getTime() + ttlSeconds * 1000).toISOString();
    const held = await this.tx.run(async (m) => {
      const res = await m.update(LeaseEntity, { name: lease.name, owner: lease.owner }, { expiresAt });
      if (!res.affected) return false;
      await alsoWrite(m, now.toISOString());
      return true;
    });
    if (held) lease.expiresAt = expiresAt;
    return held;
  }

  /** Starts renewing `lease` (and the heartbeat of the rows it is told to track) every third of the TTL. */
  keepAlive(lease: HeldLease, opts: Omit<LeaseKeeperOptions, 'everyMs'>): LeaseKeeper {
    return new LeaseKeeper(this, lease, { ...opts, everyMs: (this.config.LEASE_TTL_SECONDS * 1000) / 3 }).start();
  }

  async release(lease: HeldLease): Promise<void> {
    await this.tx.run((m) => m.delete(LeaseEntity, { name: lease.name, owner: lease.owner }));
  }

  /** Frees whatever lease `owner` holds (a job found orphaned or stale); the number freed. */
  async releaseOwner(owner: string): Promise<number> {
    const res = await this.tx.run((m) => m.delete(LeaseEntity, { owner }));
    return res.affected ?? 0;
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
  if (processOf(owner) === PROCESS_OWNER) return true;
  if (Number(pid) === process.pid && nonce !== PROCESS_OWNER.split(':')[2]) return false;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}
