/**
 * Reading a stored backup back: its manifest, its parts as verified plaintext, and the
 * inputs a dialect needs to restore it. Shared by verify, recovery and the CLI.
 */
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { parseManifest } from '../archive/manifest';
import { openPart, partKey } from '../archive/part-io';
import { Manifest, MANIFEST_FILE, type ManifestTable, type PartInfo } from '../archive/manifest.types';
import type { KeyLookup } from '../archive/encryption';
import type { ArchivedRoles, DatabaseDdl, RestoreMode, RestoreTableInput } from '../dialects/dialect';
import { parseArchivedRoles } from '../dialects/postgres/pg-roles';
import type { BackupStorage } from '../storage/storage';
import { isBookkeepingTable } from './bookkeeping-tables';
import { readAll } from '../storage/read-all';
import { materializeImage, type ScratchImage } from './page-image-archive';
import type * as SqliteSnapshotModule from '../dialects/sqlite/sqlite-snapshot';
type SqliteSnapshot = SqliteSnapshotModule.SqliteSnapshot;

export async function readManifest(storage: BackupStorage, dir: string): Promise<Manifest> {
  return parseManifest(await readAll(await storage.get(partKey(dir, MANIFEST_FILE))));
}

export async function readSchemaSql(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: KeyLookup | null,
): Promise<string> {
  if (!m.schema.part) return '';
  return (await readAll(await openPart(storage, dir, m.schema.part, m, keys))).toString('utf8');
}

/** A whole-database backup's DDL sections and large objects; null for backups without sections. */
export async function readDatabaseDdl(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: KeyLookup | null,
): Promise<{ ddl: DatabaseDdl; largeObjects: (() => Promise<Readable>) | null; roles: ArchivedRoles | null } | null> {
  if (!m.schema.part || !m.schema.postData) return null;
  const text = async (part: PartInfo) => (await readAll(await openPart(storage, dir, part, m, keys))).toString('utf8');
  const lo = m.schema.largeObjects;
  return {
    ddl: { preData: await text(m.schema.part), postData: await text(m.schema.postData) },
    largeObjects: lo ? () => openPart(storage, dir, lo, m, keys) : null,
    roles: m.schema.roles ? parseArchivedRoles(await text(m.schema.roles)) : null,
  };
}

/**
 * Where a backup's table rows come from: each table's part, or, in a page-image backup, the
 * image decrypted into a scratch database (once, on the first table opened) and read table by
 * table in the row encoding a per-table backup would have archived. `close` removes the scratch.
 */
export interface TableRows {
  open(t: ManifestTable): Promise<Readable>;
  /** Page-image backups: SQLite's integrity check of the image (null when sound). */
  imageProblem?(): Promise<string | null>;
  close(): Promise<void>;
}

/** A page image's snapshot. SQLite is loaded here, on first use: a PostgreSQL restore never needs it. */
function openImageSnapshot(file: string, tables: string[]): Promise<SqliteSnapshot> {
  const { SqliteSnapshot } = require('../dialects/sqlite/sqlite-snapshot') as typeof SqliteSnapshotModule;
  return SqliteSnapshot.open(file, tables);
}

export function tableRows(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: KeyLookup | null,
  workDir: string = tmpdir(),
): TableRows {
  if (!m.image) {
    return {
      open: (t) => {
        if (!t.part) throw new Error(`table ${t.name} has no part in backup ${m.id}`);
        // Rows are the bulk of every restore: their stored SHA-256 and frame tags check every
        // byte, the plaintext's length is checked too, and its SHA-256 is left to verification
        // (OpenPartOptions.plaintextSha256).
        return openPart(storage, dir, t.part, m, keys, { plaintextSha256: false });
      },
      close: async () => undefined,
    };
  }
  let opened: Promise<{ scratch: ScratchImage; snapshot: SqliteSnapshot }> | null = null;
  let closed = false;
  const scratchDb = () =>
    (opened ??= (async () => {
      const scratch = await materializeImage(storage, dir, m, keys, workDir);
      try {
        if (closed) throw new Error('the backup’s rows were closed');
        return {
          scratch,
          snapshot: await openImageSnapshot(
            scratch.file,
            m.tables.map((t) => t.name),
          ),
        };
      } catch (e) {
        scratch.remove();
        throw e;
      }
    })());
  return {
    open: async (t) => (await scratchDb()).snapshot.exportTable(t.name).stream,
    imageProblem: async () => {
      const { snapshot } = await scratchDb();
      const rows = (await snapshot.query('PRAGMA integrity_check')) as { integrity_check: string }[];
      const problems = rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
      return problems.length ? problems.slice(0, 5).join('; ') : null;
    },
    close: async () => {
      closed = true;
      const o = await opened?.catch(() => null);
      if (!o) return;
      try {
        await o.snapshot.close();
      } finally {
        o.scratch.remove();
      }
    },
  };
}

/** Restore inputs for the named tables (all when omitted), each opened lazily from `rows`. */
export function restoreInputs(
  m: Manifest,
  rows: TableRows,
  modeFor: (table: string) => RestoreMode,
  only?: string[],
): RestoreTableInput[] {
  const wanted = only ? new Set(only) : null;
  // Strongroom's own tables are never written, whatever the manifest or the caller says.
  return m.tables
    .filter((t) => !isBookkeepingTable(t.name) && (!wanted || wanted.has(t.name)))
    .map((t) => ({
      name: t.name,
      table: t.structure,
      mode: modeFor(t.name),
      // A page image has no bytes per table; an empty table is still known to be empty.
      ...(t.part ? { bytes: t.part.rawBytes } : t.rows === 0 ? { bytes: 0 } : {}),
      ...(t.rowFormat ? { rowFormat: t.rowFormat } : {}),
      open: (): Promise<Readable> => rows.open(t),
    }));
}
