/**
 * Reading a stored backup back: its manifest, its parts as verified plaintext, and the
 * inputs a dialect needs to restore it. Shared by verify, recovery and the CLI.
 */
import type { Readable } from 'node:stream';
import { parseManifest } from '../archive/manifest';
import { openPart, partKey } from '../archive/part-io';
import { Manifest, MANIFEST_FILE } from '../archive/manifest.types';
import type { KeyLookup } from '../archive/encryption';
import type { RestoreMode, RestoreTableInput } from '../dialects/dialect';
import type { BackupStorage } from '../storage/storage';
import { isBookkeepingTable } from './bookkeeping-tables';
import { readAll } from './write-backup';

export async function readManifest(storage: BackupStorage, dir: string): Promise<Manifest> {
  return parseManifest(await readAll(await storage.get(partKey(dir, MANIFEST_FILE))));
}

export async function readSchemaSql(storage: BackupStorage, dir: string, m: Manifest, keys: KeyLookup | null): Promise<string> {
  if (!m.schema.part) return '';
  return (await readAll(await openPart(storage, dir, m.schema.part, m, keys))).toString('utf8');
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
