/**
 * Every integrity failure in the archive layer is an ArchiveError with a stable code, so the
 * HTTP layer can map them all to 422 and `verify` can say which part failed and why.
 */
export type ArchiveErrorCode =
  | 'checksum-mismatch'
  | 'size-mismatch'
  | 'auth-failed'
  | 'unknown-key'
  | 'truncated'
  | 'trailing-data'
  | 'corrupt-manifest'
  | 'unsupported-format'
  | 'invalid-archive'
  | 'missing-part'
  | 'corrupt-data'
  /** The manifest has no valid MAC under the configured key (manifest-auth.ts). */
  | 'not-authenticated';

export class ArchiveError extends Error {
  constructor(
    readonly code: ArchiveErrorCode,
    message: string,
    /** Name of the part (relative to the backup directory) the failure was found in, if any. */
    readonly part?: string,
    options?: { cause?: unknown },
  ) {
    super(part ? `${part}: ${message}` : message, options);
    this.name = 'ArchiveError';
  }
}

export function isArchiveError(err: unknown): err is ArchiveError {
  return err instanceof ArchiveError;
}

/**
 * Names the part in an integrity error raised by a lower layer (decryption, decompression).
 * Operational errors (storage unreachable, aborted) pass through unchanged: they say nothing
 * about the archive being bad and must not be reported as corruption.
 */
export function errorForPart(err: unknown, part: string): unknown {
  if (err instanceof ArchiveError) {
    if (err.part === part) return err;
    const bare = err.part ? err.message.slice(err.part.length + 2) : err.message;
    return new ArchiveError(err.code, bare, part, { cause: err });
  }
  if (isZlibDataError(err)) {
    return new ArchiveError('corrupt-data', `gzip data is corrupt (${err.message})`, part, { cause: err });
  }
  return err;
}

/** Duck-typed: errors from Node's zlib are not always `instanceof Error` across VM realms. */
function isZlibDataError(err: unknown): err is { message: string; code: string } {
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  return typeof message === 'string' && typeof code === 'string' && /^Z_(DATA|BUF|STREAM)_ERROR$|^ERR_ZLIB/.test(code);
}
