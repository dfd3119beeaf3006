import { bigintAsNumber, jsonText } from '../database/columns';
import type { BackupEntity } from './backup.entity';
import { backupRowJson, backupRowView, COL, type BackupRow } from './backup-rows';
import { toBackupView } from './backup.view';

/** A row by column name, as the fixtures below are written. */
type NamedRow = Record<keyof typeof COL, unknown>;

/** The same row as the drivers answer it (an array in BACKUP_VIEW_COLUMNS order). */
function asRow(o: NamedRow): BackupRow {
  const row: unknown[] = [];
  for (const [name, i] of Object.entries(COL)) row[i] = o[name as keyof typeof COL];
  return row;
}

/** What TypeORM's hydration makes of a row (the column transformers of BackupEntity). */
function hydrate(o: NamedRow): BackupEntity {
  const r = o as unknown as Record<string, never>;
  return {
    id: r.id,
    type: r.type,
    trigger: r.trigger,
    status: r.status,
    scheduleId: r.schedule_id,
    description: r.description,
    tags: jsonText<string[]>([]).from(r.tags),
    pinned: !!r.pinned,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    sizeBytes: bigintAsNumber.from(r.size_bytes),
    rowCount: bigintAsNumber.from(r.row_count),
    tables: jsonText([]).from(r.tables),
    files: jsonText({ count: 0, bytes: 0 }).from(r.files),
    compression: r.compression,
    encrypted: !!r.encrypted,
    keyId: r.key_id,
    checksum: r.checksum,
    verifiedAt: r.verified_at,
    error: r.error,
    progress: jsonText(null).from(r.progress),
    offsiteStatus: r.offsite_status,
    offsiteAt: r.offsite_at,
    offsiteAttempts: r.offsite_attempts === null ? 0 : Number(r.offsite_attempts),
    offsiteError: r.offsite_error,
    offsiteNextAt: r.offsite_next_at,
    scope: jsonText(null).from(r.scope),
  } as unknown as BackupEntity;
}

const completed: NamedRow = {
  id: '0b9c5b8e-6a0c-4a57-9d54-0f3c1f7d2a11',
  type: 'full',
  trigger: 'scheduled',
  status: 'completed',
  schedule_id: '5f0c1f7d-2a11-4a57-9d54-0b9c5b8e6a0c',
  description: 'before the "2.4" migration\n\ttab \\ back, ünïcode ✓, emoji 🗄, nul-ish \u0001',
  tags: JSON.stringify(['nightly', 'before-migration']),
  pinned: 1,
  created_at: '2026-11-30T10:00:00.000Z',
  started_at: '2026-11-30T10:00:00.100Z',
  finished_at: '2026-11-30T10:01:00.000Z',
  size_bytes: 1234567890123,
  row_count: 20100,
  tables: JSON.stringify([
    { name: 'accounts', rows: 100, bytes: 4096, sha256: '0'.repeat(64) },
    { name: 'ëntries', rows: 20000, bytes: 1 << 20, sha256: '1'.repeat(64) },
  ]),
  files: JSON.stringify({ count: 3, bytes: 1234, skipped: 1 }),
  compression: 'zstd',
  encrypted: 0,
  key_id: null,
  checksum: 'a'.repeat(64),
  verified_at: '2026-11-30T11:00:00.000Z',
  error: null,
  progress: JSON.stringify({ phase: 'done', tablesDone: 2, tablesTotal: 2, rows: 20100, bytes: 99 }),
  offsite_status: 'failed',
  offsite_at: '2026-11-30T11:05:00.000Z',
  offsite_attempts: 3,
  offsite_error: 'offsite: connect ECONNREFUSED "127.0.0.1"',
  offsite_next_at: '2026-11-30T11:09:00.000Z',
  scope: null,
};

describe('backup rows written straight to JSON', () => {
  const cases: [string, NamedRow][] = [
    ['a completed backup (SQLite: 0/1 booleans, numbers)', completed],
    [
      'PostgreSQL: booleans, bigint as text',
      { ...completed, pinned: false, encrypted: true, key_id: 'k1', size_bytes: '9007199254740993', row_count: '0' },
    ],
    [
      'a pending backup: nulls everywhere, no progress recorded',
      {
        ...completed,
        status: 'pending',
        schedule_id: null,
        description: null,
        tags: '[]',
        started_at: null,
        finished_at: null,
        size_bytes: 0,
        tables: '[]',
        files: null,
        checksum: null,
        verified_at: null,
        progress: null,
      },
    ],
    [
      'a scoped backup',
      {
        ...completed,
        type: 'scope',
        scope: JSON.stringify({
          table: 'engagements',
          keys: [{ id: 42 }],
          exclude: ['audit_log'],
          members: { engagements: 1 },
          context: {},
        }),
      },
    ],
    [
      'a failed one with an error and a stored JSON null progress',
      { ...completed, status: 'failed', error: 'boom "x" \u2028', progress: 'null', tags: null },
    ],
  ];

  it.each(cases)('%s: byte for byte what JSON.stringify(toBackupView(entity)) writes', (_name, row) => {
    expect(backupRowJson(asRow(row))).toBe(JSON.stringify(toBackupView(hydrate(row))));
  });

  it('answers the same view object for answers built as objects', () => {
    expect(backupRowView(asRow(completed))).toEqual(toBackupView(hydrate(completed)));
  });
});
