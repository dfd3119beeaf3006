/**
 * The manifest is a backup's commit point: written last, it lists every part with its
 * size and SHA-256 and carries its own checksum. A backup without a manifest does not exist.
 */
import type { EngineName, ExcludedObject, Inventory, RowEncoding, SequenceValue, TableInfo } from '../dialects/dialect';

export const MANIFEST_FORMAT = 'strongroom-backup';
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export type Compression = 'zstd' | 'gzip' | 'none';
export type BackupType = 'full' | 'tables' | 'audit';
export type BackupTrigger = 'manual' | 'scheduled' | 'pre-restore' | 'import';

export interface PartInfo {
  /** Path relative to the backup's directory, e.g. `parts/0003.rows`. */
  name: string;
  /** Stored (compressed, encrypted) size in bytes and its SHA-256, hex. */
  size: number;
  sha256: string;
  /** Plaintext size and SHA-256 before compression and encryption. */
  rawBytes: number;
  rawSha256: string;
}

export interface ManifestTable {
  name: string;
  rows: number;
  /** Plaintext row-encoding bytes and their SHA-256 (the table's content checksum). */
  bytes: number;
  sha256: string;
  structure: TableInfo;
  part: PartInfo;
}

export interface EncryptionInfo {
  algorithm: 'AES-256-GCM';
  keyId: string;
  frameSize: number;
  /** Present when the key was derived from a passphrase with scrypt. */
  kdf?: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
}

export interface Manifest {
  format: typeof MANIFEST_FORMAT;
  formatVersion: number;
  id: string;
  type: BackupType;
  trigger: BackupTrigger;
  description: string | null;
  tags: string[];
  scheduleId: string | null;
  appVersion: string;
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  engine: { name: EngineName; serverVersion: string; encoding: RowEncoding };
  schema: {
    fingerprint: string;
    migrations: string[];
    /** The DDL; for a whole-database backup, pg_dump's pre-data section. */
    part: PartInfo | null;
    /** Whole-database backups (PostgreSQL): pg_dump's post-data section, applied after the rows. */
    postData?: PartInfo;
    /** Whole-database backups: large objects' contents (SQL), when the database has any. */
    largeObjects?: PartInfo | null;
  };
  /** Whole-database backups: the database's inventory at the snapshot. */
  inventory?: Inventory;
  /** Whole-database backups: what configuration (or Strongroom's bookkeeping) left out. */
  excluded?: ExcludedObject[];
  tables: ManifestTable[];
  sequences: SequenceValue[];
  files: { count: number; bytes: number; roots: string[]; part: PartInfo | null };
  compression: Compression;
  encryption: EncryptionInfo | null;
  auditHead: { seq: number; hash: string } | null;
  /** SHA-256 (hex) of the RFC 8785 canonical JSON of every other field. */
  checksum: string;
}
