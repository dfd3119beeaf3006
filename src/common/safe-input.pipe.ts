import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';

/** Deeper than this is refused by the body parsers already (BODY_MAX_DEPTH ≤ 256); a guard, not a limit. */
const MAX_WALK_DEPTH = 300;

/**
 * Runs before validation on every body, query and path parameter:
 * - a NUL character anywhere in a string (value or key) is a 400 naming the field:
 *   PostgreSQL cannot store it, and no name, tag or phrase needs it;
 * - a body declared as a DTO must be a JSON object (an array or scalar would reach the
 *   handler as something else than the DTO it declares).
 */
@Injectable()
export class SafeInputPipe implements PipeTransform {
  transform(value: unknown, metadata: ArgumentMetadata): unknown {
    if (metadata.type !== 'body' && metadata.type !== 'query' && metadata.type !== 'param') return value;
    if (
      metadata.type === 'body' &&
      isDto(metadata.metatype) &&
      value !== undefined &&
      (value === null || typeof value !== 'object' || Array.isArray(value))
    ) {
      throw new BadRequestException(['request body must be a JSON object']);
    }
    const bad: string[] = [];
    findNul(value, metadata.type === 'body' ? '' : (metadata.data ?? ''), bad, 0);
    if (bad.length)
      throw new BadRequestException(
        bad.slice(0, 20).map((f) => `${f || 'value'} must not contain NUL (\\u0000) characters`),
      );
    return value;
  }
}

function isDto(metatype: unknown): boolean {
  return typeof metatype === 'function' && ![String, Number, Boolean, Array, Object].includes(metatype as never);
}

function join(path: string, key: string | number): string {
  return typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;
}

function findNul(value: unknown, path: string, bad: string[], depth: number): void {
  if (bad.length >= 20 || depth > MAX_WALK_DEPTH) return;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) bad.push(path);
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => findNul(v, join(path, i), bad, depth + 1));
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const name = join(path, k.split('\u0000').join('\\u0000').slice(0, 100));
      if (k.includes('\u0000')) bad.push(name);
      findNul(v, name, bad, depth + 1);
    }
  }
}
