/**
 * One Strongroom restore as its own process (measured like pg_restore). Every table of the
 * backup is restored in `--mode` (default replace) through `Dialect.restore`: all or nothing,
 * the large replace tables loaded on a second connection (RESTORE_PARALLELISM's default, 2).
 * `--create-schema` first applies the backup's schema to an empty database, as the CLI's
 * disaster-recovery restore does. `--analyze false` stops at the commit, as pg_restore does
 * (RESTORE_ANALYZE=false); by default the swapped-in tables are analyzed after it.
 * Prints one JSON line: { rowsWritten, tables }.
 */
import { createDialect } from '../src/engine/dialects/create-dialect';
import type { RestoreMode } from '../src/engine/dialects/dialect';
import { keySourceFromConfig, keysForManifest } from '../src/engine/backup/backup-keys';
import { readManifest, readSchemaSql, restoreInputs } from '../src/engine/backup/read-backup';
import { LocalStorage } from '../src/engine/storage/local-storage';
import { parseArgs, required, runMain } from './cli-args';

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const storage = new LocalStorage(required(args, 'store'));
  const dir = required(args, 'dir');
  const mode = (args.get('mode') ?? 'replace') as RestoreMode;
  const dialect = createDialect(required(args, 'url'), { restoreAnalyze: args.get('analyze') !== 'false' });
  try {
    const manifest = await readManifest(storage, dir);
    const keys = await keysForManifest(keySourceFromConfig({ keys: process.env.BENCH_BACKUP_KEYS }), manifest);
    if (args.get('create-schema') === 'true') await dialect.applySchema(await readSchemaSql(storage, dir, manifest, keys));
    const results = await dialect.restore({
      encoding: manifest.engine.encoding,
      tables: restoreInputs(storage, dir, manifest, keys, () => mode),
      sequences: manifest.sequences,
    });
    const rowsWritten = results.reduce((a, r) => a + r.rowsWritten, 0);
    process.stdout.write(`${JSON.stringify({ rowsWritten, tables: results.length })}\n`);
  } finally {
    await dialect.close();
  }
});
