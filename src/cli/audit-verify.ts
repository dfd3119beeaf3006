/**
 * `strongroom audit verify`: the audit trail verified from files alone, with the same
 * TrailVerifier as `GET /api/audit/verify`. No database; no network when the checkpoints
 * come from a directory. Events stream line by line (bounded memory).
 */
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { AuditEvent } from '../engine/audit/audit-hash';
import { parsePublicKey } from '../engine/audit/checkpoint';
import { CheckpointInput, TrailVerdict, TrailVerifier } from '../engine/audit/trail-verifier';
import type { BackupStorage } from '../engine/storage/storage';
import { CommandFailed } from './cli-errors';

export const CHECKPOINT_SUFFIX = '.checkpoint';
/** Where the service writes checkpoints in a storage (audit-checkpointer.ts). */
export const CHECKPOINT_PREFIX = 'checkpoints/';

/** `--public-key`: the key itself, or a file that holds it. */
export function readPublicKey(arg: string): Buffer {
  const text = existsSync(arg) && statSync(arg).isFile() ? readFileSync(arg, 'utf8') : arg;
  try {
    return parsePublicKey(text);
  } catch (e) {
    throw new CommandFailed(`--public-key: ${(e as Error).message}`);
  }
}

/**
 * The `*.checkpoint` files of a directory. A storage root (a BACKUP_DIR or OFFSITE_DIR, or a
 * copy of one) holds them in its `checkpoints/` subdirectory: given such a root, that is read.
 */
export function checkpointsFromDir(dir: string): CheckpointInput[] {
  const sub = join(dir, CHECKPOINT_PREFIX);
  const own = readdirSync(dir).filter((name) => name.endsWith(CHECKPOINT_SUFFIX));
  if (!own.length && existsSync(sub) && statSync(sub).isDirectory()) return checkpointsFromDir(sub);
  return own.sort().map((name) => ({ source: join(dir, name), text: readFileSync(join(dir, name), 'utf8') }));
}

/** `--checkpoints` values naming a configured storage instead of a directory. */
export const STORAGE_SOURCES = ['storage:backup', 'storage:offsite'] as const;
export type StorageSource = (typeof STORAGE_SOURCES)[number];

/**
 * Every checkpoint from each source (`--checkpoints a,b`): directories, or a configured
 * storage (`storage:backup`, `storage:offsite`, read with the configuration's credentials).
 * Sources may overlap; the verifier counts identical checkpoints once.
 */
export async function checkpointsFromSources(
  sources: string[],
  storageOf: (which: StorageSource) => BackupStorage | null,
): Promise<CheckpointInput[]> {
  const out: CheckpointInput[] = [];
  for (const source of sources) {
    if ((STORAGE_SOURCES as readonly string[]).includes(source)) {
      const storage = storageOf(source as StorageSource);
      if (!storage) throw new CommandFailed(`--checkpoints ${source}: no such storage is configured`);
      out.push(...(await checkpointsFromStorage(storage)));
    } else {
      out.push(...checkpointsFromDir(source));
    }
  }
  return out;
}

export async function checkpointsFromStorage(
  storage: BackupStorage,
  prefix = CHECKPOINT_PREFIX,
): Promise<CheckpointInput[]> {
  const out: CheckpointInput[] = [];
  for (const o of await storage.list(prefix)) {
    if (!o.key.endsWith(CHECKPOINT_SUFFIX)) continue;
    const chunks: Buffer[] = [];
    for await (const c of await storage.get(o.key)) chunks.push(c as Buffer);
    out.push({ source: `${storage.location}/${o.key}`, text: Buffer.concat(chunks).toString('utf8') });
  }
  return out;
}

/** Verifies an NDJSON export; a line that is not an event is itself a failure, named by line number. */
export async function verifyExport(
  exportFile: string,
  checkpoints: CheckpointInput[],
  publicKey: Buffer,
): Promise<TrailVerdict> {
  const verifier = new TrailVerifier({ checkpoints, publicKey });
  const lines = createInterface({ input: createReadStream(exportFile, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (!line.trim()) continue;
    let e: AuditEvent;
    try {
      e = JSON.parse(line) as AuditEvent;
    } catch {
      throw new CommandFailed(`${exportFile} line ${n} is not JSON: not an audit export`);
    }
    if (!e || typeof e !== 'object' || !Number.isSafeInteger(e.seq) || typeof e.hash !== 'string') {
      throw new CommandFailed(`${exportFile} line ${n} is not an audit event (seq and hash are missing)`);
    }
    verifier.push(e);
  }
  return verifier.finish();
}

/** Human lines for a verdict: what was checked, and the first failure. */
export function verdictLines(v: TrailVerdict): string[] {
  const lines = [
    `${v.chain.ok ? 'ok  ' : 'FAIL'}  chain: ${v.chain.checked} events${v.chain.head ? `, head ${v.chain.head.seq} ${v.chain.head.hash}` : ''}`,
    `${v.checkpoints.ok ? 'ok  ' : 'FAIL'}  checkpoints: ${v.checkpoints.checked} checked${
      v.checkpoints.latest
        ? `, latest covers ${v.checkpoints.latest.treeSize} events (${v.checkpoints.latest.time})`
        : ''
    }`,
  ];
  const covered = v.checkpoints.latest?.treeSize ?? 0;
  if (v.ok && v.chain.checked > covered) {
    lines.push(
      `note  ${v.chain.checked - covered} newer events are not covered by a checkpoint yet (the next one will)`,
    );
  }
  if (v.failure) lines.push(`first failure: ${v.failure}`);
  return lines;
}
