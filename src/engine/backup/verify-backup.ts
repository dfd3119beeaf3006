/**
 * Verification reads every stored byte: manifest checksum and MAC, each part's size and SHA-256,
 * every frame's authentication tag, decompression and plaintext checksum. Deep
 * verification also restores the backup into a scratch database and compares each
 * table's row count and content checksum with the manifest, and the rebuilt database's
 * inventory (object kinds, counts, definitions, row counts) with the manifest's, naming the
 * first difference.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { listParts } from '../archive/manifest';
import { ArchiveError } from '../archive/errors';
import { openPart, verifyPart } from '../archive/part-io';
import type { Manifest, PartInfo } from '../archive/manifest.types';
import { createDialect } from '../dialects/create-dialect';
import type { BackupStorage } from '../storage/storage';
import { authenticateManifest, keysForManifest, KeySource } from './backup-keys';
import { isBookkeepingTable } from './bookkeeping-tables';
import { inspectFileArchive } from './file-entry-rules';
import { readDatabaseDdl, readManifest, readSchemaSql, restoreInputs, tableRows } from './read-backup';
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
  try {
    checks.push({ name: 'authentication', ok: true, detail: await authenticateManifest(keySource, manifest) });
  } catch (e) {
    // Nothing else in an unauthenticated manifest is worth checking: its part list is the attacker's.
    checks.push({ name: 'authentication', ok: false, detail: (e as Error).message });
    return { ok: false, checks, manifest };
  }
  const own = manifest.tables.map((t) => t.name).filter(isBookkeepingTable);
  if (own.length) {
    checks.push({
      name: 'contents',
      ok: false,
      detail: `lists Strongroom's own table(s) ${own.join(', ')}, which no Strongroom backup holds`,
    });
    return { ok: false, checks, manifest };
  }
  let keys;
  try {
    keys = await keysForManifest(keySource, manifest);
    if (manifest.encryption) checks.push({ name: 'key', ok: true, detail: `key id ${manifest.encryption.keyId}` });
  } catch (e) {
    checks.push({ name: 'key', ok: false, detail: (e as Error).message });
    return { ok: false, checks, manifest };
  }
  for (const part of listParts(manifest)) {
    const r =
      part === manifest.files.part
        ? await verifyFilesPart(storage, dir, manifest, keys)
        : await verifyPart(storage, dir, part, manifest, keys);
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
  const rows = tableRows(storage, dir, m, keys);
  try {
    const schemaSql = await readSchemaSql(storage, dir, m, keys);
    if (m.image && rows.imageProblem) {
      // The image must be a sound database before anything is rebuilt from it.
      const problem = await rows.imageProblem();
      checks.push({
        name: 'page image',
        ok: problem === null,
        detail: problem ?? `${m.image.pageCount} pages of ${m.image.pageSize} bytes pass SQLite's integrity check`,
      });
      if (problem !== null) return checks;
    }
    const input = {
      encoding: m.engine.encoding,
      tables: restoreInputs(m, rows, (name) => effectiveRestoreMode(name, 'replace')),
      sequences: m.sequences,
    };
    const whole = dialect.restoreDatabase ? await readDatabaseDdl(storage, dir, m, keys) : null;
    if (whole && dialect.restoreDatabase) await dialect.restoreDatabase(whole, input);
    else {
      await dialect.applySchema(schemaSql);
      await dialect.restore(input);
    }
    checks.push({
      name: 'deep restore',
      ok: true,
      detail: `${m.tables.length} tables restored into a scratch ${m.engine.name} database`,
    });
    const snap = await dialect.openSnapshot(
      m.tables.map((t) => t.name),
      { parallel: 1 },
    );
    try {
      for (const t of m.tables) {
        // In the form the backup archived it in, or the checksums could not match.
        const exp = snap.exportTable(t.name, undefined, t.rowFormat);
        const sha = await sha256Of(exp.stream);
        const n = exp.rowCount();
        // A page image has no per-table checksum: the rebuilt rows must equal the image's own.
        const expected = m.image ? await sha256Of(await rows.open(t)) : t.sha256;
        const ok = n === t.rows && sha === expected;
        checks.push({
          name: `table ${t.name}`,
          ok,
          detail: ok
            ? `${n} rows, content checksum matches${m.image ? ' the page image' : ''}`
            : `restored ${n} rows (manifest ${t.rows}), checksum ${sha === expected ? 'matches' : 'differs'}`,
        });
      }
    } finally {
      await snap.close();
    }
    if (m.inventory && dialect.compareInventory) {
      // The rebuilt database must hold what the source held at the snapshot, object kind by kind.
      const diff = await dialect.compareInventory(
        m.inventory,
        m.tables.map((t) => t.name),
        schemaSql,
      );
      checks.push({
        name: 'inventory',
        ok: diff === null,
        detail: diff ?? 'every object and row count of the inventory came back',
      });
    }
  } catch (e) {
    checks.push({ name: 'deep restore', ok: false, detail: (e as Error).message });
  } finally {
    await rows.close().catch(() => undefined);
    await dialect.close().catch(() => undefined);
    await scratch.drop().catch(() => undefined);
  }
  return checks;
}

/**
 * The file part in one read: every byte checked as for any part, and every tar entry checked
 * against the rules a restore applies (file-entry-rules.ts), so a crafted archive with links,
 * devices or escaping paths is unsound here, not only at restore time.
 */
async function verifyFilesPart(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: Awaited<ReturnType<typeof keysForManifest>>,
): Promise<{ ok: boolean; detail: string }> {
  const part = m.files.part as PartInfo;
  try {
    const stream = await openPart(storage, dir, part, m, keys);
    const stats = await inspectFileArchive(stream, m.files.roots.length, m.files);
    return {
      ok: true,
      detail: `${part.name}: ${part.size} stored bytes and ${part.rawBytes} plaintext bytes verified; ${stats.count} regular files, no links or special files`,
    };
  } catch (err) {
    if (err instanceof ArchiveError) return { ok: false, detail: err.message };
    return { ok: false, detail: `${part.name}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}
