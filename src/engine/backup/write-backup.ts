/**
 * Writes one backup: schema, every table's rows, sequences and file artefacts stream from
 * one database snapshot through compression and encryption into storage; the manifest is
 * written last, then read back and checked — the commit point. On any failure every part
 * written so far is removed, so no half backup can look whole.
 */
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { AUDIT_TABLE } from './bookkeeping-tables';
import type { Dialect, PageImage, Snapshot, TableInfo, TableRowFormat } from '../dialects/dialect';
import type { BackupStorage } from '../storage/storage';
import { parseManifest, serializeManifest } from '../archive/manifest';
import { DEFAULT_FRAME_SIZE } from '../archive/encryption';
import {
  PartSourceError,
  partKey,
  partWorkersRunning,
  sourcedPartsOn,
  warmPartWorkers,
  writePart,
  writeSourcedPart,
} from '../archive/part-io';
import type { Pacer } from '../archive/pacing';
import {
  BackupTrigger,
  BackupType,
  Compression,
  Manifest,
  MANIFEST_FILE,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  ManifestImage,
  ManifestTable,
  PartInfo,
} from '../archive/manifest.types';
import { PAGE_IMAGE_FRAME_BYTES, pageImageLevel, writePageImage } from './page-image-archive';
import { readFileRange } from '../archive/file-range';
import { keyForNewBackup, KeySource, sealForNewBackup } from './backup-keys';
import { sealManifest } from '../archive/manifest-auth';
import { packFileArtefacts } from './file-artefacts';
import { readAll } from '../storage/read-all';
import { exportScope, scopeFilesNdjson, type ScopedExport, type ScopeRequest } from '../scope/scope-backup';
import { countRows } from '../scope/scope-closure';

/**
 * A scoped backup of at most this many rows (members and context) that finds no part worker
 * running writes its parts on this thread rather than start one. Why: such a backup is mostly
 * fixed costs, and in a process that backs up once (the CLI) starting a worker (a V8 instance
 * loading the part steps and the driver, then its own connections to the snapshot) is one of
 * them, on cores shared with the main thread, pg_dump and the server. Measured on the
 * benchmark's typical project of shape a (~600 rows, 2026-12-03, 10 runs by turns on a held
 * cluster, the same backup with its parts on a worker and on this thread): median 487 ms with
 * the worker, 447 ms without. Where a worker already runs (the service keeps the one its first
 * backup started), the scope uses it, so the thread that answers the API still only stores
 * bytes. A larger scope starts workers like any other backup.
 */
export const SMALL_SCOPE_ROWS = 10_000;

export interface BackupProgress {
  phase: 'snapshot' | 'schema' | 'tables' | 'files' | 'manifest' | 'done';
  tablesDone: number;
  tablesTotal: number;
  rows: number;
  bytes: number;
}

export interface WriteBackupSpec {
  id: string;
  /** Storage directory of this backup, e.g. `backups/<id>`. */
  dir: string;
  type: BackupType;
  trigger: BackupTrigger;
  description: string | null;
  tags: string[];
  scheduleId: string | null;
  /** Tables to back up (already resolved by the caller from type and request). */
  tables: string[];
  fileRoots: string[];
  /**
   * A scoped backup (type `scope`): `tables` are every table the scope may reach; only the
   * scope's members and context rows are archived, and of the files only those its files column names.
   */
  scope?: ScopeRequest;
  compression: Compression;
  /** Compression level; the compression's default when omitted. */
  compressionLevel?: number;
  keys: KeySource;
  /** The key that seals (authenticates) the manifest; default `keys`. Set when a backup is not encrypted but a key is configured. */
  sealKeys?: KeySource;
  appVersion: string;
  migrations: string[];
  auditHead: { seq: number; hash: string } | null;
  /** The latest signed audit checkpoint (signed note), embedded as it is. */
  auditCheckpoint?: string | null;
  parallel: number;
  /**
   * How a full backup of an engine that can take a page image (SQLite) carries its rows:
   * `pages` (the default) archives the database file's pages at the snapshot, `rows` each
   * table's rows in a part of its own. A file holding tables the backup leaves out (Strongroom's
   * own) always gets `rows`.
   */
  fullFormat?: 'pages' | 'rows';
  /** Where a temporary copy of the pages may go (a page image of a WAL file with frames); default the OS's. */
  workDir?: string;
  signal?: AbortSignal;
  /** Lets API requests go ahead of this backup's data (see archive/pacing.ts); none from the CLI. */
  pacer?: Pacer | null;
  /**
   * Awaited right before the manifest (the commit point) is written: if it rejects, the parts
   * are removed and the backup fails; once it resolved the backup commits. A caller that lets
   * a backup be cancelled decides there, once, whether the cancel or the commit wins.
   */
  beforeCommit?(): Promise<void>;
  onProgress?(p: BackupProgress): void;
  /** Something worth logging that does not fail the backup (e.g. skipped symbolic links). */
  onWarning?(message: string): void;
  createdAt?: string;
}

export class BackupAbortedError extends Error {
  constructor() {
    super('backup was cancelled');
    this.name = 'BackupAbortedError';
  }
}

export async function writeBackup(dialect: Dialect, storage: BackupStorage, spec: WriteBackupSpec): Promise<Manifest> {
  const startedAt = new Date().toISOString();
  const progress: BackupProgress = {
    phase: 'snapshot',
    tablesDone: 0,
    tablesTotal: spec.tables.length,
    rows: 0,
    bytes: 0,
  };
  const report = () => spec.onProgress?.({ ...progress });
  // One failing table stops the others' in-flight writes too, before the cleanup runs.
  const internal = new AbortController();
  const signal = spec.signal ? AbortSignal.any([spec.signal, internal.signal]) : internal.signal;
  let snapshot: Snapshot | null = null;
  // The schema's work once started: it runs beside the rest, and settles before any cleanup.
  const started: { schema: Promise<unknown> | null } = { schema: null };
  // A scope's size is known only once its closure is read: until then it starts no worker
  // (SMALL_SCOPE_ROWS). Any other backup starts one now, so that its start overlaps the
  // snapshot's opening rather than delaying the first part.
  const inlineScope = Boolean(spec.scope) && !partWorkersRunning();
  if (!inlineScope) warmPartWorkers();
  dialect.prepareBackup?.();
  try {
    const key = await keyForNewBackup(spec.keys);
    const format = {
      compression: spec.compression,
      level: spec.compressionLevel,
      encryption: key ? { keyId: key.keyId, key: key.key, frameSize: DEFAULT_FRAME_SIZE } : null,
      signal,
      pacer: spec.pacer ?? null,
      // Parts are written on this thread (no part worker): a small scope's.
      inline: inlineScope,
    };
    const put = (name: string, source: Readable) => writePart(storage, spec.dir, name, source, format);
    // A table's rows into a part: read by a part worker itself where the engine allows it
    // (PostgreSQL), else streamed from this thread.
    const putRows = async (
      name: string,
      table: string,
      where?: string,
      rowFormat?: TableRowFormat,
    ): Promise<{ part: PartInfo; rows: number }> => {
      const snap = snapshot as Snapshot;
      if (snap.workerSource && sourcedPartsOn() && !format.inline) {
        const source = snap.workerSource(table, where, rowFormat);
        const done = await writeSourcedPart(storage, spec.dir, name, source, format);
        return { part: done.part, rows: done.rows as number };
      }
      const exp = snap.exportTable(table, where, rowFormat);
      const part = await put(name, exp.stream);
      return { part, rows: exp.rowCount() };
    };

    report();
    // A full backup is the whole database (where the engine can say what that is).
    snapshot = await fromDatabase('opening a snapshot', () =>
      dialect.openSnapshot(spec.tables, { parallel: spec.parallel, wholeDatabase: spec.type === 'full' }),
    );
    const snap: Snapshot = snapshot;
    const text = (s: string) => Readable.from([Buffer.from(s, 'utf8')]);
    // The DDL (pg_dump's catalog reads, mostly waiting on the server) runs beside the row
    // exports on the same snapshot, so a whole-database dump adds next to nothing to the wall.
    const dumpSchema = async () => {
      const whole =
        spec.type === 'full' && snap.databaseDdl
          ? await fromDatabase('dumping the schema', () => (snap.databaseDdl as NonNullable<Snapshot['databaseDdl']>)())
          : null;
      const ddl = whole ? whole.preData : await fromDatabase('reading the schema', () => snap.schemaSql());
      const schemaPart = await put('parts/schema.sql', text(ddl));
      const sections: Pick<Manifest['schema'], 'postData' | 'largeObjects' | 'roles'> = {};
      if (whole) {
        sections.postData = await put('parts/schema-post.sql', text(whole.postData));
        if (snap.roles) {
          const roles = await fromDatabase('reading the roles', () => (snap.roles as NonNullable<Snapshot['roles']>)());
          sections.roles = await put('parts/roles.json', text(`${JSON.stringify(roles)}\n`));
        }
        const lo = snap.largeObjects
          ? await fromDatabase('reading large objects', async () => snap.largeObjects?.() ?? null)
          : null;
        sections.largeObjects = lo ? await put('parts/large-objects.sql', lo) : null;
      }
      return {
        whole,
        schemaPart,
        sections,
        sequences: await fromDatabase('reading the sequences', () => snap.sequences()),
      };
    };
    // The first failure is the one to report: the other side then fails only because it was stopped.
    let firstError: { reason: unknown } | null = null;
    const stop = (reason: unknown) => {
      firstError ??= { reason };
      internal.abort();
    };
    const startSchema = () => {
      const work = dumpSchema();
      work.catch(stop);
      started.schema = work;
      return work;
    };
    // When the schema starts. Row exports start after it: SQLite cannot read its schema on the
    // connection while a table's rows are being iterated there. Without a page image it starts
    // now, beside the server version and a scope's closure: on PostgreSQL it is a pg_dump run,
    // the longest step of a small (scope, tables, audit) backup. A page image uses no
    // connection, so its lanes start first: their first segments are on the workers while this
    // thread builds the DDL, which SQLite does synchronously (0.1 s for 500 tables).
    const imageWanted =
      spec.type === 'full' && !spec.scope && (spec.fullFormat ?? 'pages') === 'pages' && Boolean(snap.pageImage);
    let schemaFirst = imageWanted ? null : startSchema();
    const serverVersion = await fromDatabase('reading the server version', () => dialect.serverVersion());
    const scoped: ScopedExport | null = spec.scope
      ? await fromDatabase('computing the scope', () => exportScope(dialect.engine, snap, spec.scope!))
      : null;
    for (const w of scoped?.closure.warnings ?? []) spec.onWarning?.(w);
    if (inlineScope && scoped && scopeRows(scoped) > SMALL_SCOPE_ROWS) {
      format.inline = false;
      warmPartWorkers();
    }
    const structures = scoped ? scoped.memberTables : snapshot.tables;
    progress.tablesTotal = structures.length;
    // A full backup as the file's pages (one read of the file, compressed on both cores) where
    // the engine can and the file holds nothing the backup must leave out.
    const pageImage: PageImage | null = imageWanted
      ? await fromDatabase('reading the page image', async () =>
          (snap.pageImage as NonNullable<Snapshot['pageImage']>)({ workDir: spec.workDir ?? tmpdir(), signal }),
        )
      : null;
    schemaFirst ??= pageImage ? null : startSchema();

    progress.phase = 'schema';
    report();
    progress.phase = 'tables';
    let image: ManifestImage | undefined;
    const tablesWork = pageImage
      ? (async (): Promise<ManifestTable[]> => {
          // The image's own compression level (see PAGE_IMAGE_ZSTD_LEVEL): its bytes are most of the backup's CPU.
          const imageFormat = {
            ...format,
            level: pageImageLevel(spec.compression, spec.compressionLevel),
            frameBytes: PAGE_IMAGE_FRAME_BYTES,
          };
          image = await writePageImage(pageImage, async (name, start, end, inline) => {
            throwIfAborted(signal);
            // A worker's lane reads its segment itself; this thread's lane reads it here.
            const range = pageImage.range(start, end);
            const written =
              !inline && sourcedPartsOn()
                ? writeSourcedPart(storage, spec.dir, name, range, imageFormat).then((done) => done.part)
                : writePart(storage, spec.dir, name, readFileRange(range), { ...imageFormat, inline });
            const part = await written.catch((e: unknown) => {
              internal.abort();
              throw e instanceof PartSourceError
                ? new Error(`reading the database failed (page image): ${(e.cause as Error).message}`, {
                    cause: e.cause,
                  })
                : e;
            });
            progress.bytes += part.size;
            report();
            return part;
          });
          // Counted on the snapshot: the rows of the image, without reading them out.
          const counts = await fromDatabase('counting rows', async () =>
            (snap.rowCounts as NonNullable<Snapshot['rowCounts']>)(),
          );
          const digest = (image as ManifestImage).sha256;
          return structures.map((t) => {
            progress.tablesDone++;
            progress.rows += counts[t.name] ?? 0;
            return { name: t.name, rows: counts[t.name] ?? 0, bytes: 0, sha256: digest, structure: t };
          });
        })()
      : mapLimit(structures, Math.max(1, spec.parallel), async (t, i) => {
          throwIfAborted(signal);
          const name = `parts/${String(i + 1).padStart(4, '0')}.rows`;
          // A scope's rows stay in the engine's encoding (its restore merges them row by row), and
          // so does the audit trail: small, and an auditor can read its rows as text.
          const rowFormat = scoped || t.name === AUDIT_TABLE ? undefined : snap.rowFormat?.(t.name);
          const read = putRows(name, t.name, scoped?.memberFilter.get(t.name), rowFormat);
          const { part, rows } = await read.catch((e: unknown) => {
            internal.abort();
            throw e instanceof PartSourceError
              ? new Error(`reading the database failed (table ${t.name}): ${(e.cause as Error).message}`, {
                  cause: e.cause,
                })
              : e;
          });
          progress.tablesDone++;
          progress.rows += rows;
          progress.bytes += part.size;
          report();
          return tableEntry(t, rows, part, rowFormat);
        });
    tablesWork.catch(stop);
    const schemaWork = schemaFirst ?? startSchema();
    // Both settle before anything is cleaned up, so no write races the cleanup.
    const [schemaDone, tablesDone] = await Promise.allSettled([schemaWork, tablesWork]);
    if (schemaDone.status === 'rejected' || tablesDone.status === 'rejected')
      throw (firstError as { reason: unknown } | null)?.reason;
    const { whole, schemaPart, sections, sequences } = schemaDone.value;
    const tables = tablesDone.value;
    // No silent gaps: the snapshot's inventory must be covered by what was archived. Row counts
    // come from the export itself: the same snapshot, so they are the counts at it.
    const rowsByTable = Object.fromEntries(tables.map((t) => [t.name, t.rows]));
    // A scope is some rows of some tables: the database's inventory says nothing about it.
    const inventory = scoped
      ? undefined
      : await fromDatabase('reading the inventory', async () => snap.inventory?.(whole, rowsByTable));
    let scopeSection: Manifest['scope'];
    if (scoped && spec.scope) {
      const context: ManifestTable[] = [];
      for (const [i, t] of scoped.contextTables.entries()) {
        throwIfAborted(signal);
        const name = `parts/context-${String(i + 1).padStart(4, '0')}.rows`;
        const { part, rows } = await putRows(name, t.name, scoped.contextFilter.get(t.name));
        progress.bytes += part.size;
        context.push(tableEntry(t, rows, part));
      }
      scopeSection = {
        name: spec.scope.name ?? null,
        table: scoped.closure.root,
        keys: spec.scope.keys,
        exclude: spec.scope.exclude ?? [],
        filesColumn: spec.scope.filesColumn ?? null,
        members: { ...Object.fromEntries(tables.map((t) => [t.name, 0])), ...countRows(scoped.closure.members) },
        context,
        keysPart: await put('parts/scope-keys.ndjson', text(scoped.keysNdjson)),
        // Every path the members' files column names (found on disk or not): a restore keeps a
        // file any restored row names, and drops only files no row names any more.
        ...(spec.scope.filesColumn
          ? { filesPart: await put('parts/scope-files.ndjson', text(scopeFilesNdjson(scoped.files))) }
          : {}),
        missingRoots: scoped.closure.missingRoots,
        warnings: scoped.closure.warnings,
      };
    }
    const excluded = whole ? (snapshot.excluded ?? []) : undefined;
    await fromDatabase('closing the snapshot', () => snap.close());
    snapshot = null;

    let files: Manifest['files'] = { count: 0, bytes: 0, roots: spec.fileRoots, part: null };
    if (spec.fileRoots.length && (!scoped || spec.scope?.filesColumn)) {
      progress.phase = 'files';
      report();
      const packed = packFileArtefacts(spec.fileRoots, scoped && spec.scope?.filesColumn ? scoped.files : undefined);
      // Files can be large whatever the scope's row count: compressed on a worker.
      const part = await writePart(storage, spec.dir, 'parts/files.tar', packed.stream, { ...format, inline: false });
      progress.bytes += part.size;
      files = { ...packed.stats(), roots: spec.fileRoots, part };
      if (files.skipped) {
        const shown = files.skipped.entries
          .slice(0, 5)
          .map((e) => `${e.path} (${e.type})`)
          .join(', ');
        spec.onWarning?.(
          `${files.skipped.count} entries under BACKUP_FILE_PATHS are not regular files or directories and were not backed up: ${shown}${files.skipped.count > 5 ? ', ...' : ''}`,
        );
      }
    }

    progress.phase = 'manifest';
    report();
    throwIfAborted(spec.signal);
    await spec.beforeCommit?.();
    const manifestBody: Omit<Manifest, 'checksum'> = {
      format: MANIFEST_FORMAT,
      formatVersion: MANIFEST_VERSION,
      id: spec.id,
      type: spec.type,
      trigger: spec.trigger,
      description: spec.description,
      tags: spec.tags,
      scheduleId: spec.scheduleId,
      appVersion: spec.appVersion,
      createdAt: spec.createdAt ?? startedAt,
      startedAt,
      finishedAt: new Date().toISOString(),
      engine: { name: dialect.engine, serverVersion, encoding: dialect.encoding },
      schema: {
        fingerprint: dialect.fingerprint(structures),
        migrations: spec.migrations,
        part: schemaPart,
        ...sections,
      },
      ...(inventory ? { inventory } : {}),
      ...(excluded ? { excluded } : {}),
      ...(image ? { image } : {}),
      tables,
      ...(scopeSection ? { scope: scopeSection } : {}),
      sequences,
      files,
      compression: spec.compression,
      encryption: key ? { ...key.info, frameSize: DEFAULT_FRAME_SIZE } : null,
      auditHead: spec.auditHead,
      ...(spec.auditCheckpoint ? { auditCheckpoint: spec.auditCheckpoint } : {}),
      ...(inventory ? { inventory } : {}),
    };
    const seal = await sealForNewBackup(spec.sealKeys ?? spec.keys, key);
    const bytes = serializeManifest(seal ? sealManifest(manifestBody, seal) : manifestBody);
    // The commit point: the manifest is the last object written, and is read back before success.
    await storage.put(partKey(spec.dir, MANIFEST_FILE), Readable.from([bytes]));
    const stored = parseManifest(await readAll(await storage.get(partKey(spec.dir, MANIFEST_FILE))));
    if (stored.checksum !== (JSON.parse(bytes.toString('utf8')) as { checksum?: unknown }).checksum) {
      throw new Error('manifest read back from storage differs from the one written');
    }
    progress.phase = 'done';
    progress.bytes += bytes.length;
    report();
    return stored;
  } catch (e) {
    internal.abort();
    if (snapshot) await snapshot.close().catch(() => undefined);
    // Closing the snapshot stopped its pg_dump; no schema part is written after the cleanup.
    await started.schema?.catch(() => undefined);
    await storage.deletePrefix(spec.dir).catch(() => undefined);
    throw spec.signal?.aborted ? new BackupAbortedError() : e;
  }
}

/** The rows a scoped backup reads: its members and their context. */
function scopeRows(scoped: ScopedExport): number {
  let n = 0;
  for (const sets of [scoped.closure.members, scoped.closure.context]) for (const keys of sets.values()) n += keys.size;
  return n;
}

function tableEntry(structure: TableInfo, rows: number, part: PartInfo, rowFormat?: TableRowFormat): ManifestTable {
  return {
    name: structure.name,
    rows,
    bytes: part.rawBytes,
    sha256: part.rawSha256,
    structure,
    part,
    ...(rowFormat ? { rowFormat } : {}),
  };
}

function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new BackupAbortedError();
}

/**
 * Runs `fn` over items with at most `limit` at once, keeping result order. After a failure
 * no new item starts, and it rejects only once every running item has settled, so the
 * caller's cleanup never races a write still in progress. It rejects with the failure that
 * came first in time: the others are usually its consequence (the write it aborted).
 */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let first: { reason: unknown } | null = null;
  const worker = async () => {
    while (!first && next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i], i);
      } catch (e) {
        first ??= { reason: e };
        return;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (first) throw (first as { reason: unknown }).reason;
  return results;
}

/**
 * Runs one step against the database being backed up, so that its failure says so: an
 * unreachable database must not read like a storage or archive problem.
 */
async function fromDatabase<T>(what: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw new Error(`reading the database failed (${what}): ${(e as Error).message}`, { cause: e });
  }
}
