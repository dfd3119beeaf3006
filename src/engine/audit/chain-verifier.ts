/**
 * Walks the chain in seq order, one event at a time (bounded memory), and reports the
 * first bad entry and why. A deleted tail leaves a shorter chain that links perfectly, so
 * the end of the walk is compared with the head recorded at each append.
 */
import { AuditEvent, bodyOf, computeAuditHash, GENESIS_HASH } from './audit-hash';

export type ChainProblem = 'hash-mismatch' | 'broken-link' | 'seq-gap' | 'truncated-tail' | 'head-mismatch';

export interface ChainVerdict {
  ok: boolean;
  checked: number;
  head: { seq: number; hash: string } | null;
  firstBadSeq: number | null;
  problem: ChainProblem | null;
  detail: string | null;
}

export class AuditChainVerifier {
  private checked = 0;
  private expectedSeq = 1;
  private prevHash = GENESIS_HASH;
  private last: { seq: number; hash: string } | null = null;
  private bad: { seq: number; problem: ChainProblem; detail: string } | null = null;

  /**
   * `recordedHead` is read BEFORE the walk starts: events appended during the walk then
   * simply extend past it. Null when no head was recorded (e.g. after a disaster restore).
   */
  constructor(private readonly recordedHead: { seq: number; hash: string } | null) {}

  /** Feeds the next event; returns false once a problem was found (the walk can stop). */
  push(e: AuditEvent): boolean {
    if (this.bad) return false;
    this.checked++;
    if (e.seq !== this.expectedSeq) {
      return this.fail(
        this.expectedSeq,
        'seq-gap',
        `expected seq ${this.expectedSeq}, found ${e.seq}: events are missing`,
      );
    }
    if (e.prevHash !== this.prevHash) {
      return this.fail(e.seq, 'broken-link', `prevHash does not match the hash of seq ${e.seq - 1}`);
    }
    if (computeAuditHash(bodyOf(e), e.prevHash) !== e.hash) {
      return this.fail(e.seq, 'hash-mismatch', `the content of seq ${e.seq} does not match its hash`);
    }
    if (this.recordedHead && e.seq === this.recordedHead.seq && e.hash !== this.recordedHead.hash) {
      return this.fail(
        e.seq,
        'head-mismatch',
        `seq ${e.seq} does not match the recorded head hash: the chain was re-hashed`,
      );
    }
    this.last = { seq: e.seq, hash: e.hash };
    this.prevHash = e.hash;
    this.expectedSeq++;
    return true;
  }

  /** Ends the walk: a chain shorter than the recorded head lost its tail. */
  finish(): ChainVerdict {
    const lastSeq = this.last?.seq ?? 0;
    if (!this.bad && this.recordedHead && this.recordedHead.seq > lastSeq) {
      this.fail(
        lastSeq + 1,
        'truncated-tail',
        `the recorded head is seq ${this.recordedHead.seq} but the chain ends at ${lastSeq}`,
      );
    }
    return {
      ok: !this.bad,
      checked: this.checked,
      head: this.last,
      firstBadSeq: this.bad?.seq ?? null,
      problem: this.bad?.problem ?? null,
      detail: this.bad?.detail ?? null,
    };
  }

  private fail(seq: number, problem: ChainProblem, detail: string): false {
    this.bad = { seq, problem, detail };
    return false;
  }
}
