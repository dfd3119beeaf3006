/**
 * An RFC 6962/9162 Merkle tree over the audit chain:
 *   leaf  = SHA-256(0x00 ‖ leaf data)        node = SHA-256(0x01 ‖ left ‖ right)
 * The leaf data of event `seq` is the 32 raw bytes of its chain hash (audit-hash.ts). That
 * hash already commits to seq, the previous hash and the canonical body, so a leaf proves
 * the whole event, leaves stay fixed-size, and the chain's own format is left untouched.
 * Leaf index = seq - 1.
 *
 * Every subtree the RFC recursion visits is "complete and aligned" or splits into such
 * subtrees, so trees of any size are computed from stored complete subtrees only: node
 * (level, index) covers leaves [index·2^level, (index+1)·2^level). Proofs and roots then
 * need O(log n) node reads. `NodeSource` answers those reads synchronously; a store that
 * lives in a database first asks `nodesNeeded` which keys to fetch, in one query.
 */
import { createHash } from 'node:crypto';

export type Hash = Buffer;

/** Hash of the complete subtree at (level, index). Must throw if it does not have it. */
export type NodeSource = (level: number, index: number) => Hash;

export interface NodeKey {
  level: number;
  index: number;
}

export interface StoredNode extends NodeKey {
  hash: Hash;
}

export const EMPTY_ROOT: Hash = createHash('sha256').digest();

export function leafHash(data: Buffer): Hash {
  return createHash('sha256').update(Buffer.of(0)).update(data).digest();
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return createHash('sha256').update(Buffer.of(1)).update(left).update(right).digest();
}

/** Leaf hash of an audit event, from its hex chain hash. */
export function auditLeafHash(chainHashHex: string): Hash {
  if (!/^[0-9a-f]{64}$/.test(chainHashHex)) throw new Error('an audit chain hash is 64 hex characters');
  return leafHash(Buffer.from(chainHashHex, 'hex'));
}

/** The largest power of two strictly smaller than n (n >= 2). */
function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

// Arithmetic, not bit operators: sizes go past 2^31.
function isPowerOfTwo(n: number): boolean {
  if (!Number.isSafeInteger(n) || n < 1) return false;
  while (n % 2 === 0) n /= 2;
  return n === 1;
}

function checkSize(name: string, n: number, min: number): void {
  if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}`);
}

/** MTH(D[start:end]) from complete aligned subtrees (end > start). */
export function subtreeHash(src: NodeSource, start: number, end: number): Hash {
  const n = end - start;
  if (isPowerOfTwo(n) && start % n === 0) return src(Math.round(Math.log2(n)), start / n);
  const k = splitPoint(n);
  return nodeHash(subtreeHash(src, start, start + k), subtreeHash(src, start + k, end));
}

/** The root of the first `size` leaves. */
export function rootAt(src: NodeSource, size: number): Hash {
  checkSize('size', size, 0);
  return size === 0 ? EMPTY_ROOT : subtreeHash(src, 0, size);
}

/** RFC 6962 §2.1.1 PATH(m, D[0:n]): the audit path of leaf m in a tree of n leaves, leaf side first. */
export function inclusionProof(src: NodeSource, leafIndex: number, size: number): Hash[] {
  checkSize('size', size, 1);
  checkSize('leafIndex', leafIndex, 0);
  if (leafIndex >= size) throw new RangeError('leafIndex must be smaller than size');
  const out: Hash[] = [];
  const path = (m: number, start: number, end: number): void => {
    const n = end - start;
    if (n === 1) return;
    const k = splitPoint(n);
    if (m < k) {
      path(m, start, start + k);
      out.push(subtreeHash(src, start + k, end));
    } else {
      path(m - k, start + k, end);
      out.push(subtreeHash(src, start, start + k));
    }
  };
  path(leafIndex, 0, size);
  return out;
}

/** RFC 6962 §2.1.2 PROOF(m, D[0:n]): shows the tree of `from` leaves is a prefix of the tree of `to`. */
export function consistencyProof(src: NodeSource, from: number, to: number): Hash[] {
  checkSize('from', from, 1);
  checkSize('to', to, 1);
  if (from > to) throw new RangeError('from must not exceed to');
  const out: Hash[] = [];
  const sub = (m: number, start: number, end: number, whole: boolean): void => {
    const n = end - start;
    if (m === n) {
      if (!whole) out.push(subtreeHash(src, start, end));
      return;
    }
    const k = splitPoint(n);
    if (m <= k) {
      sub(m, start, start + k, whole);
      out.push(subtreeHash(src, start + k, end));
    } else {
      sub(m - k, start + k, end, false);
      out.push(subtreeHash(src, start, start + k));
    }
  };
  sub(from, 0, to, true);
  return out;
}

/**
 * The node keys a computation reads, so a database-backed store can fetch them in one
 * query: runs it once against a source that only records (and answers a placeholder).
 */
export function nodesNeeded(run: (src: NodeSource) => unknown): NodeKey[] {
  const seen = new Map<string, NodeKey>();
  const placeholder = Buffer.alloc(32);
  run((level, index) => {
    seen.set(`${level}:${index}`, { level, index });
    return placeholder;
  });
  return [...seen.values()];
}

/** A NodeSource over fetched nodes; a missing one is an error, never a silent zero hash. */
export function sourceOf(nodes: Iterable<StoredNode>): NodeSource {
  const map = new Map<string, Hash>();
  for (const n of nodes) map.set(`${n.level}:${n.index}`, n.hash);
  return (level, index) => {
    const h = map.get(`${level}:${index}`);
    if (!h) throw new Error(`Merkle node (${level}, ${index}) is not stored`);
    return h;
  };
}

const lsb = (n: number) => n % 2 === 1;
const half = (n: number) => Math.floor(n / 2);

function sameHash(a: Hash, b: Hash): boolean {
  return a.length === 32 && b.length === 32 && a.equals(b);
}

function wellFormed(proof: Hash[]): boolean {
  return proof.every((p) => Buffer.isBuffer(p) && p.length === 32);
}

/** RFC 9162 §2.1.3.2: true only when `leaf` sits at `leafIndex` of the tree of `size` leaves with `root`. */
export function verifyInclusion(leaf: Hash, leafIndex: number, size: number, proof: Hash[], root: Hash): boolean {
  if (!Number.isSafeInteger(leafIndex) || !Number.isSafeInteger(size) || leafIndex < 0 || leafIndex >= size) {
    return false;
  }
  if (!wellFormed(proof) || leaf.length !== 32) return false;
  let fn = leafIndex;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      r = nodeHash(p, r);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && sameHash(r, root);
}

/** RFC 9162 §2.1.4.2: true only when the tree (`from`, `fromRoot`) is a prefix of (`to`, `toRoot`). */
export function verifyConsistency(from: number, to: number, proof: Hash[], fromRoot: Hash, toRoot: Hash): boolean {
  if (!Number.isSafeInteger(from) || !Number.isSafeInteger(to) || from < 1 || from > to) return false;
  if (!wellFormed(proof)) return false;
  if (from === to) return proof.length === 0 && sameHash(fromRoot, toRoot);
  if (proof.length === 0) return false;
  const path = isPowerOfTwo(from) ? [fromRoot, ...proof] : proof;
  let fn = from - 1;
  let sn = to - 1;
  while (lsb(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (lsb(fn) || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (!lsb(fn)) {
        while (!lsb(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sameHash(fr, fromRoot) && sameHash(sr, toRoot) && sn === 0;
}

/**
 * The compact frontier of a growing tree: one complete subtree per set bit of the size,
 * largest first. Appending a leaf merges equal-sized neighbours and reports every newly
 * completed node, which is exactly what a node store must persist. O(log n) memory.
 */
export class MerkleFrontier {
  private readonly stack: StoredNode[] = [];
  private count = 0;

  /** Resumes at `size` leaves from stored complete subtrees. */
  static resume(src: NodeSource, size: number): MerkleFrontier {
    checkSize('size', size, 0);
    const f = new MerkleFrontier();
    let offset = 0;
    for (let level = 52; level >= 0; level--) {
      const width = 2 ** level;
      if (size - offset >= width) {
        f.stack.push({ level, index: offset / width, hash: src(level, offset / width) });
        offset += width;
      }
    }
    f.count = size;
    return f;
  }

  get size(): number {
    return this.count;
  }

  /** Adds a leaf hash; returns the nodes it completed (the leaf itself at level 0 first). */
  push(leaf: Hash): StoredNode[] {
    const made: StoredNode[] = [{ level: 0, index: this.count, hash: leaf }];
    this.stack.push(made[0]);
    this.count++;
    while (this.stack.length >= 2) {
      const right = this.stack[this.stack.length - 1];
      const left = this.stack[this.stack.length - 2];
      if (left.level !== right.level) break;
      this.stack.splice(-2, 2);
      const node = { level: left.level + 1, index: Math.floor(left.index / 2), hash: nodeHash(left.hash, right.hash) };
      this.stack.push(node);
      made.push(node);
    }
    return made;
  }

  root(): Hash {
    if (!this.stack.length) return EMPTY_ROOT;
    let r = this.stack[this.stack.length - 1].hash;
    for (let i = this.stack.length - 2; i >= 0; i--) r = nodeHash(this.stack[i].hash, r);
    return r;
  }
}
