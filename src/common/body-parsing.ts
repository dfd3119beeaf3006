/**
 * Request bodies are bounded before anything reads them. The parsers run after the request
 * id, the audit hook and the request log are in place (see app.setup.ts), so a body that is
 * refused here is still logged and audited: 413 beyond BODY_MAX_BYTES (after decompression),
 * 400 beyond BODY_MAX_DEPTH levels of nesting (checked on the raw bytes, before JSON.parse
 * and long before validation, whose recursion a deep body would overflow), 415 for a
 * charset other than UTF-8, an unknown Content-Encoding or a content type the API does not take.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import express from 'express';
import { createHash } from 'node:crypto';
import type { BodyDigest, RequestWithContext } from './request-context';

export interface BodyLimits {
  maxBytes: number;
  maxDepth: number;
}

const JSON_TYPES = ['application/json', 'application/*+json'];
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** An error shaped like body-parser's own (http-errors), so the exception filter maps all of them alike. */
export class BodyError extends Error {
  expose = true;
  statusCode: number;
  constructor(
    public status: number,
    public type: string,
    message: string,
  ) {
    super(message);
    this.name = 'BodyError';
    this.statusCode = status;
  }
}

/**
 * The deepest nesting of arrays and objects in JSON text, scanning bytes (UTF-8 multi-byte
 * sequences never contain ASCII bytes, so brackets and quotes are found exactly). Stops as soon
 * as `max` is exceeded and answers max + 1 then.
 */
export function jsonDepth(buf: Uint8Array, max: number): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > max) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** Clean messages for body-parser's error types: its own messages may quote the body. */
const PARSER_MESSAGES: Record<string, string> = {
  'entity.parse.failed': 'request body is not valid JSON',
  'entity.too.large': 'request body too large (BODY_MAX_BYTES)',
  'encoding.unsupported': 'unsupported Content-Encoding: send identity, gzip, deflate or br',
  'charset.unsupported': 'unsupported charset: send UTF-8',
  'request.aborted': 'request body was not received in full',
  'request.size.invalid': 'request body length does not match Content-Length',
  'parameters.too.many': 'too many form parameters',
  'querystring.parse.rangeError': `form body nests too deeply (BODY_MAX_DEPTH)`,
};

/** body-parser's errors as BodyError with a message that quotes nothing the client sent. */
function asBodyError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  // body-parser attaches the raw body to its errors; nothing downstream needs it.
  delete (err as { body?: unknown }).body;
  if (err instanceof BodyError) return err;
  const { type, status } = err as Error & { type?: unknown; status?: unknown };
  if (typeof status !== 'number' || status < 400 || status >= 500) return err;
  // Without a type: a decompression (zlib) error, the bytes do not match their Content-Encoding.
  if (typeof type !== 'string')
    return new BodyError(status, 'entity.undecodable', 'request body could not be decoded with its Content-Encoding');
  return new BodyError(status, type, PARSER_MESSAGES[type] ?? 'request body could not be read');
}

function digestOf(buf: Uint8Array): BodyDigest {
  return { bytes: buf.length, sha256: createHash('sha256').update(buf).digest('hex').slice(0, 16) };
}

function mediaType(req: Request): string {
  return (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
}

function charsetOf(req: Request): string | null {
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(req.headers['content-type'] ?? '');
  return m ? m[1].toLowerCase() : null;
}

function hasBody(req: Request): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  const length = req.headers['content-length'];
  return length !== undefined && length !== '0';
}

/**
 * Refuses bodies the API cannot read before any byte is read: JSON in a charset other than
 * UTF-8 (RFC 8259 requires it), and content types other than JSON, forms and the multipart
 * upload of archive imports.
 */
function contentTypeGate(req: Request, _res: Response, next: NextFunction): void {
  if (!hasBody(req)) return next();
  const type = mediaType(req);
  if (type === 'application/json' || /^application\/[^/]+\+json$/.test(type)) {
    const charset = charsetOf(req);
    if (charset !== null && charset !== 'utf-8' && charset !== 'utf8') {
      return next(
        new BodyError(
          415,
          'charset.unsupported',
          'JSON request bodies must be UTF-8 (Content-Type: application/json; charset=utf-8)',
        ),
      );
    }
    return next();
  }
  if (type === FORM_TYPE || type === 'multipart/form-data') return next();
  const shown = type ? `"${type.slice(0, 100)}"` : 'none';
  return next(
    new BodyError(415, 'type.unsupported', `request body Content-Type ${shown} is not accepted: send application/json`),
  );
}

/**
 * The gate and the JSON and form parsers, in order. The parsers keep the names Nest looks for
 * (jsonParser, urlencodedParser), so Nest does not mount its unbounded defaults as well.
 */
export function bodyParsers(limits: BodyLimits): RequestHandler[] {
  const verify = (req: Request, _res: Response, buf: Buffer) => {
    (req as RequestWithContext).bodyDigest = digestOf(buf);
  };
  const json = express.json({
    limit: limits.maxBytes,
    type: JSON_TYPES,
    strict: true,
    verify: (req, res, buf) => {
      verify(req as Request, res as Response, buf);
      if (jsonDepth(buf, limits.maxDepth) > limits.maxDepth) {
        throw new BodyError(
          400,
          'entity.too.deep',
          `request body nests deeper than ${limits.maxDepth} levels (BODY_MAX_DEPTH)`,
        );
      }
    },
  });
  // `depth` is body-parser 2's (qs) option; the typings predate it.
  const formOptions = {
    limit: limits.maxBytes,
    extended: true,
    depth: limits.maxDepth,
    verify: (req: Request, res: Response, buf: Buffer) => verify(req, res, buf),
  };
  const form = express.urlencoded(formOptions as Parameters<typeof express.urlencoded>[0]);
  const jsonParser: RequestHandler = (req, res, next) =>
    json(req, res, (err?: unknown) => next(err === undefined ? undefined : asBodyError(err)));
  const urlencodedParser: RequestHandler = (req, res, next) =>
    form(req, res, (err?: unknown) => next(err === undefined ? undefined : asBodyError(err)));
  return [contentTypeGate, jsonParser, urlencodedParser];
}
