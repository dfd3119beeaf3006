import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import type { SelectQueryBuilder } from 'typeorm';
import { DomainError, ErrorCode } from './domain-error';

/** `limit` and `cursor` as every list endpoint takes them (API.md). */
export class PageQueryDto {
  @ApiPropertyOptional({
    description: 'Items per page, 1..200',
    type: 'integer',
    minimum: 1,
    maximum: 200,
    default: 50,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(200)
  limit?: number;

  @ApiPropertyOptional({ description: "Opaque cursor from a previous page's nextCursor" })
  @IsOptional()
  @IsString()
  @MaxLength(500)
  cursor?: string;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export function encodeCursor(parts: (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/** Decodes a cursor; a malformed one is the caller's 400, so return null and let it say so. */
export function decodeCursor(cursor: string | undefined): (string | number)[] | null {
  if (!cursor) return null;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    return Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number') ? v : null;
  } catch {
    return null;
  }
}

const CURSOR_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/;
const CURSOR_ID = /^[A-Za-z0-9._:-]{1,100}$/;

/**
 * The (created_at, id) position a newest-first cursor names, or null without a cursor;
 * strictly what newestFirstPage hands out (an ISO time as toISOString() writes it and an id),
 * anything else is the caller's 400.
 */
export function parseNewestFirstCursor(cursor: string | undefined): [string, string] | null {
  if (!cursor) return null;
  const c = decodeCursor(cursor);
  if (
    !c ||
    c.length !== 2 ||
    typeof c[0] !== 'string' ||
    !CURSOR_TIME.test(c[0]) ||
    typeof c[1] !== 'string' ||
    !CURSOR_ID.test(c[1])
  ) {
    throw new DomainError(ErrorCode.InvalidInput, 'cursor is not valid');
  }
  return [c[0], c[1]];
}

/**
 * Keyset pagination newest first over `<alias>.created_at, <alias>.id` (stable when several
 * rows share a timestamp). The query builder carries the filters; this adds order, cursor and
 * limit, and answers the page's rows with the cursor of the next page.
 */
export async function newestFirstPage<T extends { createdAt: string; id: string }>(
  qb: SelectQueryBuilder<T>,
  alias: string,
  limit: number,
  cursor: string | undefined,
): Promise<{ rows: T[]; nextCursor: string | null }> {
  qb.orderBy(`${alias}.created_at`, 'DESC')
    .addOrderBy(`${alias}.id`, 'DESC')
    .take(limit + 1);
  const c = parseNewestFirstCursor(cursor);
  if (c) {
    // The leading `created_at <=` is implied by the rest; it is there so both engines seek the
    // (created_at, id) index to the cursor instead of filtering every newer row on the way.
    qb.andWhere(
      `(${alias}.created_at <= :c0 AND (${alias}.created_at < :c0 OR (${alias}.created_at = :c0 AND ${alias}.id < :c1)))`,
      { c0: c[0], c1: c[1] },
    );
  }
  const rows = await qb.getMany();
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return { rows: page, nextCursor: rows.length > limit && last ? encodeCursor([last.createdAt, last.id]) : null };
}
