import {
  consistencyProof,
  EMPTY_ROOT,
  Hash,
  inclusionProof,
  leafHash,
  MerkleFrontier,
  NodeSource,
  nodeHash,
  nodesNeeded,
  rootAt,
  sourceOf,
  StoredNode,
  verifyConsistency,
  verifyInclusion,
} from './merkle';

const hex = (b: Hash) => b.toString('hex');

/** MTH straight from RFC 6962 §2.1, over the leaf data: the reference the store-based code must match. */
function referenceRoot(leaves: Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return leaves[0];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

/** A node store built the way the service builds it: by pushing leaves through a frontier. */
function storeOf(n: number): { leaves: Hash[]; src: NodeSource; nodes: StoredNode[] } {
  const f = new MerkleFrontier();
  const nodes: StoredNode[] = [];
  const leaves: Hash[] = [];
  for (let i = 0; i < n; i++) {
    const leaf = leafHash(Buffer.from(`event ${i}`));
    leaves.push(leaf);
    nodes.push(...f.push(leaf));
  }
  return { leaves, src: sourceOf(nodes), nodes };
}

// Test vectors of the Certificate Transparency / transparency-dev Merkle tests (RFC 6962 hashing).
const CT_LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'];
const CT_ROOTS = [
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];

describe('Merkle tree (RFC 6962/9162)', () => {
  it('matches the published CT roots for sizes 1..8, and the empty root', () => {
    const f = new MerkleFrontier();
    const nodes: StoredNode[] = [];
    expect(hex(f.root())).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    CT_LEAVES.forEach((d, i) => {
      nodes.push(...f.push(leafHash(Buffer.from(d, 'hex'))));
      expect(hex(f.root())).toBe(CT_ROOTS[i]);
      expect(hex(rootAt(sourceOf(nodes), i + 1))).toBe(CT_ROOTS[i]);
    });
  });

  it('computes roots from stored subtrees exactly as the RFC recursion does, for every size up to 70', () => {
    const { leaves, src } = storeOf(70);
    for (let n = 0; n <= 70; n++) expect(hex(rootAt(src, n))).toBe(hex(referenceRoot(leaves.slice(0, n))));
  });

  it('resumes a frontier from stored nodes at any size and keeps producing the same tree', () => {
    const { leaves, src, nodes } = storeOf(40);
    for (const at of [0, 1, 7, 16, 33]) {
      const f = MerkleFrontier.resume(sourceOf(nodes.filter((x) => (x.index + 1) * 2 ** x.level <= at)), at);
      expect(hex(f.root())).toBe(hex(rootAt(src, at)));
      for (let i = at; i < 40; i++) f.push(leaves[i]);
      expect(hex(f.root())).toBe(hex(rootAt(src, 40)));
    }
  });

  it('produces inclusion proofs that verify for every leaf of every size up to 33 (brute force)', () => {
    const { leaves, src } = storeOf(33);
    for (let n = 1; n <= 33; n++) {
      const root = referenceRoot(leaves.slice(0, n));
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(src, m, n);
        expect(proof.length).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
        expect(verifyInclusion(leaves[m], m, n, proof, root)).toBe(true);
      }
    }
  });

  it('produces consistency proofs that verify for every pair of sizes up to 33 (brute force)', () => {
    const { leaves, src } = storeOf(33);
    const roots = Array.from({ length: 34 }, (_, n) => referenceRoot(leaves.slice(0, n)));
    for (let n = 1; n <= 33; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = consistencyProof(src, m, n);
        expect(verifyConsistency(m, n, proof, roots[m], roots[n])).toBe(true);
      }
    }
  });

  it('reads few nodes: O(log n) keys for a proof in a tree of ten million leaves', () => {
    const n = 10_000_000;
    const keys = nodesNeeded((s) => inclusionProof(s, 1_234_567, n));
    expect(keys.length).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(n)));
    const cons = nodesNeeded((s) => consistencyProof(s, 6_000_001, n));
    expect(cons.length).toBeLessThanOrEqual(3 * Math.ceil(Math.log2(n)));
  });

  it('refuses to answer from a store that lacks a node (never a silent zero hash)', () => {
    const { nodes } = storeOf(4);
    expect(() => rootAt(sourceOf(nodes), 5)).toThrow(/not stored/);
  });
});

/** Mutation-style: a verifier that accepts any of these is broken. */
describe('Merkle verifiers reject every altered proof', () => {
  const N = 17;
  const { leaves, src } = storeOf(N);
  const roots = Array.from({ length: N + 1 }, (_, n) => referenceRoot(leaves.slice(0, n)));
  const bigSrc = storeOf(2 * N).src;
  const pathLength = (m: number, n: number) => inclusionProof(bigSrc, m, n).length;
  const flip = (b: Hash) => {
    const c = Buffer.from(b);
    c[c.length - 1] ^= 1;
    return c;
  };

  it('inclusion: wrong leaf, index, size, root; any node flipped, dropped, added, swapped or reordered', () => {
    for (let n = 1; n <= N; n++) {
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(src, m, n);
        const root = roots[n];
        expect(verifyInclusion(flip(leaves[m]), m, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaves[m], m, n, proof, flip(root))).toBe(false);
        if (n > 1) {
          expect(verifyInclusion(leaves[m], (m + 1) % n, n, proof, root)).toBe(false);
          expect(verifyInclusion(leaves[(m + 1) % n], m, n, proof, root)).toBe(false);
        }
        // The size is bound to the root by the checkpoint's signature; on its own a wrong size
        // is caught whenever it changes the path's shape (same shape, same hashes: same tree).
        for (const other of [n - 1, n + 1, 2 * n]) {
          if (other > m && pathLength(m, other) !== proof.length) {
            expect(verifyInclusion(leaves[m], m, other, proof, root)).toBe(false);
          }
        }
        expect(verifyInclusion(leaves[m], n, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaves[m], -1, n, proof, root)).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          const mutated = proof.map((p, j) => (j === i ? flip(p) : p));
          expect(verifyInclusion(leaves[m], m, n, mutated, root)).toBe(false);
          expect(
            verifyInclusion(
              leaves[m],
              m,
              n,
              proof.filter((_, j) => j !== i),
              root,
            ),
          ).toBe(false);
        }
        for (let i = 0; i + 1 < proof.length; i++) {
          const swapped = [...proof];
          [swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]];
          if (!swapped[i].equals(swapped[i + 1])) {
            expect(verifyInclusion(leaves[m], m, n, swapped, root)).toBe(false);
          }
        }
        expect(verifyInclusion(leaves[m], m, n, [...proof, leaves[0]], root)).toBe(false);
        expect(verifyInclusion(leaves[m], m, n, [leaves[0], ...proof], root)).toBe(false);
        expect(verifyInclusion(leaves[m], m, n, [...proof, Buffer.alloc(31)], root)).toBe(false);
      }
    }
  });

  it('inclusion: an inner node passed off as leaf data (second preimage) is refused', () => {
    // Node (1, 0) covers leaves 0 and 1; with the 0x00/0x01 prefixes, its bytes as a leaf hash to something else.
    const inner = nodeHash(leaves[0], leaves[1]);
    const proof = inclusionProof(src, 0, 4).slice(1);
    expect(verifyInclusion(inner, 0, 2, proof, roots[4])).toBe(true); // the raw hashes do combine...
    expect(verifyInclusion(leafHash(inner), 0, 2, proof, roots[4])).toBe(false); // ...but no leaf data reaches them
  });

  it('consistency: wrong sizes or roots; any node flipped, dropped, added or swapped', () => {
    for (let n = 2; n <= N; n++) {
      for (let m = 1; m < n; m++) {
        const proof = consistencyProof(src, m, n);
        const [a, b] = [roots[m], roots[n]];
        expect(verifyConsistency(m, n, proof, a, b)).toBe(true);
        expect(verifyConsistency(m, n, proof, flip(a), b)).toBe(false);
        expect(verifyConsistency(m, n, proof, a, flip(b))).toBe(false);
        expect(verifyConsistency(m, n, proof, b, a)).toBe(false);
        expect(verifyConsistency(m, n, [], a, b)).toBe(false);
        if (m + 1 < n) expect(verifyConsistency(m + 1, n, proof, a, b)).toBe(false);
        if (m > 1) expect(verifyConsistency(m - 1, n, proof, a, b)).toBe(false);
        for (const other of [n - 1, n + 1, 2 * n]) {
          if (other > m && consistencyProof(bigSrc, m, other).length !== proof.length) {
            expect(verifyConsistency(m, other, proof, a, b)).toBe(false);
          }
        }
        expect(verifyConsistency(n, m, proof, b, a)).toBe(false);
        for (let i = 0; i < proof.length; i++) {
          expect(
            verifyConsistency(
              m,
              n,
              proof.map((p, j) => (j === i ? flip(p) : p)),
              a,
              b,
            ),
          ).toBe(false);
          expect(
            verifyConsistency(
              m,
              n,
              proof.filter((_, j) => j !== i),
              a,
              b,
            ),
          ).toBe(false);
        }
        for (let i = 0; i + 1 < proof.length; i++) {
          const swapped = [...proof];
          [swapped[i], swapped[i + 1]] = [swapped[i + 1], swapped[i]];
          if (!swapped[i].equals(swapped[i + 1])) expect(verifyConsistency(m, n, swapped, a, b)).toBe(false);
        }
        expect(verifyConsistency(m, n, [...proof, leaves[0]], a, b)).toBe(false);
      }
    }
  });

  it('consistency: a tree that is not an extension (one old leaf changed) is refused', () => {
    const forked = [...leaves];
    forked[3] = leafHash(Buffer.from('rewritten'));
    const forkedStore = sourceOf(
      (() => {
        const f = new MerkleFrontier();
        return forked.flatMap((l) => f.push(l));
      })(),
    );
    for (const [m, n] of [
      [5, 9],
      [4, 17],
      [8, 16],
      [12, 15],
    ]) {
      const proof = consistencyProof(forkedStore, m, n);
      expect(verifyConsistency(m, n, proof, roots[m], rootAt(forkedStore, n))).toBe(false);
    }
  });

  it('same size: only an empty proof between equal roots', () => {
    expect(verifyConsistency(5, 5, [], roots[5], roots[5])).toBe(true);
    expect(verifyConsistency(5, 5, [], roots[5], roots[6])).toBe(false);
    expect(verifyConsistency(5, 5, [roots[1]], roots[5], roots[5])).toBe(false);
    expect(verifyConsistency(0, 5, [], EMPTY_ROOT, roots[5])).toBe(false);
  });
});
