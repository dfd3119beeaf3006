import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Readable } from 'node:stream';
import type { EntityManager } from 'typeorm';
import { BACKUP_STORAGE, OFFSITE_STORAGE } from '../backup/storage.provider';
import { AppConfig } from '../config/app-config';
import { nowIso } from '../database/columns';
import { LeaseService } from '../database/lease.service';
import { Transactions } from '../database/transactions';
import { bodyDigest, Checkpoint, parseCheckpoint, signCheckpoint } from '../engine/audit/checkpoint';
import { auditLeafHash, MerkleFrontier, nodesNeeded, StoredNode } from '../engine/audit/merkle';
import type { BackupStorage } from '../engine/storage/storage';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditSigner } from './audit-signer';
import { hex, readNodes, writeNodes } from './audit-tree';

export const CHECKPOINT_PREFIX = 'checkpoints/';
const LEASE = 'audit-checkpoint';
const READ_BATCH = 2000;
const WITNESS_TIMEOUT_MS = 5000;
const STORE_BATCH = 100;

interface StoreTarget {
  label: string;
  storage: BackupStorage;
  column: 'storedAt' | 'offsiteStoredAt';
}

/** Storage key of a checkpoint: sorts by size, and two histories of one size never overwrite each other. */
export function checkpointKey(treeSize: number, rootHashHex: string): string {
  return `${CHECKPOINT_PREFIX}${String(treeSize).padStart(16, '0')}-${rootHashHex.slice(0, 16)}.checkpoint`;
}

/**
 * Signs a checkpoint of the audit trail every AUDIT_CHECKPOINT_SECONDS and at shutdown,
 * when events were added: extends the stored Merkle tree with the new events, signs the
 * root, and stores the checkpoint in the catalog in the same transaction. Then the
 * checkpoint leaves the database: written to backup storage and, when one is configured, to
 * the offsite storage (each retried every tick until it is, independently: one unreachable
 * storage never holds back the other), and POSTed to the witnesses (best effort). One
 * instance signs per period (a lease); the transaction also takes a lock, so a shutdown
 * checkpoint never races a tick.
 *
 * It refuses to sign a trail that does not extend the last checkpoint (fewer events, a
 * rewritten event under it, a broken link): signing it would bless the tampering.
 */
@Injectable()
export class AuditCheckpointer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditCheckpoints');
  private timer: NodeJS.Timeout | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly config: AppConfig,
    private readonly tx: Transactions,
    private readonly leases: LeaseService,
    private readonly signer: AuditSigner,
    @Inject(BACKUP_STORAGE) private readonly storage: BackupStorage,
    @Inject(OFFSITE_STORAGE) private readonly offsite: BackupStorage | null,
  ) {}

  /** Where checkpoints are copied, each with the column that says a checkpoint got there. */
  private targets(): StoreTarget[] {
    const out: StoreTarget[] = [{ label: 'backup storage', storage: this.storage, column: 'storedAt' }];
    if (this.offsite) out.push({ label: 'offsite storage', storage: this.offsite, column: 'offsiteStoredAt' });
    return out;
  }

  async onApplicationBootstrap(): Promise<void> {
    // The key is settled at boot, so a generated one reaches the start-up banner.
    await this.signer.key().catch((e: Error) => this.logger.error(`no checkpoint signing key: ${e.message}`));
    this.timer = setInterval(() => void this.tick(), this.config.AUDIT_CHECKPOINT_SECONDS * 1000);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.checkpointNow().catch((e: Error) => this.logger.error(`shutdown checkpoint failed: ${e.message}`));
  }

  /** One period's work, if this instance gets the period's lease (left to expire: one signer per period). */
  async tick(): Promise<void> {
    try {
      const lease = await this.leases.acquire(LEASE, undefined, Math.max(1, this.config.AUDIT_CHECKPOINT_SECONDS - 1));
      if (lease) await this.checkpointNow();
    } catch (e) {
      this.logger.error(`checkpoint failed: ${(e as Error).message}`);
    }
  }

  /** Signs a checkpoint if events were added since the last one, then publishes what is unpublished. */
  checkpointNow(): Promise<Checkpoint | null> {
    const run = this.queue.then(async () => {
      const key = await this.signer.key();
      const made = await this.tx.run((m) => this.extendAndSign(m, key));
      await this.storePending();
      if (made) await this.postToWitnesses(made);
      return made;
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async extendAndSign(
    m: EntityManager,
    key: Awaited<ReturnType<AuditSigner['key']>>,
  ): Promise<Checkpoint | null> {
    if (this.tx.engine === 'postgres') {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('strongroom-audit-checkpoint'))`);
    }
    const last = await m
      .createQueryBuilder(AuditCheckpointEntity, 'c')
      .orderBy('c.tree_size', 'DESC')
      .limit(1)
      .getOne();
    const size = last ? Number(last.treeSize) : 0;
    const top = await m
      .createQueryBuilder(AuditEventEntity, 'e')
      .select(['e.seq', 'e.hash'])
      .orderBy('e.seq', 'DESC')
      .limit(1)
      .getOne();
    const target = top ? Number(top.seq) : 0;
    if (target === size) return null;
    if (target < size) {
      this.logger.error(
        `refusing to sign: the audit trail ends at ${target} but the last checkpoint covers ${size} events (events were removed, or the database rolled back)`,
      );
      return null;
    }
    const frontierKeys = nodesNeeded((src) => MerkleFrontier.resume(src, size));
    const stored = await readNodes(m, frontierKeys);
    const resumed = MerkleFrontier.resume((level, index) => {
      const n = stored.find((s) => s.level === level && s.index === index);
      if (!n) throw new Error(`Merkle node (${level}, ${index}) is missing from the catalog`);
      return n.hash;
    }, size);

    // The events under the last checkpoint must still end where it ended: the new ones link to it.
    let prevHash: string | null = null;
    if (size > 0) {
      const boundary = await m.findOne(AuditEventEntity, { where: { seq: size }, select: ['seq', 'hash'] });
      const leaf = (await readNodes(m, [{ level: 0, index: size - 1 }]))[0];
      if (!boundary || !leaf || !auditLeafHash(boundary.hash).equals(leaf.hash)) {
        this.logger.error(
          `refusing to sign: event ${size} no longer matches the last checkpoint (the trail was rewritten)`,
        );
        return null;
      }
      prevHash = boundary.hash;
    }
    let after = size;
    while (after < target) {
      const rows = await m
        .createQueryBuilder(AuditEventEntity, 'e')
        .select(['e.seq', 'e.hash', 'e.prevHash'])
        .where('e.seq > :after AND e.seq <= :target', { after, target })
        .orderBy('e.seq', 'ASC')
        .limit(READ_BATCH)
        .getMany();
      const made: StoredNode[] = [];
      for (const r of rows) {
        const seq = Number(r.seq);
        if (seq !== after + 1 || (prevHash !== null && r.prevHash !== prevHash)) {
          this.logger.error(`refusing to sign: the audit chain is broken at event ${after + 1}`);
          return null;
        }
        made.push(...resumed.push(auditLeafHash(r.hash)));
        prevHash = r.hash;
        after = seq;
      }
      if (!rows.length) {
        this.logger.error(`refusing to sign: event ${after + 1} is missing`);
        return null;
      }
      await writeNodes(m, made);
    }
    const previous = last ? parseCheckpoint(last.note) : null;
    // Clocks of several instances differ: a checkpoint is never dated before its predecessor.
    const now = nowIso();
    const time = previous && previous.time > now ? previous.time : now;
    const cp = signCheckpoint(
      {
        origin: key.name,
        treeSize: target,
        rootHash: resumed.root(),
        time,
        previous: previous ? bodyDigest(previous.body) : null,
      },
      key,
    );
    await m.insert(AuditCheckpointEntity, {
      treeSize: target,
      rootHash: hex(cp.rootHash),
      signedAt: time,
      note: cp.text,
      storedAt: null,
      offsiteStoredAt: null,
    });
    return cp;
  }

  /**
   * Writes checkpoints not yet in backup storage (and offsite storage), oldest first; per
   * storage, stops at the first failure (retried next tick). Objects are written whole
   * (BackupStorage.put is atomic) under a key named by size and root, so a retry after a
   * crash between the write and the catalog update rewrites the same bytes.
   */
  async storePending(): Promise<void> {
    for (const target of this.targets()) await this.storeTo(target);
  }

  private async storeTo({ label, storage, column }: StoreTarget): Promise<void> {
    const dbColumn = column === 'storedAt' ? 'stored_at' : 'offsite_stored_at';
    // In batches until none is pending: a storage configured late catches up in one tick.
    for (;;) {
      const pending = await this.tx.run((m) =>
        m
          .createQueryBuilder(AuditCheckpointEntity, 'c')
          .where(`c.${dbColumn} IS NULL`)
          .orderBy('c.tree_size', 'ASC')
          .limit(STORE_BATCH)
          .getMany(),
      );
      for (const row of pending) {
        try {
          await storage.put(checkpointKey(Number(row.treeSize), row.rootHash), Readable.from([Buffer.from(row.note)]));
        } catch (e) {
          this.logger.warn(`checkpoint ${row.treeSize} not written to ${label} yet: ${(e as Error).message}`);
          return;
        }
        const at = nowIso();
        await this.tx.run((m) =>
          m.update(
            AuditCheckpointEntity,
            { treeSize: row.treeSize },
            column === 'storedAt' ? { storedAt: at } : { offsiteStoredAt: at },
          ),
        );
      }
      if (pending.length < STORE_BATCH) return;
    }
  }

  private async postToWitnesses(cp: Checkpoint): Promise<void> {
    await Promise.all(
      this.config.AUDIT_WITNESS_URLS.map(async (url, i) => {
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'Content-Type': 'text/plain; charset=utf-8' },
            body: cp.text,
            signal: AbortSignal.timeout(WITNESS_TIMEOUT_MS),
          });
          if (!res.ok) throw new Error(`HTTP ${res.status}`);
        } catch (e) {
          // Witness URLs may embed a secret: name the position, never the URL.
          this.logger.warn(`audit witness ${i + 1} did not take checkpoint ${cp.treeSize}: ${(e as Error).message}`);
        }
      }),
    );
  }
}
