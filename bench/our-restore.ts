/**
 * One Strongroom restore as its own process (measured like pg_restore). Every table of the
 * backup is restored in `--mode` (default replace) through `Dialect.restore`: all or nothing,
 * the large replace tables loaded by loader connections (RESTORE_PARALLELISM's default, 2).
 * `--create-schema` restores into an empty database exactly as the CLI's disaster-recovery
 * restore does: a whole-database backup through `Dialect.restoreDatabase` (pre-data, rows,
 * sequences, large objects, post-data, one transaction), an older per-table one by applying
 * its schema first. `--analyze false` gathers no statistics, as pg_restore does
 * (RESTORE_ANALYZE=false); by default the loaders analyze each swapped-in table before the swap.
 * A scoped backup restores as the service does (restoreTables: the scope's closure under the
 * restore's locks, live members the backup lacks removed, the rest merged by key).
 * Prints one JSON line: { rowsWritten, tables, stages? }.
 */
import { createDialect } from '../src/engine/dialects/create-dialect';
import type { RestoreMode } from '../src/engine/dialects/dialect';
import { keySourceFromConfig, keysForManifest } from '../src/engine/backup/backup-keys';
import {
  readDatabaseDdl,
  readManifest,
  readSchemaSql,
  restoreInputs,
  tableRows,
} from '../src/engine/backup/read-backup';
import { LocalStorage } from '../src/engine/storage/local-storage';
import { usePartWorkers } from '../src/engine/archive/part-io';
import { processStageStats, stageStatsOn } from '../src/engine/archive/stage-stats';
import { restoreTables } from '../src/engine/restore/restore-backup';
import { parseArgs, required, runMain } from './cli-args';

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  // `--workers false`: the part pipeline on the main thread, to show what its worker threads change.
  usePartWorkers(args.get('workers') === 'false' ? false : 'auto');
  const storage = new LocalStorage(required(args, 'store'));
  const dir = required(args, 'dir');
  const mode = (args.get('mode') ?? 'replace') as RestoreMode;
  // `--restore-parallel 1`: everything on the main transaction's connection (RESTORE_PARALLELISM=1), for comparison.
  const restoreParallel = args.get('restore-parallel') ? Number(args.get('restore-parallel')) : undefined;
  const dialect = createDialect(required(args, 'url'), {
    restoreAnalyze: args.get('analyze') !== 'false',
    restoreParallel,
  });
  try {
    const manifest = await readManifest(storage, dir);
    const keySource = keySourceFromConfig({ keys: process.env.BENCH_BACKUP_KEYS });
    if (manifest.scope) {
      const results = await restoreTables(dialect, {
        storage,
        dir,
        manifest,
        keys: keySource,
        mode,
        tables: manifest.tables.map((t) => t.name),
      });
      const rowsWritten = results.reduce((a, r) => a + r.rowsWritten, 0);
      process.stdout.write(`${JSON.stringify({ rowsWritten, tables: results.length })}\n`);
      return;
    }
    const keys = await keysForManifest(keySource, manifest);
    const rows = tableRows(storage, dir, manifest, keys);
    const input = {
      encoding: manifest.engine.encoding,
      tables: restoreInputs(manifest, rows, () => mode),
      sequences: manifest.sequences,
    };
    const createSchema = args.get('create-schema') === 'true';
    const whole = createSchema && dialect.restoreDatabase ? await readDatabaseDdl(storage, dir, manifest, keys) : null;
    let results;
    if (whole && dialect.restoreDatabase) {
      results = (await dialect.restoreDatabase(whole, input)).tables;
    } else {
      if (createSchema) await dialect.applySchema(await readSchemaSql(storage, dir, manifest, keys));
      results = await dialect.restore(input);
    }
    await rows.close();
    const rowsWritten = results.reduce((a, r) => a + r.rowsWritten, 0);
    // STRONGROOM_STAGE_STATS=1 (the benchmark sets it): where this process's CPU went, by stage.
    const stages = stageStatsOn() ? processStageStats() : undefined;
    process.stdout.write(`${JSON.stringify({ rowsWritten, tables: results.length, stages })}\n`);
  } finally {
    await dialect.close();
  }
});
