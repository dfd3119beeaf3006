/**
 * Audit Merkle proofs at scale, engine level (no database): proof sizes and verification
 * time at ten million synthetic events. Leaves are SHA-256(0x00 ‖ SHA-256(i)), as if each
 * event's chain hash were SHA-256(i). Every complete subtree a proof reads is computed
 * in one pass over the leaves (the service reads them from the catalog instead); verifying
 * is what an auditor pays.
 *
 *   npx ts-node --transpile-only bench/audit-proofs.ts [events=10000000]
 *   (also part of `npm run bench:audit`, bench/audit-bench.ts)
 */
import { createHash } from 'node:crypto';
import {
  consistencyProof,
  Hash,
  inclusionProof,
  NodeKey,
  leafHash,
  nodeHash,
  nodesNeeded,
  rootAt,
  sourceOf,
  StoredNode,
  verifyConsistency,
  verifyInclusion,
} from '../src/engine/audit/merkle';

export interface ProofsAtScale {
  events: number;
  storedNodesRead: { inclusion: number; consistency: number };
  inclusion: { leafIndex: number; hashes: number; bytes: number; hexJsonBytes: number; verifyMicroseconds: number };
  consistency: { from: number; hashes: number; bytes: number; hexJsonBytes: number; verifyMicroseconds: number };
  /** Mutated proofs (a flipped bit in each hash, a wrong index, a wrong size) all refused. */
  mutantsRefused: number;
  setupSeconds: number;
}

export const leaf = (i: number): Hash => leafHash(createHash('sha256').update(String(i)).digest());

/**
 * The complete subtrees `keys` names, from one pass over the leaves: a stack of the
 * subtrees completed so far (as MerkleFrontier keeps), each node made once and kept when
 * asked for. n leaf hashes and n - 1 node hashes in all, memory O(log n).
 */
export function subtrees(n: number, keys: NodeKey[]): StoredNode[] {
  const want = new Set(keys.map((k) => `${k.level}:${k.index}`));
  const found: StoredNode[] = [];
  const keep = (node: StoredNode) => {
    if (want.has(`${node.level}:${node.index}`)) found.push(node);
  };
  const stack: StoredNode[] = [];
  for (let i = 0; i < n; i++) {
    let node: StoredNode = { level: 0, index: i, hash: leaf(i) };
    keep(node);
    while (stack.length && stack[stack.length - 1].level === node.level) {
      const left = stack.pop()!;
      node = { level: node.level + 1, index: left.index >> 1, hash: nodeHash(left.hash, node.hash) };
      keep(node);
    }
    stack.push(node);
  }
  if (found.length !== want.size) throw new Error(`only ${found.length} of ${want.size} subtrees were found`);
  return found;
}

function timeIt(label: string, fn: () => boolean): number {
  const rounds = 2000;
  if (!fn()) throw new Error(`${label}: the proof did not verify`);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1e3 / rounds;
}

const flipped = (h: Hash): Hash => {
  const c = Buffer.from(h);
  c[c.length - 1] ^= 1;
  return c;
};

export function proofsAtScale(n: number): ProofsAtScale {
  const leafIndex = Math.floor(n * 0.37);
  const from = Math.floor(n * 0.61) + 1;
  const t0 = process.hrtime.bigint();
  const inclusionKeys = nodesNeeded((s) => inclusionProof(s, leafIndex, n));
  const consistencyKeys = nodesNeeded((s) => consistencyProof(s, from, n));
  const keys = [
    ...inclusionKeys,
    ...consistencyKeys,
    ...nodesNeeded((s) => rootAt(s, n)),
    ...nodesNeeded((s) => rootAt(s, from)),
  ];
  const nodes = subtrees(n, keys);
  const built = Number(process.hrtime.bigint() - t0) / 1e9;
  const src = sourceOf(nodes);
  const root = rootAt(src, n);
  const fromRoot = rootAt(src, from);
  const inc = inclusionProof(src, leafIndex, n);
  const cons = consistencyProof(src, from, n);
  const theLeaf = leaf(leafIndex);

  // A verifier that accepts a bad proof is the classic failure: every mutant must be refused.
  const mutants: (() => boolean)[] = [
    () => verifyInclusion(theLeaf, leafIndex + 1, n, inc, root),
    // A size whose path has another shape (a size of the same shape names the same tree: the signed checkpoint binds it).
    () => verifyInclusion(theLeaf, leafIndex, 2 * n, inc, root),
    () => verifyInclusion(flipped(theLeaf), leafIndex, n, inc, root),
    () => verifyInclusion(theLeaf, leafIndex, n, inc.slice(1), root),
    () => verifyInclusion(theLeaf, leafIndex, n, [...inc, inc[0]], root),
    ...inc.map(
      (_, i) => () =>
        verifyInclusion(
          theLeaf,
          leafIndex,
          n,
          inc.map((h, j) => (i === j ? flipped(h) : h)),
          root,
        ),
    ),
    () => verifyConsistency(from - 1, n, cons, fromRoot, root),
    () => verifyConsistency(from, n, cons, flipped(fromRoot), root),
    () => verifyConsistency(from, n, cons.slice(1), fromRoot, root),
    ...cons.map(
      (_, i) => () =>
        verifyConsistency(
          from,
          n,
          cons.map((h, j) => (i === j ? flipped(h) : h)),
          fromRoot,
          root,
        ),
    ),
  ];
  const accepted = mutants.map((m, i) => (m() ? i : -1)).filter((i) => i >= 0);
  if (accepted.length) throw new Error(`mutated proofs ${accepted.join(', ')} were accepted`);

  const incUs = timeIt('inclusion', () => verifyInclusion(theLeaf, leafIndex, n, inc, root));
  const consUs = timeIt('consistency', () => verifyConsistency(from, n, cons, fromRoot, root));
  const hexJson = (p: Hash[]) => JSON.stringify(p.map((h) => h.toString('hex'))).length;
  return {
    events: n,
    storedNodesRead: { inclusion: inclusionKeys.length, consistency: consistencyKeys.length },
    inclusion: {
      leafIndex,
      hashes: inc.length,
      bytes: inc.length * 32,
      hexJsonBytes: hexJson(inc),
      verifyMicroseconds: +incUs.toFixed(1),
    },
    consistency: {
      from,
      hashes: cons.length,
      bytes: cons.length * 32,
      hexJsonBytes: hexJson(cons),
      verifyMicroseconds: +consUs.toFixed(1),
    },
    mutantsRefused: mutants.length,
    setupSeconds: +built.toFixed(1),
  };
}

if (require.main === module) {
  const result = proofsAtScale(Number(process.argv[2] ?? 10_000_000));
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
