/**
 * Audit Merkle proofs at scale, engine level (no database): proof sizes and verification
 * time at ten million synthetic events. Leaves are SHA-256(0x00 ‖ SHA-256(i)), as if each
 * event's chain hash were SHA-256(i). Every complete subtree a proof reads is computed
 * once from its leaves (the service reads them from the catalog instead), so building
 * costs one pass over the leaves; verifying is what an auditor pays.
 *
 *   npx ts-node --transpile-only bench/audit-proofs.ts [events=10000000]
 */
import { createHash } from 'node:crypto';
import {
  consistencyProof,
  Hash,
  inclusionProof,
  leafHash,
  nodeHash,
  nodesNeeded,
  rootAt,
  sourceOf,
  StoredNode,
  verifyConsistency,
  verifyInclusion,
} from '../src/engine/audit/merkle';

const n = Number(process.argv[2] ?? 10_000_000);
const leaf = (i: number): Hash => leafHash(createHash('sha256').update(String(i)).digest());

/** Hash of the complete subtree (level, index), straight from its leaves. */
function subtree(level: number, index: number): Hash {
  if (level === 0) return leaf(index);
  return nodeHash(subtree(level - 1, index * 2), subtree(level - 1, index * 2 + 1));
}

const leafIndex = Math.floor(n * 0.37);
const from = Math.floor(n * 0.61) + 1;
const t0 = process.hrtime.bigint();
const keys = [
  ...nodesNeeded((s) => inclusionProof(s, leafIndex, n)),
  ...nodesNeeded((s) => consistencyProof(s, from, n)),
  ...nodesNeeded((s) => rootAt(s, n)),
  ...nodesNeeded((s) => rootAt(s, from)),
];
const unique = new Map(keys.map((k) => [`${k.level}:${k.index}`, k]));
const nodes: StoredNode[] = [...unique.values()].map((k) => ({ ...k, hash: subtree(k.level, k.index) }));
const built = Number(process.hrtime.bigint() - t0) / 1e9;
const src = sourceOf(nodes);
const root = rootAt(src, n);
const fromRoot = rootAt(src, from);
const inc = inclusionProof(src, leafIndex, n);
const cons = consistencyProof(src, from, n);

function timeIt(label: string, fn: () => boolean): number {
  const rounds = 2000;
  if (!fn()) throw new Error(`${label}: the proof did not verify`);
  const start = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) fn();
  return Number(process.hrtime.bigint() - start) / 1e3 / rounds;
}
const incUs = timeIt('inclusion', () => verifyInclusion(leaf(leafIndex), leafIndex, n, inc, root));
const consUs = timeIt('consistency', () => verifyConsistency(from, n, cons, fromRoot, root));
const result = {
  events: n,
  storedNodesRead: { inclusion: nodesNeeded((s) => inclusionProof(s, leafIndex, n)).length },
  inclusion: {
    hashes: inc.length,
    bytes: inc.length * 32,
    hexJsonBytes: JSON.stringify(inc.map((h) => h.toString('hex'))).length,
    verifyMicroseconds: +incUs.toFixed(1),
  },
  consistency: { from, hashes: cons.length, bytes: cons.length * 32, verifyMicroseconds: +consUs.toFixed(1) },
  setupSeconds: +built.toFixed(1),
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
