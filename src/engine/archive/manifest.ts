/**
 * Manifest bytes: pretty JSON for people reading a backup directory, with a checksum over the
 * RFC 8785 canonical form so formatting never changes what is checked.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../jcs';
import { ArchiveError } from './errors';
import { isCompression } from './compression';
import { scryptParamsProblem, SCRYPT_LIMITS } from './keyring';
import {
  BACKUP_TRIGGERS,
  BACKUP_TYPES,
  MANIFEST_FORMAT,
  MANIFEST_VERSION,
  type Manifest,
  type PartInfo,
} from './manifest.types';

const HEX64 = /^[0-9a-f]{64}$/;
/**
 * Backup ids become storage directories (`backups/<id>`) and catalog keys: only the lowercase
 * UUIDs this service generates are accepted, so no id can climb out of its directory or
 * overflow a column.
 */
const BACKUP_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export function isBackupId(v: unknown): v is string {
  return typeof v === 'string' && BACKUP_ID.test(v);
}
/** Part names are plain relative paths under `parts/`: no `..`, `.`, empty segments, or backslashes. */
const PART_NAME = /^parts\/(?:[A-Za-z0-9_@+=-][A-Za-z0-9._@+=-]*\/)*[A-Za-z0-9_@+=-][A-Za-z0-9._@+=-]*$/;

function manifestChecksum(m: Omit<Manifest, 'checksum'> | Manifest): string {
  const rest: Record<string, unknown> = { ...m };
  delete rest.checksum;
  return createHash('sha256').update(canonicalize(rest), 'utf8').digest('hex');
}

export function serializeManifest(m: Omit<Manifest, 'checksum'>): Buffer {
  const rest: Record<string, unknown> = { ...m };
  delete rest.checksum;
  const withChecksum = { ...rest, checksum: manifestChecksum(m) };
  return Buffer.from(`${JSON.stringify(withChecksum, null, 2)}\n`, 'utf8');
}

export function isValidPartName(name: string): boolean {
  return name.length <= 240 && PART_NAME.test(name) && !name.split('/').some((s) => s === '.' || s === '..');
}

/** Every part a manifest lists, in a stable order: schema, page image, tables, files. */
export function listParts(m: Pick<Manifest, 'schema' | 'tables' | 'files' | 'scope' | 'image'>): PartInfo[] {
  const parts: PartInfo[] = [];
  if (m.schema.part) parts.push(m.schema.part);
  if (m.schema.postData) parts.push(m.schema.postData);
  if (m.schema.largeObjects) parts.push(m.schema.largeObjects);
  if (m.schema.roles) parts.push(m.schema.roles);
  if (m.image) parts.push(...m.image.parts);
  for (const t of m.tables) if (t.part) parts.push(t.part);
  if (m.scope) {
    for (const t of m.scope.context) if (t.part) parts.push(t.part);
    parts.push(m.scope.keysPart);
    if (m.scope.filesPart) parts.push(m.scope.filesPart);
  }
  if (m.files.part) parts.push(m.files.part);
  return parts;
}

function corrupt(message: string): ArchiveError {
  return new ArchiveError('corrupt-manifest', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

function checkPart(v: unknown, where: string): void {
  if (!isRecord(v)) throw corrupt(`manifest ${where} is not a part description`);
  if (typeof v.name !== 'string' || !isValidPartName(v.name)) {
    throw corrupt(
      `manifest ${where} has an unsafe or invalid part name ${JSON.stringify(String(v.name).slice(0, 120))}`,
    );
  }
  for (const field of ['size', 'rawBytes'] as const) {
    if (!isCount(v[field])) throw corrupt(`manifest ${where} (${v.name}) has an invalid ${field}`);
  }
  for (const field of ['sha256', 'rawSha256'] as const) {
    if (typeof v[field] !== 'string' || !HEX64.test(v[field] as string)) {
      throw corrupt(`manifest ${where} (${v.name}) has an invalid ${field}`);
    }
  }
}

/**
 * Checks shape only where later steps rely on it: the part list (names become storage keys),
 * sizes, hashes, compression and encryption. The checksum covers the rest.
 */
function checkStructure(m: Record<string, unknown>): void {
  if (!isBackupId(m.id))
    throw corrupt(`manifest id ${JSON.stringify(String(m.id).slice(0, 80))} is not a backup id (a lowercase UUID)`);
  if (m.scheduleId !== null && !isBackupId(m.scheduleId))
    throw corrupt('manifest scheduleId is neither null nor a UUID');
  if (!(BACKUP_TYPES as readonly unknown[]).includes(m.type))
    throw corrupt(`manifest has an unknown type ${JSON.stringify(String(m.type).slice(0, 40))}`);
  if (!(BACKUP_TRIGGERS as readonly unknown[]).includes(m.trigger))
    throw corrupt(`manifest has an unknown trigger ${JSON.stringify(String(m.trigger).slice(0, 40))}`);
  if (m.description !== null && (typeof m.description !== 'string' || m.description.length > 1000)) {
    throw corrupt('manifest description is not a string of at most 1000 characters');
  }
  if (!Array.isArray(m.tags) || m.tags.length > 50 || m.tags.some((t) => typeof t !== 'string' || t.length > 64)) {
    throw corrupt('manifest tags are not a list of at most 50 short strings');
  }
  if (!isCompression(m.compression))
    throw corrupt(`manifest has an unknown compression ${JSON.stringify(m.compression)}`);
  if (m.encryption !== null) {
    const e = m.encryption;
    if (
      !isRecord(e) ||
      e.algorithm !== 'AES-256-GCM' ||
      typeof e.keyId !== 'string' ||
      !KEY_ID.test(e.keyId) ||
      !isCount(e.frameSize)
    ) {
      throw corrupt('manifest has an invalid encryption description');
    }
    if (e.kdf !== undefined) checkKdf(e.kdf, 'encryption.kdf');
  }
  if (m.mac !== undefined) {
    const mac = m.mac;
    if (
      !isRecord(mac) ||
      mac.algorithm !== 'HMAC-SHA256' ||
      typeof mac.keyId !== 'string' ||
      !KEY_ID.test(mac.keyId) ||
      typeof mac.value !== 'string' ||
      !HEX64.test(mac.value)
    ) {
      throw corrupt('manifest has an invalid mac');
    }
    if (mac.kdf !== undefined) checkKdf(mac.kdf, 'mac.kdf');
  }
  if (!isRecord(m.schema)) throw corrupt('manifest has no schema section');
  if (m.schema.part !== null) checkPart(m.schema.part, 'schema.part');
  if (m.schema.postData !== undefined) checkPart(m.schema.postData, 'schema.postData');
  if (m.schema.largeObjects !== undefined && m.schema.largeObjects !== null)
    checkPart(m.schema.largeObjects, 'schema.largeObjects');
  if (m.schema.roles !== undefined) checkPart(m.schema.roles, 'schema.roles');
  if (m.image !== undefined) checkImage(m.image);
  if (!Array.isArray(m.tables)) throw corrupt('manifest has no tables list');
  m.tables.forEach((t: unknown, i) => {
    if (!isRecord(t) || typeof t.name !== 'string') throw corrupt(`manifest tables[${i}] has no name`);
    // A reader must know the form of the rows it hands to the database.
    if (t.rowFormat !== undefined && t.rowFormat !== 'pg-copy-binary')
      throw corrupt(`manifest table "${t.name}" has an unknown row format ${JSON.stringify(t.rowFormat)}`);
    // A page image holds every table's rows; otherwise each table has a part of its own.
    if (m.image === undefined) checkPart(t.part, `table "${t.name}" part`);
    else if (t.part !== undefined) throw corrupt(`manifest table "${t.name}" has a part beside the page image`);
  });
  if (m.scope !== undefined) {
    const sc = m.scope;
    if (!isRecord(sc) || !Array.isArray(sc.context)) throw corrupt('manifest scope section is invalid');
    sc.context.forEach((t: unknown, i) => {
      if (!isRecord(t) || typeof t.name !== 'string') throw corrupt(`manifest scope.context[${i}] has no name`);
      checkPart(t.part, `scope context "${t.name}" part`);
    });
    checkPart(sc.keysPart, 'scope.keysPart');
    if (sc.filesPart !== undefined) checkPart(sc.filesPart, 'scope.filesPart');
  }
  if (!isRecord(m.files)) throw corrupt('manifest has no files section');
  if (m.files.part !== null) checkPart(m.files.part, 'files.part');
  const names = new Set<string>();
  for (const p of listParts(m as unknown as Manifest)) {
    if (names.has(p.name)) throw corrupt(`manifest lists part ${p.name} twice`);
    names.add(p.name);
  }
}

function checkImage(v: unknown): void {
  if (
    !isRecord(v) ||
    v.kind !== 'sqlite-pages' ||
    !isCount(v.pageSize) ||
    !isCount(v.pageCount) ||
    !isCount(v.bytes) ||
    v.bytes !== v.pageSize * v.pageCount ||
    typeof v.sha256 !== 'string' ||
    !HEX64.test(v.sha256) ||
    (v.source !== 'file' && v.source !== 'copy') ||
    !Array.isArray(v.parts) ||
    v.parts.length === 0
  )
    throw corrupt('manifest has an invalid page image description');
  let total = 0;
  v.parts.forEach((p: unknown, i) => {
    checkPart(p, `image part ${i + 1}`);
    total += (p as PartInfo).rawBytes;
  });
  if (total !== v.bytes) throw corrupt(`manifest page image parts hold ${total} bytes, the image ${v.bytes}`);
}

/**
 * Key-derivation parameters are refused here, before anything derives a key from them: a
 * manifest is attacker-controlled input until its MAC has been checked, and checking the MAC of
 * a passphrase backup needs the derived key.
 */
function checkKdf(v: unknown, where: string): void {
  if (!isRecord(v) || v.name !== 'scrypt') throw corrupt(`manifest ${where} is not a scrypt description`);
  const problem = scryptParamsProblem({ N: v.N, r: v.r, p: v.p });
  if (problem) throw new ArchiveError('unsupported-format', `manifest ${where}: ${problem}`);
  const { min, max } = SCRYPT_LIMITS.saltBytes;
  const salt = typeof v.salt === 'string' && BASE64.test(v.salt) ? Buffer.from(v.salt, 'base64') : null;
  if (!salt || salt.length < min || salt.length > max)
    throw corrupt(`manifest ${where} salt is not ${min}-${max} bytes of base64`);
}

export function parseManifest(buf: Buffer): Manifest {
  let value: unknown;
  try {
    value = JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new ArchiveError('corrupt-manifest', `not a Strongroom manifest: invalid JSON (${(err as Error).message})`);
  }
  if (!isRecord(value) || value.format !== MANIFEST_FORMAT) throw corrupt('not a Strongroom manifest');
  if (value.formatVersion !== MANIFEST_VERSION) {
    throw new ArchiveError(
      'unsupported-format',
      `unsupported manifest format version ${JSON.stringify(value.formatVersion)} (this build reads ${MANIFEST_VERSION})`,
    );
  }
  if (typeof value.checksum !== 'string' || !HEX64.test(value.checksum))
    throw corrupt('manifest has no valid checksum field');
  const actual = manifestChecksum(value as unknown as Manifest);
  if (actual !== value.checksum) {
    throw new ArchiveError(
      'checksum-mismatch',
      `manifest checksum mismatch: recorded ${value.checksum}, computed ${actual}`,
    );
  }
  checkStructure(value);
  return value as unknown as Manifest;
}
