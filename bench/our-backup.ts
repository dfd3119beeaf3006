/**
 * One Strongroom backup as its own process, so the benchmark measures its wall time and peak
 * memory exactly as it measures pg_dump. The encryption key comes from BENCH_BACKUP_KEYS
 * (`id:base64`), not argv, so it never shows in `ps`.
 * `--scope-table t --scope-key k`: a scoped backup of that one root row instead (its closure by
 * foreign keys: the scope backup the goals compare with the full one).
 * Prints one JSON line: { id, dir, bytes, rawBytes, rows, encrypted, format, tables, stages? }.
 */
import { randomUUID } from 'node:crypto';
import { createDialect } from '../src/engine/dialects/create-dialect';
import { keySourceFromConfig } from '../src/engine/backup/backup-keys';
import { writeBackup } from '../src/engine/backup/write-backup';
import { LocalStorage } from '../src/engine/storage/local-storage';
import type { Compression } from '../src/engine/archive/manifest.types';
import { usePartWorkers } from '../src/engine/archive/part-io';
import { processStageStats, stageStatsOn } from '../src/engine/archive/stage-stats';
import { parseArgs, required, runMain } from './cli-args';

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  // `--workers false`: the part pipeline on the main thread, to show what its worker threads change.
  usePartWorkers(args.get('workers') === 'false' ? false : 'auto');
  const url = required(args, 'url');
  const storage = new LocalStorage(required(args, 'store'));
  const parallel = Number(args.get('parallel') ?? '2');
  const keys = process.env.BENCH_BACKUP_KEYS
    ? keySourceFromConfig({ keys: process.env.BENCH_BACKUP_KEYS })
    : keySourceFromConfig({});
  const dialect = createDialect(url, { parallel });
  try {
    const tables = (await dialect.listTables()).map((t) => t.name);
    const scopeTable = args.get('scope-table');
    const scopeKey = args.get('scope-key');
    const id = randomUUID();
    const dir = `backups/${id}`;
    const m = await writeBackup(dialect, storage, {
      id,
      dir,
      type: scopeTable ? 'scope' : 'full',
      ...(scopeTable ? { scope: { table: scopeTable, keys: [{ id: Number(scopeKey) }] } } : {}),
      trigger: 'manual',
      description: 'benchmark',
      tags: ['bench'],
      scheduleId: null,
      tables,
      fileRoots: [],
      compression: (args.get('compression') ?? 'zstd') as Compression,
      keys,
      appVersion: 'bench',
      migrations: [],
      auditHead: null,
      parallel,
    });
    const bytes = (await storage.list(dir)).reduce((a, o) => a + o.size, 0);
    const rows = m.tables.reduce((a, t) => a + t.rows, 0);
    const rawBytes = m.image ? m.image.bytes : m.tables.reduce((a, t) => a + t.bytes, 0);
    const format = m.image ? `page image (${m.image.source})` : 'rows';
    // STRONGROOM_STAGE_STATS=1 (the benchmark sets it): where this process's CPU went, by stage.
    const stages = stageStatsOn() ? processStageStats() : undefined;
    // PostgreSQL: how many tables went as binary COPY (pg-copy-binary.ts), the rest as text.
    const archived = {
      count: m.tables.length,
      binary: m.tables.filter((t) => t.rowFormat === 'pg-copy-binary').length,
    };
    const out = { id, dir, bytes, rawBytes, rows, encrypted: m.encryption !== null, format, tables: archived, stages };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await dialect.close();
  }
});
