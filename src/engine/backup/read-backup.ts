/**
 * Reading a stored backup back: its manifest, its parts as verified plaintext, and the
 * inputs a dialect needs to restore it. Shared by verify, recovery and the CLI.
 */
import type { Readable } from 'node:stream';
import { parseManifest } from '../archive/manifest';
import { openPart, partKey } from '../archive/part-io';
import { Manifest, MANIFEST_FILE, type PartInfo } from '../archive/manifest.types';
import type { KeyLookup } from '../archive/encryption';
import type { ArchivedRoles, DatabaseDdl, RestoreMode, RestoreTableInput } from '../dialects/dialect';
import { parseArchivedRoles } from '../dialects/postgres/pg-roles';
import type { BackupStorage } from '../storage/storage';
import { isBookkeepingTable } from './bookkeeping-tables';
import { readAll } from './write-backup';

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

/** Restore inputs for the named tables (all when omitted), each opened lazily. */
export function restoreInputs(
  storage: BackupStorage,
  dir: string,
  m: Manifest,
  keys: KeyLookup | null,
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
      bytes: t.part.rawBytes,
      open: (): Promise<Readable> => openPart(storage, dir, t.part, m, keys),
    }));
}
