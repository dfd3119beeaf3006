/**
 * The one verifier of an audit trail, used by `GET /api/audit/verify` (events from the
 * database, checkpoints from the catalog) and by `strongroom audit verify --export`
 * (events from an NDJSON export, checkpoints from files, no database and no network).
 *
 * It checks, in one pass over the events in order (bounded memory: the Merkle frontier is
 * O(log n)):
 * - every event's hash and link (AuditChainVerifier);
 * - every checkpoint's Ed25519 signature, with the key named by its origin;
 * - that checkpoints form one history: sorted by size, each names the previous one's body
 *   hash, no time goes backwards, and two checkpoints of one size have one root (else: fork);
 * - that the Merkle root of the trail's first N leaves equals the root each checkpoint of
 *   size N signed, and that no checkpoint is larger than the trail (rolled back / truncated).
 * Consecutive checkpoints whose roots are both recomputed from the same leaves are
 * consistent by construction: the smaller tree is a prefix of the larger one.
 */
import { AuditChainVerifier, ChainVerdict } from './chain-verifier';
import type { AuditEvent } from './audit-hash';
import { bodyDigest, Checkpoint, checkpointSignedBy, CheckpointFormatError, parseCheckpoint } from './checkpoint';
import { auditLeafHash, MerkleFrontier } from './merkle';

export type CheckpointProblem =
  'malformed' | 'bad-signature' | 'fork' | 'previous-mismatch' | 'time-reversed' | 'root-mismatch' | 'beyond-trail';

export interface CheckpointVerdict {
  checked: number;
  ok: boolean;
  /** Tree size of the first bad checkpoint (smallest size first), or null. */
  firstBad: number | null;
  problem: CheckpointProblem | null;
  detail: string | null;
  /** The largest checkpoint that checked out. */
  latest: { treeSize: number; rootHash: string; time: string } | null;
}

export interface TrailVerdict {
  ok: boolean;
  chain: ChainVerdict;
  checkpoints: CheckpointVerdict;
  /** One sentence naming the first failure, or null. */
  failure: string | null;
}

export interface CheckpointInput {
  /** Where it came from (file name, catalog row), for messages. */
  source: string;
  text: string;
}

export class TrailVerifier {
  private readonly chain: AuditChainVerifier;
  private readonly frontier = new MerkleFrontier();
  private readonly sorted: { cp: Checkpoint; source: string }[] = [];
  private next = 0;
  private bad: { size: number; problem: CheckpointProblem; detail: string } | null = null;
  private latest: CheckpointVerdict['latest'] = null;
  private checked = 0;

  constructor(opts: {
    checkpoints: CheckpointInput[];
    publicKey: Buffer;
    recordedHead?: { seq: number; hash: string } | null;
  }) {
    this.chain = new AuditChainVerifier(opts.recordedHead ?? null);
    const byBody = new Map<string, { cp: Checkpoint; source: string }>();
    for (const input of opts.checkpoints) {
      let cp: Checkpoint;
      try {
        cp = parseCheckpoint(input.text);
      } catch (e) {
        if (!(e instanceof CheckpointFormatError)) throw e;
        this.fail(-1, 'malformed', `${input.source}: ${e.message}`);
        continue;
      }
      // The key name is the origin: a signature by any other name or key does not count.
      if (!checkpointSignedBy(cp, cp.origin, opts.publicKey)) {
        this.fail(cp.treeSize, 'bad-signature', `${input.source}: not signed by the audit public key`);
        continue;
      }
      byBody.set(cp.body, byBody.get(cp.body) ?? { cp, source: input.source });
    }
    this.sorted = [...byBody.values()].sort(
      (a, b) => a.cp.treeSize - b.cp.treeSize || Date.parse(a.cp.time) - Date.parse(b.cp.time),
    );
    this.checkHistory();
  }

  /** Feeds the next event of the trail, in order. */
  push(e: AuditEvent): void {
    this.chain.push(e);
    // The tree is built from the hashes as given, even past a chain failure, so the report
    // also says which signed checkpoints the trail no longer matches.
    let leaf: Buffer;
    try {
      leaf = auditLeafHash(e.hash);
    } catch {
      leaf = Buffer.alloc(32);
    }
    this.frontier.push(leaf);
    while (this.next < this.sorted.length && this.sorted[this.next].cp.treeSize <= this.frontier.size) {
      const { cp, source } = this.sorted[this.next++];
      if (cp.treeSize < this.frontier.size) continue; // size 0 (never signed) or already judged
      this.checked++;
      const root = this.frontier.root();
      if (!root.equals(cp.rootHash)) {
        this.fail(
          cp.treeSize,
          'root-mismatch',
          `${source}: the trail's first ${cp.treeSize} events do not have the Merkle root signed at ${cp.time}: they were changed after it was signed`,
        );
      } else if (!this.bad) {
        this.latest = { treeSize: cp.treeSize, rootHash: cp.rootHash.toString('hex'), time: cp.time };
      }
    }
  }

  finish(): TrailVerdict {
    const chain = this.chain.finish();
    for (; this.next < this.sorted.length; this.next++) {
      const { cp, source } = this.sorted[this.next];
      this.checked++;
      this.fail(
        cp.treeSize,
        'beyond-trail',
        `${source}: signed at ${cp.time} for ${cp.treeSize} events, but the trail has only ${this.frontier.size}: events were removed or the database was rolled back`,
      );
    }
    const checkpoints: CheckpointVerdict = {
      checked: this.checked,
      ok: !this.bad,
      firstBad: this.bad ? Math.max(this.bad.size, 0) : null,
      problem: this.bad?.problem ?? null,
      detail: this.bad?.detail ?? null,
      latest: this.latest,
    };
    const failure = !chain.ok
      ? `event ${chain.firstBadSeq}: ${chain.problem}: ${chain.detail}`
      : this.bad
        ? `checkpoint ${this.bad.problem}: ${this.bad.detail}`
        : null;
    return { ok: chain.ok && !this.bad, chain, checkpoints, failure };
  }

  /** Checks the checkpoints against each other, before any event is read. */
  private checkHistory(): void {
    for (let i = 1; i < this.sorted.length; i++) {
      const a = this.sorted[i - 1];
      const b = this.sorted[i];
      if (a.cp.treeSize === b.cp.treeSize && !a.cp.rootHash.equals(b.cp.rootHash)) {
        this.fail(
          b.cp.treeSize,
          'fork',
          `${a.source} and ${b.source}: two different roots signed for ${b.cp.treeSize} events: the log was forked`,
        );
      } else if (!b.cp.previous || !b.cp.previous.equals(bodyDigest(a.cp.body))) {
        this.fail(
          b.cp.treeSize,
          'previous-mismatch',
          `${b.source} does not follow ${a.source}: a checkpoint between them is missing, or they belong to different histories`,
        );
      } else if (Date.parse(b.cp.time) < Date.parse(a.cp.time)) {
        this.fail(b.cp.treeSize, 'time-reversed', `${b.source} is dated before its predecessor ${a.source}`);
      }
    }
  }

  /** Keeps the failure with the smallest tree size: the earliest point where history went wrong. */
  private fail(size: number, problem: CheckpointProblem, detail: string): void {
    if (!this.bad || size < this.bad.size) this.bad = { size, problem, detail };
  }
}
