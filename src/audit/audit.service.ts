import { Injectable, Logger } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Readable } from 'node:stream';
import { EntityManager, Repository, SelectQueryBuilder } from 'typeorm';
import { decodeCursor, encodeCursor, Page } from '../common/pagination';
import { DomainError, ErrorCode } from '../common/domain-error';
import { redactSecrets } from '../common/redact';
import type { Actor } from '../common/request-context';
import { currentActor, currentRequest } from '../common/request-scope';
import { columnText } from './audit-details';
import { insertRows, type SqlValue } from '../database/bulk-insert';
import { Transactions } from '../database/transactions';
import { AUDIT_TABLE } from '../engine/backup/bookkeeping-tables';
import { canonicalize } from '../engine/jcs';
import { AuditChainVerifier, ChainVerdict } from './audit-chain-verifier';
import { AuditEventEntity } from './audit-event.entity';
import { AuditHeadEntity } from './audit-head.entity';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditBody, AuditEvent, computeAuditHash, GENESIS_HASH } from '../engine/audit/audit-hash';
import { toCsvRow, AUDIT_CSV_COLUMNS } from './audit-csv';
import { auditSeverity, type AuditSeverity } from '../engine/audit/audit-severity';

export interface AuditInput {
  /** Who acted; left out, whoever the scope names (request-scope.ts: runAs, the request's caller, else the system). */
  actor?: Actor;
  action: string;
  resource: string;
  resourceId?: string | null;
  outcome: 'success' | 'failure' | 'denied';
  /** Left out (undefined), these three come from the request being served, if any. */
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  details?: Record<string, unknown>;
}

/** An input with its context settled: what is appended to the chain. */
type ResolvedInput = AuditInput & { actor: Actor };

/** An event waiting for the next group commit, and who waits for it. */
interface Queued {
  input: ResolvedInput;
  resolve(event: AuditEvent): void;
  reject(err: Error): void;
}

/** An event as the API shows it: with its (derived) severity. */
export type AuditEventView = AuditEvent & { severity: AuditSeverity };

export interface AuditFilter {
  action?: string;
  resource?: string;
  resourceId?: string;
  actor?: string;
  outcome?: string;
  from?: string;
  to?: string;
}

const HEAD_ID = 1;
const BATCH = 500;
/** Events per INSERT statement: 16 columns each, far below PostgreSQL's and SQLite's parameter limits. */
const INSERT_CHUNK = 100;

@Injectable()
export class AuditService {
  private readonly logger = new Logger('Audit');

  constructor(
    @InjectRepository(AuditEventEntity) private readonly events: Repository<AuditEventEntity>,
    @InjectRepository(AuditHeadEntity) private readonly heads: Repository<AuditHeadEntity>,
    private readonly tx: Transactions,
  ) {}

  /**
   * Appends one event. Inside the caller's transaction when `manager` is given (so the
   * event commits or rolls back with the change it describes). Else it joins the group
   * commit below and resolves once its own transaction committed, with its seq and hash;
   * it rejects if that event could not be written. `seq` comes from the last event under a
   * lock, never from a sequence.
   */
  async record(input: AuditInput, manager?: EntityManager): Promise<AuditEvent> {
    const resolved = inRequestContext(input);
    if (manager) return this.append(manager, resolved);
    return new Promise<AuditEvent>((resolve, reject) => this.enqueue({ input: resolved, resolve, reject }));
  }

  /**
   * Like record() without a manager, but a failure to write is logged instead of thrown
   * (request hooks, background loops).
   */
  recordQuietly(input: AuditInput): Promise<void> {
    const resolved = inRequestContext(input);
    return new Promise<void>((resolve) =>
      this.enqueue({
        input: resolved,
        resolve: () => resolve(),
        reject: (err) => {
          this.logger.error(`could not record audit event ${resolved.action}: ${err.message}`);
          resolve();
        },
      }),
    );
  }

  /**
   * Group commit: events that arrive while one transaction is being written are appended
   * together in the next one. Each is still its own event with its own seq and hash, in
   * arrival order, linked exactly as if appended one by one; a busy service just takes the
   * chain's lock, reads the last event and commits once per batch instead of once per
   * event (with a commit's fsync, the cost that bounds appends per second). A batch that
   * fails is retried one event at a time, so one bad event cannot lose the others.
   */
  private enqueue(item: Queued): void {
    this.queued.push(item);
    this.kick();
  }

  private kick(): void {
    if (this.flushing) return;
    // An event queued after the last batch was taken but before this settles starts the next flush.
    this.flushing = this.flush().finally(() => {
      this.flushing = null;
      if (this.queued.length) this.kick();
    });
  }

  private readonly queued: Queued[] = [];
  private flushing: Promise<void> | null = null;

  private async flush(): Promise<void> {
    // One batch after another until the queue is empty; what arrives during a write waits for the next.
    while (this.queued.length) {
      const batch = this.queued.splice(0, BATCH);
      const written = await this.tx
        .run((m) =>
          this.appendAll(
            m,
            batch.map((b) => b.input),
          ),
        )
        .catch(() => null);
      if (written) {
        batch.forEach((b, i) => b.resolve(written[i]));
        continue;
      }
      for (const b of batch) {
        try {
          b.resolve(await this.tx.run((m) => this.append(m, b.input)));
        } catch (err) {
          b.reject(err as Error);
        }
      }
    }
  }

  private async append(m: EntityManager, input: ResolvedInput): Promise<AuditEvent> {
    return (await this.appendAll(m, [input]))[0];
  }

  /** Appends events in order under the chain's lock; the head is written once, for the last. */
  private async appendAll(m: EntityManager, inputs: ResolvedInput[]): Promise<AuditEvent[]> {
    if (this.tx.engine === 'postgres') {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('strongroom-audit-chain'))`);
    }
    // Only the link is needed from the last event, not its (possibly large) details.
    const last = await m
      .createQueryBuilder(AuditEventEntity, 'e')
      .select(['e.seq', 'e.hash'])
      .orderBy('e.seq', 'DESC')
      .limit(1)
      .getOne();
    let prevHash = last?.hash ?? GENESIS_HASH;
    let seq = last?.seq ?? 0;
    const out: AuditEvent[] = [];
    for (const input of inputs) {
      const body: AuditBody = {
        seq: ++seq,
        at: new Date().toISOString(),
        actor: { type: input.actor.type, keyId: input.actor.keyId, name: input.actor.name, role: input.actor.role },
        action: input.action,
        resource: input.resource,
        resourceId: input.resourceId ?? null,
        outcome: input.outcome,
        ip: input.ip ?? null,
        userAgent: input.userAgent ? input.userAgent.slice(0, 500) : null,
        requestId: input.requestId ?? null,
        // Redact before hashing: a secret must never become part of the permanent record.
        details: redactSecrets(JSON.parse(canonicalize(input.details ?? {}))) as Record<string, unknown>,
      };
      const hash = computeAuditHash(body, prevHash);
      const event: AuditEvent = {
        ...body,
        prevHash,
        hash,
        severity: auditSeverity(body.action, body.outcome, body.resource),
      };
      out.push(event);
      prevHash = hash;
    }
    // Few round trips per batch: multi-row INSERTs (bounded, for the engines' parameter limits).
    for (let i = 0; i < out.length; i += INSERT_CHUNK) {
      await insertRows(m, AUDIT_TABLE, EVENT_COLUMNS, out.slice(i, i + INSERT_CHUNK).map(eventRow));
    }
    const head = out[out.length - 1];
    // An UPDATE of the one head row (an INSERT only for the very first event), not save(): that would read it first.
    const updated = await m.update(
      AuditHeadEntity,
      { id: HEAD_ID },
      { seq: head.seq, hash: head.hash, updatedAt: head.at },
    );
    if (!updated.affected)
      await m.insert(AuditHeadEntity, { id: HEAD_ID, seq: head.seq, hash: head.hash, updatedAt: head.at });
    return out;
  }

  async list(filter: AuditFilter, limit = 50, cursor?: string): Promise<Page<AuditEventView>> {
    const qb = this.filtered(filter)
      .orderBy('e.seq', 'DESC')
      .take(limit + 1);
    if (cursor) {
      const c = decodeCursor(cursor);
      // Strictly a seq this endpoint handed out: a float or a huge number (1e308) is not a bigint the database takes.
      if (!c || c.length !== 1 || typeof c[0] !== 'number' || !Number.isSafeInteger(c[0]) || c[0] < 1) {
        throw new DomainError(ErrorCode.InvalidInput, 'cursor is not valid');
      }
      qb.andWhere('e.seq < :before', { before: c[0] });
    }
    const rows = await qb.getMany();
    const items = rows.slice(0, limit).map(fromEntity);
    return { items, nextCursor: rows.length > limit ? encodeCursor([items[items.length - 1].seq]) : null };
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    const h = await this.heads.findOne({ where: { id: HEAD_ID } });
    return h ? { seq: h.seq, hash: h.hash } : null;
  }

  /** The latest signed checkpoint (signed note text), or null: every backup's manifest embeds it. */
  async latestCheckpoint(): Promise<string | null> {
    const row = await this.events.manager
      .createQueryBuilder(AuditCheckpointEntity, 'c')
      .orderBy('c.tree_size', 'DESC')
      .limit(1)
      .getOne();
    return row?.note ?? null;
  }

  /** Recomputes every link, in batches (bounded memory), against the head read first. */
  async verify(): Promise<ChainVerdict> {
    const verifier = new AuditChainVerifier(await this.head());
    for await (const e of this.walk({})) {
      if (!verifier.push(e)) break;
    }
    return verifier.finish();
  }

  /** Every matching event in seq order, fetched in batches. */
  async *walk(filter: AuditFilter): AsyncGenerator<AuditEvent> {
    let after = 0;
    for (;;) {
      const rows = await this.filtered(filter)
        .andWhere('e.seq > :after', { after })
        .orderBy('e.seq', 'ASC')
        .take(BATCH)
        .getMany();
      for (const r of rows) yield fromEntity(r);
      if (rows.length < BATCH) return;
      after = rows[rows.length - 1].seq;
    }
  }

  /** The trail as NDJSON (with hashes, so it can be verified offline) or RFC 4180 CSV. */
  export(format: 'ndjson' | 'csv', filter: AuditFilter): Readable {
    const walk = this.walk(filter);
    async function* lines(): AsyncGenerator<string> {
      if (format === 'csv') yield toCsvRow([...AUDIT_CSV_COLUMNS]);
      for await (const e of walk) {
        yield format === 'csv' ? toCsvRow(AUDIT_CSV_COLUMNS.map((c) => eventCell(e, c))) : `${JSON.stringify(e)}\n`;
      }
    }
    return Readable.from(lines());
  }

  private filtered(f: AuditFilter): SelectQueryBuilder<AuditEventEntity> {
    const qb = this.events.createQueryBuilder('e').where('1 = 1');
    if (f.action) qb.andWhere('e.action = :action', { action: f.action });
    if (f.resource) qb.andWhere('e.resource = :resource', { resource: f.resource });
    if (f.resourceId) qb.andWhere('e.resource_id = :resourceId', { resourceId: f.resourceId });
    if (f.actor) qb.andWhere('e.actor_key_id = :actor', { actor: f.actor });
    if (f.outcome) qb.andWhere('e.outcome = :outcome', { outcome: f.outcome });
    if (f.from) qb.andWhere('e.at >= :from', { from: new Date(f.from).toISOString() });
    if (f.to) qb.andWhere('e.at <= :to', { to: new Date(f.to).toISOString() });
    return qb;
  }
}

/**
 * Fills what the caller left out from the request being served (who, from where, which
 * request), and tells the HTTP hook this action is recorded, so it writes no second event.
 * If the caller's transaction then rolls back, the request fails, and the hook records the
 * failure: it skips only requests that succeeded.
 */
function inRequestContext(input: AuditInput): ResolvedInput {
  const req = currentRequest();
  if (!req) return { ...input, actor: input.actor ?? currentActor() };
  (req.auditRecorded ??= new Set()).add(input.action);
  return {
    ...input,
    actor: input.actor ?? currentActor(),
    ip: input.ip !== undefined ? input.ip : columnText(req.ip, 64),
    userAgent: input.userAgent !== undefined ? input.userAgent : columnText(req.headers['user-agent'], 500),
    requestId: input.requestId !== undefined ? input.requestId : (req.requestId ?? null),
  };
}

function eventCell(e: AuditEvent, column: (typeof AUDIT_CSV_COLUMNS)[number]): string {
  switch (column) {
    case 'actorType':
      return e.actor.type;
    case 'actorKeyId':
      return e.actor.keyId ?? '';
    case 'actorName':
      return e.actor.name;
    case 'actorRole':
      return e.actor.role ?? '';
    case 'details':
      return canonicalize(e.details);
    case 'seq':
      return String(e.seq);
    default:
      return (e[column] as string | null) ?? '';
  }
}

/** The audit table's columns, in the order eventRow() gives their values. */
const EVENT_COLUMNS = [
  'seq',
  'at',
  'actor_type',
  'actor_key_id',
  'actor_name',
  'actor_role',
  'action',
  'resource',
  'resource_id',
  'outcome',
  'ip',
  'user_agent',
  'request_id',
  'details',
  'prev_hash',
  'hash',
];

function eventRow(e: AuditEvent): SqlValue[] {
  const r = toEntity(e);
  return [
    r.seq,
    r.at,
    r.actorType,
    r.actorKeyId,
    r.actorName,
    r.actorRole,
    r.action,
    r.resource,
    r.resourceId,
    r.outcome,
    r.ip,
    r.userAgent,
    r.requestId,
    r.details,
    r.prevHash,
    r.hash,
  ];
}

function toEntity(e: AuditEvent): AuditEventEntity {
  return {
    seq: e.seq,
    at: e.at,
    actorType: e.actor.type,
    actorKeyId: e.actor.keyId,
    actorName: e.actor.name,
    actorRole: e.actor.role,
    action: e.action,
    resource: e.resource,
    resourceId: e.resourceId,
    outcome: e.outcome,
    ip: e.ip,
    userAgent: e.userAgent,
    requestId: e.requestId,
    details: canonicalize(e.details),
    prevHash: e.prevHash,
    hash: e.hash,
  };
}

export function fromEntity(r: AuditEventEntity): AuditEventView {
  return {
    seq: Number(r.seq),
    at: r.at,
    actor: {
      type: r.actorType as AuditEvent['actor']['type'],
      keyId: r.actorKeyId,
      name: r.actorName,
      role: r.actorRole,
    },
    action: r.action,
    resource: r.resource,
    resourceId: r.resourceId,
    outcome: r.outcome as AuditEvent['outcome'],
    ip: r.ip,
    userAgent: r.userAgent,
    requestId: r.requestId,
    details: JSON.parse(r.details) as Record<string, unknown>,
    prevHash: r.prevHash,
    hash: r.hash,
    severity: auditSeverity(r.action, r.outcome, r.resource),
  };
}
