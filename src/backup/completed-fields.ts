import { listParts } from '../engine/archive/manifest';
import type { Manifest } from '../engine/archive/manifest.types';
import type { BackupEntity } from './backup.entity';

/** Catalog fields of a completed backup, all derived from its manifest (storage is the truth). */
export function completedFieldsFor(m: Manifest): Partial<BackupEntity> {
  const parts = m.scope
    ? listParts(m)
    : [m.schema.part, m.files.part, ...(m.image?.parts ?? []), ...m.tables.map((t) => t.part)].filter(
        (p) => p !== null && p !== undefined,
      );
  return {
    status: 'completed',
    finishedAt: m.finishedAt,
    startedAt: m.startedAt,
    sizeBytes: parts.reduce((s, p) => s + (p?.size ?? 0), 0),
    rowCount: m.tables.reduce((s, t) => s + t.rows, 0),
    tables: m.tables.map((t) => ({ name: t.name, rows: t.rows, bytes: t.bytes, sha256: t.sha256 })),
    files: {
      count: m.files.count,
      bytes: m.files.bytes,
      ...(m.files.skipped ? { skipped: m.files.skipped.count } : {}),
    },
    compression: m.compression,
    encrypted: !!m.encryption,
    keyId: m.encryption?.keyId ?? null,
    checksum: m.checksum,
    engine: m.engine.name,
    inventory: m.inventory ?? null,
    excluded: m.excluded ?? null,
    ...(m.scope
      ? {
          scope: {
            name: m.scope.name,
            table: m.scope.table,
            keys: m.scope.keys as Record<string, string | number>[],
            exclude: m.scope.exclude,
            filesColumn: m.scope.filesColumn,
            members: m.scope.members,
            context: Object.fromEntries(m.scope.context.map((t) => [t.name, t.rows])),
            warnings: m.scope.warnings,
          },
        }
      : {}),
    error: null,
    owner: null,
    progress: {
      phase: 'done',
      tablesDone: m.tables.length,
      tablesTotal: m.tables.length,
      rows: m.tables.reduce((s, t) => s + t.rows, 0),
      bytes: parts.reduce((s, p) => s + (p?.size ?? 0), 0),
      bytesDone: parts.reduce((s, p) => s + (p?.size ?? 0), 0),
      bytesTotal: parts.reduce((s, p) => s + (p?.size ?? 0), 0),
      etaSeconds: null,
    },
  };
}
