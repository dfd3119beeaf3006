/**
 * What a request hook may put into an audit event. Anything a client sent is copied through
 * `boundedCopy`: depth, string length, array length, key count and total size are capped, so
 * hashing, canonicalizing and storing it can neither overflow the stack nor grow the catalog
 * by more than a few kilobytes per event. Secrets are redacted by field name on the way.
 */
import { REDACTED, isSecretField } from '../common/redact';

export interface Bounds {
  depth: number;
  string: number;
  items: number;
  /** Total characters of canonical JSON the copy may take; past it the value is dropped and marked. */
  budget: number;
}

/** For the bodies and queries of authenticated changes. */
export const DETAIL_BOUNDS: Bounds = { depth: 6, string: 1000, items: 50, budget: 8 * 1024 };
/** For what anonymous or refused clients sent: a glimpse, never their payload. */
export const REFUSED_BOUNDS: Bounds = { depth: 3, string: 100, items: 10, budget: 512 };

export const TRUNCATED = '[TRUNCATED]';

/** A deep copy within bounds, secrets redacted; never throws, whatever the input (cycles, getters, huge). */
export function boundedCopy(value: unknown, bounds: Bounds): unknown {
  const state = { left: bounds.budget };
  try {
    return copy(value, bounds, 0, state);
  } catch {
    return TRUNCATED;
  }
}

function copy(value: unknown, b: Bounds, depth: number, state: { left: number }): unknown {
  if (state.left <= 0) return TRUNCATED;
  if (value === null || typeof value === 'boolean') {
    state.left -= 5;
    return value;
  }
  if (typeof value === 'number') {
    state.left -= 24;
    return Number.isFinite(value) ? value : String(value);
  }
  if (typeof value === 'string') {
    const s = value.length > b.string ? `${value.slice(0, b.string)}…(${value.length} chars)` : value;
    state.left -= s.length + 2;
    return s;
  }
  if (typeof value !== 'object') return undefined; // functions, symbols, bigint: nothing a client sends
  if (value instanceof Date) return Number.isFinite(value.getTime()) ? value.toISOString() : String(value);
  if (depth >= b.depth) {
    state.left -= TRUNCATED.length;
    return TRUNCATED;
  }
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (let i = 0; i < value.length && i < b.items; i++) {
      if (state.left <= 0) break;
      out.push(copy(value[i], b, depth + 1, state) ?? null);
    }
    if (value.length > out.length) out.push(`${TRUNCATED} ${value.length - out.length} more`);
    return out;
  }
  const out: Record<string, unknown> = {};
  let n = 0;
  const keys = Object.keys(value);
  for (const k of keys) {
    if (n >= b.items || state.left <= 0) {
      out[TRUNCATED] = `${keys.length - n} more keys`;
      break;
    }
    const key = k.length > 100 ? `${k.slice(0, 100)}…` : k;
    state.left -= key.length + 4;
    out[key] = isSecretField(k) ? REDACTED : copy((value as Record<string, unknown>)[k], b, depth + 1, state);
    n++;
  }
  return out;
}

/**
 * Text for a fixed-width column (resource id, ip, user agent): control characters (NUL
 * among them, which PostgreSQL refuses) replaced, cut to the column's width.
 */
export function columnText(value: unknown, max: number): string | null {
  if (typeof value !== 'string' || value === '') return null;
  // eslint-disable-next-line no-control-regex
  const clean = value.replace(/[\u0000-\u001f\u007f]/g, '\uFFFD');
  return clean.length > max ? clean.slice(0, max) : clean;
}
