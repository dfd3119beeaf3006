/**
 * The manifest is a backup's commit point: written last, it lists every part with its
 * size and SHA-256 and carries its own checksum. A backup without a manifest does not exist.
 */
import type {
  EngineName,
  ExcludedObject,
  Inventory,
  RowEncoding,
  SequenceValue,
  TableInfo,
  TableRowFormat,
} from '../dialects/dialect';

export const MANIFEST_FORMAT = 'strongroom-backup';
export const MANIFEST_VERSION = 1;
export const MANIFEST_FILE = 'manifest.json';

export type Compression = 'zstd' | 'gzip' | 'none';
/** The one list of backup types and triggers: DTOs, entities, the CLI and the manifest check read these. */
/** `files`: the file artefacts (BACKUP_FILE_PATHS) alone, no table rows; `scope`: one scope's rows (scope-backup.ts). */
export const BACKUP_TYPES = ['full', 'tables', 'audit', 'files', 'scope'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];
export const BACKUP_TRIGGERS = ['manual', 'scheduled', 'pre-restore', 'import'] as const;
export type BackupTrigger = (typeof BACKUP_TRIGGERS)[number];

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
  /**
   * Plaintext row-encoding bytes and their SHA-256 (the table's content checksum). In a
   * page-image backup the rows live in the image: 0, and the image's SHA-256.
   */
  bytes: number;
  sha256: string;
  structure: TableInfo;
  /** The table's rows; absent in a page-image backup (see Manifest.image). */
  part?: PartInfo;
  /**
   * The rows' form when it is not the engine's encoding: `pg-copy-binary`, PostgreSQL's binary
   * COPY (pg-copy-binary.ts). Absent: `engine.encoding`. The content checksum is over these bytes.
   */
  rowFormat?: TableRowFormat;
}

/**
 * A full SQLite backup taken as a page image: the database file's pages at the snapshot, cut
 * into segments (parts) whose plaintexts, concatenated in order, are a SQLite database file.
 * Restores, dry runs and deep verification open it as a scratch database and read the rows of
 * `tables` from it. Backups without it carry each table's rows in a part of its own (NDJSON).
 */
export interface ManifestImage {
  kind: 'sqlite-pages';
  pageSize: number;
  pageCount: number;
  /** The image's length: pageSize × pageCount. */
  bytes: number;
  /** SHA-256 over the segments' plaintext SHA-256 digests (32 bytes each, in order). */
  sha256: string;
  /** Where the pages were read: the live file under the snapshot's lock, or a copy by SQLite's online backup API. */
  source: 'file' | 'copy';
  parts: PartInfo[];
}

/**
 * What the database held at the snapshot, within the backup's scope: per schema (SQLite:
 * `main`; '' for database-wide objects) and object kind, the count and a fingerprint of the
 * normalized definitions, and each table's row count. Deep verify compares a rebuild with it.
 */
export type ManifestInventory = Inventory;

export interface EncryptionInfo {
  algorithm: 'AES-256-GCM';
  keyId: string;
  frameSize: number;
  /** Present when the key was derived from a passphrase with scrypt. */
  kdf?: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
}

export type KdfInfo = NonNullable<EncryptionInfo['kdf']>;

/**
 * Proof that a holder of the configured key wrote the manifest (manifest-auth.ts): HMAC-SHA256
 * under a key derived with HKDF from the key `keyId` names, over the canonical manifest
 * without `checksum` and without `mac.value`. Absent from manifests written without a key
 * configured, and from those written by versions before it existed.
 */
export interface ManifestMac {
  algorithm: 'HMAC-SHA256';
  keyId: string;
  /** Passphrase keys only: the scrypt parameters and salt the key was derived with. */
  kdf?: KdfInfo;
  /** Hex. */
  value: string;
}

/**
 * A scoped backup (type `scope`): `tables` hold the scope's members (every table the scope can
 * hold rows of, with zero rows where it has none), and this section the rest of what a restore
 * needs: the member keys and the context rows, each in a part of their own.
 */
export interface ManifestScope {
  /** The saved scope's name, when the backup named one. */
  name: string | null;
  table: string;
  keys: Record<string, unknown>[];
  exclude: string[];
  filesColumn: string | null;
  /** Members per table (every table of the scope, zeros included). */
  members: Record<string, number>;
  /** Rows outside the scope that its members reference, per table, for a restore into another database. */
  context: ManifestTable[];
  /** NDJSON `{"table","key"}` per member row, `key` as SQL literals of the primary key. */
  keysPart: PartInfo;
  /**
   * With a files column: one JSON string per line, every path the members' rows name (whether
   * the file existed or not). Absent from scoped backups taken before files were restorable.
   */
  filesPart?: PartInfo;
  /** Root keys that matched no row at the snapshot. */
  missingRoots: Record<string, unknown>[];
  /** E.g. foreign key columns without an index. */
  warnings: string[];
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
    /** Whole-database backups (PostgreSQL): the roles the database's objects need, as JSON, without passwords. */
    roles?: PartInfo;
  };
  /** The database's inventory at the snapshot; absent in backups taken before inventories were recorded. */
  inventory?: ManifestInventory;
  /** Whole-database backups: what configuration (or Strongroom's bookkeeping) left out. */
  excluded?: ExcludedObject[];
  /** Full SQLite backups taken as a page image (the default where the file allows it). */
  image?: ManifestImage;
  tables: ManifestTable[];
  /** Scoped backups only. */
  scope?: ManifestScope;
  sequences: SequenceValue[];
  files: {
    count: number;
    bytes: number;
    roots: string[];
    part: PartInfo | null;
    /** Symbolic links, sockets, FIFOs and devices under the roots, not archived (at most 100 listed). */
    skipped?: { count: number; entries: { path: string; type: string }[] };
  };
  compression: Compression;
  encryption: EncryptionInfo | null;
  auditHead: { seq: number; hash: string } | null;
  /**
   * The latest signed checkpoint of the audit trail when the backup was taken (a C2SP signed
   * note), so a restored audit table can be proved to be a prefix of the live trail. Absent
   * when none was signed yet, and in backups from versions before checkpoints existed.
   */
  auditCheckpoint?: string;
  mac?: ManifestMac;
  /** SHA-256 (hex) of the RFC 8785 canonical JSON of every other field. */
  checksum: string;
}
