/**
 * Verification reads every stored byte: manifest checksum, each part's size and SHA-256,
 * every frame's authentication tag, decompression and plaintext checksum. Deep
 * verification also restores the backup into a scratch database and compares each
 * table's row count and content checksum with the manifest, and, for a whole-database
 * backup, the rebuilt database's inventory (object kinds, counts, definitions) with the
 * manifest's.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { listParts } from '../archive/manifest';
import { verifyPart } from '../archive/part-io';
import type { Manifest } from '../archive/manifest.types';
import { createDialect } from '../dialects/create-dialect';
import type { BackupStorage } from '../storage/storage';
import { keysForManifest, KeySource } from './backup-keys';
import { readDatabaseDdl, readManifest, readSchemaSql, restoreInputs } from './read-backup';
import { compareInventories } from '../dialects/postgres/pg-inventory';
import { effectiveRestoreMode } from './restore-mode';
import { createScratchDatabase } from './scratch-database';

export interface VerifyCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface VerifyResult {
  ok: boolean;
  checks: VerifyCheck[];
  manifest: Manifest | null;
}

export async function verifyBackup(
  storage: BackupStorage,
  dir: string,
  keySource: KeySource,
  opts: { deep?: boolean; scratchServerUrl?: string } = {},
): Promise<VerifyResult> {
  const checks: VerifyCheck[] = [];
  let manifest: Manifest;
  try {
    manifest = await readManifest(storage, dir);
    checks.push({ name: 'manifest', ok: true, detail: `checksum ${manifest.checksum}` });
  } catch (e) {
    checks.push({ name: 'manifest', ok: false, detail: (e as Error).message });
    return { ok: false, checks, manifest: null };
  }
  return verifyParts(storage, dir, manifest, keySource, opts, checks);
}

/** Checks every part a (already parsed) manifest lists; used directly on imports in quarantine. */
export async function verifyParts(
  storage: BackupStorage,
  dir: string,
  manifest: Manifest,
  keySource: KeySource,
  opts: { deep?: boolean; scratchServerUrl?: string } = {},
  checks: VerifyCheck[] = [],
): Promise<VerifyResult> {
  let keys;
  try {
    keys = await keysForManifest(keySource, manifest);
    if (manifest.encryption) checks.push({ name: 'key', ok: true, detail: `key id ${manifest.encryption.keyId}` });
  } catch (e) {
    checks.push({ name: 'key', ok: false, detail: (e as Error).message });
    return { ok: false, checks, manifest };
  }
  for (const part of listParts(manifest)) {
    const r = await verifyPart(storage, dir, part, manifest, keys);
    checks.push({ name: `part ${part.name}`, ok: r.ok, detail: r.detail });
  }
  const partsOk = checks.every((c) => c.ok);
  if (opts.deep) {
    if (!partsOk) checks.push({ name: 'deep restore', ok: false, detail: 'skipped: the stored parts are not sound' });
    else checks.push(...(await deepCheck(storage, dir, manifest, keys, opts.scratchServerUrl)));
  }
  return { ok: checks.every((c) => c.ok), checks, manifest };
}

async function deepCheck(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: Awaited<ReturnType<typeof keysForManifest>>,
  scratchServerUrl?: string,
): Promise<VerifyCheck[]> {
  if (m.engine.name === 'postgres' && !scratchServerUrl) {
    return [{ name: 'deep restore', ok: false, detail: 'no PostgreSQL server to create a scratch database on' }];
  }
  const scratch = await createScratchDatabase(m.engine.name === 'postgres' ? (scratchServerUrl as string) : 'sqlite:');
  const dialect = createDialect(scratch.url);
  const checks: VerifyCheck[] = [];
  try {
    const input = {
      encoding: m.engine.encoding,
      tables: restoreInputs(storage, dir, m, keys, (name) => effectiveRestoreMode(name, 'replace')),
      sequences: m.sequences,
    };
    const whole = dialect.restoreDatabase ? await readDatabaseDdl(storage, dir, m, keys) : null;
    if (whole && dialect.restoreDatabase) await dialect.restoreDatabase(whole, input);
    else {
      await dialect.applySchema(await readSchemaSql(storage, dir, m, keys));
      await dialect.restore(input);
    }
    checks.push({ name: 'deep restore', ok: true, detail: `${m.tables.length} tables restored into a scratch ${m.engine.name} database` });
    const snap = await dialect.openSnapshot(m.tables.map((t) => t.name), { parallel: 1 });
    try {
      for (const t of m.tables) {
        const exp = snap.exportTable(t.name);
        const sha = await sha256Of(exp.stream);
        const rows = exp.rowCount();
        const ok = rows === t.rows && sha === t.sha256;
        checks.push({
          name: `table ${t.name}`,
          ok,
          detail: ok ? `${rows} rows, content checksum matches` : `restored ${rows} rows (manifest ${t.rows}), checksum ${sha === t.sha256 ? 'matches' : 'differs'}`,
        });
      }
    } finally {
      await snap.close();
    }
    if (m.inventory && dialect.inventory) {
      // The rebuilt database must hold what the source held at the snapshot, object kind by kind.
      const rebuilt = await dialect.inventory();
      const diff = compareInventories(m.inventory, { schemas: rebuilt.schemas, rows: Object.fromEntries(m.tables.map((t) => [t.name, t.rows])) });
      checks.push({ name: 'inventory', ok: diff === null, detail: diff ?? 'every object kind of every schema rebuilt with the same definitions' });
    }
  } catch (e) {
    checks.push({ name: 'deep restore', ok: false, detail: (e as Error).message });
  } finally {
    await dialect.close().catch(() => undefined);
    await scratch.drop().catch(() => undefined);
  }
  return checks;
}

async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}
