import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { DomainError, ErrorCode } from '../common/domain-error';
import { decodeCursor, encodeCursor, Page } from '../common/pagination';
import { Transactions } from '../database/transactions';

import { verifierKey } from '../engine/audit/checkpoint';
import { consistencyProof, inclusionProof, rootAt } from '../engine/audit/merkle';
import { TrailVerdict, TrailVerifier } from '../engine/audit/trail-verifier';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditEventEntity } from './audit-event.entity';
import { AuditSigner } from './audit-signer';
import { hex, withStoredNodes } from './audit-tree';
import { AuditService, fromEntity, type AuditEventView } from './audit.service';

export interface CheckpointView {
  treeSize: number;
  rootHash: string;
  time: string;
  note: string;
  storedAt: string | null;
  offsiteStoredAt: string | null;
}

export interface InclusionView {
  event: AuditEventView;
  checkpoint: CheckpointView | null;
  leafIndex: number;
  treeSize: number;
  rootHash: string;
  proof: string[];
}

export interface ConsistencyView {
  from: number;
  to: number;
  fromRoot: string;
  toRoot: string;
  proof: string[];
}

/**
 * What auditors ask of the signed tree: the public key, the checkpoints, inclusion and
 * consistency proofs (O(log n) stored nodes each), and the full verification, which runs
 * the same TrailVerifier as the offline CLI. Proofs are served for trees up to the latest
 * checkpoint: that is what the stored tree covers, and what a verifier can hold us to.
 */
@Injectable()
export class AuditProofs {
  constructor(
    @InjectRepository(AuditCheckpointEntity) private readonly checkpoints: Repository<AuditCheckpointEntity>,
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    private readonly tx: Transactions,
    private readonly signer: AuditSigner,
    private readonly audit: AuditService,
  ) {}

  async publicKey(): Promise<{ algorithm: 'ed25519'; publicKey: string; origin: string; verifierKey: string }> {
    const key = await this.signer.key();
    return {
      algorithm: 'ed25519',
      publicKey: key.publicKey.toString('base64'),
      origin: key.name,
      verifierKey: verifierKey(key.name, key.publicKey),
    };
  }

  async list(limit = 50, cursor?: string): Promise<Page<CheckpointView>> {
    const qb = this.checkpoints
      .createQueryBuilder('c')
      .orderBy('c.tree_size', 'DESC')
      .take(limit + 1);
    if (cursor) {
      const c = decodeCursor(cursor);
      if (!c || c.length !== 1 || typeof c[0] !== 'number' || !Number.isSafeInteger(c[0]) || c[0] < 1) {
        throw new DomainError(ErrorCode.InvalidInput, 'cursor is not valid');
      }
      qb.where('c.tree_size < :before', { before: c[0] });
    }
    const rows = await qb.getMany();
    const items = rows.slice(0, limit).map(view);
    return { items, nextCursor: rows.length > limit ? encodeCursor([items[items.length - 1].treeSize]) : null };
  }

  async latest(): Promise<CheckpointView> {
    const row = await this.latestRow();
    if (!row) throw new DomainError(ErrorCode.NotFound, 'no checkpoint has been signed yet');
    return view(row);
  }

  async inclusion(seq: number, size?: number): Promise<InclusionView> {
    const treeSize = await this.treeSize('size', size);
    if (seq > treeSize) {
      throw new DomainError(
        ErrorCode.NotFound,
        `event ${seq} is not in the tree of ${treeSize} events (the next checkpoint covers it)`,
      );
    }
    const row = await this.events.findOne({ where: { seq } });
    if (!row) throw DomainError.notFound('audit event', String(seq));
    const cp = await this.checkpoints.findOne({ where: { treeSize } });
    const { proof, root } = await this.tx.run((m) =>
      withStoredNodes(m, (src) => ({ proof: inclusionProof(src, seq - 1, treeSize), root: rootAt(src, treeSize) })),
    );
    return {
      event: fromEntity(row),
      checkpoint: cp ? view(cp) : null,
      leafIndex: seq - 1,
      treeSize,
      rootHash: hex(root),
      proof: proof.map(hex),
    };
  }

  async consistency(from: number, to: number): Promise<ConsistencyView> {
    if (from > to) throw new DomainError(ErrorCode.InvalidInput, 'from must not be larger than to');
    await this.treeSize('to', to);
    return this.tx.run((m) =>
      withStoredNodes(m, (src) => ({
        from,
        to,
        fromRoot: hex(rootAt(src, from)),
        toRoot: hex(rootAt(src, to)),
        proof: consistencyProof(src, from, to).map(hex),
      })),
    );
  }

  /**
   * The chain, every checkpoint in the catalog, and the Merkle roots, in one pass. Head and
   * checkpoints are read first: events appended during the walk just extend past them.
   */
  async verify(): Promise<TrailVerdict> {
    const head = await this.audit.head();
    const rows = await this.checkpoints.find();
    const key = await this.signer.key();
    const verifier = new TrailVerifier({
      checkpoints: rows.map((r) => ({ source: `checkpoint ${r.treeSize}`, text: r.note })),
      publicKey: key.publicKey,
      recordedHead: head,
    });
    for await (const e of this.audit.walk({})) verifier.push(e);
    return verifier.finish();
  }

  /** The tree size a proof is for: the one asked (up to the latest checkpoint) or the latest. */
  private async treeSize(field: string, asked?: number): Promise<number> {
    const latest = await this.latestRow();
    if (!latest) throw new DomainError(ErrorCode.NotFound, 'no checkpoint has been signed yet');
    const max = Number(latest.treeSize);
    if (asked === undefined) return max;
    if (asked > max) {
      throw new DomainError(
        ErrorCode.InvalidInput,
        `${field} must be at most ${max}, the latest checkpoint's tree size`,
      );
    }
    return asked;
  }

  private latestRow(): Promise<AuditCheckpointEntity | null> {
    return this.checkpoints.createQueryBuilder('c').orderBy('c.tree_size', 'DESC').limit(1).getOne();
  }
}

function view(r: AuditCheckpointEntity): CheckpointView {
  return {
    treeSize: Number(r.treeSize),
    rootHash: r.rootHash,
    time: r.signedAt,
    note: r.note,
    storedAt: r.storedAt,
    offsiteStoredAt: r.offsiteStoredAt,
  };
}
