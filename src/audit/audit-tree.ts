/**
 * The Merkle tree's complete subtrees in the catalog (strongroom_audit_merkle): reads the
 * few nodes a root or proof needs in one query, and writes new ones in chunks.
 */
import type { EntityManager } from 'typeorm';
import { Hash, NodeKey, nodesNeeded, NodeSource, sourceOf, StoredNode } from '../engine/audit/merkle';
import { insertRows } from '../database/bulk-insert';
import { AuditMerkleNodeEntity, MERKLE_TABLE } from './audit-merkle-node.entity';

const INSERT_CHUNK = 500;

/** Runs `compute` against the stored tree, after fetching exactly the nodes it reads. */
export async function withStoredNodes<T>(m: EntityManager, compute: (src: NodeSource) => T): Promise<T> {
  const keys = nodesNeeded(compute);
  return compute(sourceOf(await readNodes(m, keys)));
}

export async function readNodes(m: EntityManager, keys: NodeKey[]): Promise<StoredNode[]> {
  if (!keys.length) return [];
  const qb = m.createQueryBuilder(AuditMerkleNodeEntity, 'n');
  const params: Record<string, number> = {};
  const where = keys.map((k, i) => {
    params[`l${i}`] = k.level;
    params[`i${i}`] = k.index;
    return `(n.level = :l${i} AND n.idx = :i${i})`;
  });
  const rows = await qb.where(where.join(' OR '), params).getMany();
  return rows.map((r) => ({ level: Number(r.level), index: Number(r.idx), hash: Buffer.from(r.hash, 'hex') }));
}

export async function writeNodes(m: EntityManager, nodes: StoredNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i += INSERT_CHUNK) {
    const rows = nodes.slice(i, i + INSERT_CHUNK).map((n) => [n.level, n.index, n.hash.toString('hex')]);
    await insertRows(m, MERKLE_TABLE, ['level', 'idx', 'hash'], rows);
  }
}

export const hex = (h: Hash): string => h.toString('hex');
