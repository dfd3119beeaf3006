/**
 * Column conventions shared by every tracking entity so that one entity definition maps
 * to identical behaviour on SQLite and PostgreSQL:
 * - times are ISO-8601 UTC strings (`toISOString()`, fixed width, so they sort as text);
 * - integers that can exceed 2^31 are `bigint` columns read back as JS numbers;
 * - structured values are JSON text.
 */
import type { ValueTransformer } from 'typeorm';

export const ISO_TIME = { type: 'varchar', length: 32 } as const;

export const bigintAsNumber: ValueTransformer = {
  to: (v: number | null | undefined) => v,
  from: (v: string | number | null) => (v === null || v === undefined ? v : Number(v)),
};

export function jsonText<T>(fallback: T): ValueTransformer {
  return {
    to: (v: T | null | undefined) => (v === undefined ? undefined : v === null ? null : JSON.stringify(v)),
    from: (v: string | null) => (v === null || v === undefined ? fallback : (JSON.parse(v) as T)),
  };
}

export const nowIso = (): string => new Date().toISOString();
