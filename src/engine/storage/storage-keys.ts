/**
 * Key rules shared by every driver, so a key accepted by one backend is accepted by all and
 * can never name something outside the storage root (or outside the S3 prefix).
 */

export class InvalidStorageKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid storage key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidStorageKeyError';
  }
}

/** S3's own limit; enforced everywhere so local backups stay portable to S3. */
const MAX_KEY_BYTES = 1024;

/** Temp files of in-flight local writes look like `.<name>.tmp-<hex>`; keys may not. */
const TEMP_NAME = /^\..*\.tmp-[0-9a-f]+$/;

export function isTempName(name: string): boolean {
  return TEMP_NAME.test(name);
}

export function tempNameFor(name: string, random: string): string {
  return `.${name}.tmp-${random}`;
}

function checkCommon(key: string, kind: string): void {
  if (typeof key !== 'string') throw new InvalidStorageKeyError(String(key), `${kind} must be a string`);
  if (key.includes('\0')) throw new InvalidStorageKeyError(key, 'contains a NUL character');
  if (key.startsWith('/')) throw new InvalidStorageKeyError(key, `${kind} must be relative, not absolute`);
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidStorageKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  }
}

function checkSegment(key: string, segment: string): void {
  if (segment === '') throw new InvalidStorageKeyError(key, 'contains an empty path segment');
  if (segment === '.' || segment === '..') {
    throw new InvalidStorageKeyError(key, `contains a "${segment}" path segment`);
  }
  if (isTempName(segment)) throw new InvalidStorageKeyError(key, 'segment has the reserved temp-file form');
}

/** Validates an object key and returns its path segments. */
export function parseKey(key: string): string[] {
  checkCommon(key, 'key');
  if (key === '') throw new InvalidStorageKeyError(key, 'key is empty');
  const segments = key.split('/');
  for (const segment of segments) checkSegment(key, segment);
  return segments;
}

/**
 * Validates a list prefix. A prefix is a plain string prefix of keys (`backups/ab` matches
 * `backups/abc/x`), so only its last segment may be partial or empty.
 */
export function checkPrefix(prefix: string): void {
  checkCommon(prefix, 'prefix');
  if (prefix === '') return;
  const segments = prefix.split('/');
  const last = segments.pop() as string;
  for (const segment of segments) checkSegment(prefix, segment);
  if (last === '.' || last === '..') throw new InvalidStorageKeyError(prefix, `contains a "${last}" path segment`);
}

/**
 * Normalises a deletePrefix argument to a directory prefix ending in '/'. Deleting by a bare
 * string prefix would let `backups/1` also remove `backups/10/...`, and an empty prefix would
 * wipe the whole store, so both are refused.
 */
export function directoryPrefix(prefix: string): string {
  const trimmed = typeof prefix === 'string' ? prefix.replace(/\/+$/, '') : prefix;
  if (trimmed === '') throw new InvalidStorageKeyError(prefix, 'refusing to delete the whole store (empty prefix)');
  parseKey(trimmed);
  return `${trimmed}/`;
}

/** Byte-wise order, the order S3 lists in, so both drivers sort identically. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
