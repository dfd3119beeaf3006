/**
 * The command line's disaster restore (engineRestore, no Strongroom database) of a stored
 * backup with its file artefacts, killed with SIGKILL at KILL_AT (`staged`, `in-transaction`,
 * `committed`, `mid-swap`; see kill-points.ts). argv: storage directory, backup id, target
 * database URL, tables (comma-separated). Prints "finished" and exits 2 if the restore ends without reaching it.
 */
import { engineRestore, openStored } from '../../src/cli/engine-restore';
import { keySourceFromConfig } from '../../src/engine/backup/backup-keys';
import { LocalStorage } from '../../src/engine/storage/local-storage';
import { armKill } from './kill-points';

async function main(): Promise<void> {
  const [storageDir, backupId, url, tables] = process.argv.slice(2);
  armKill(process.env.KILL_AT!);
  const opened = await openStored(new LocalStorage(storageDir), backupId);
  await engineRestore(
    { ...opened, keys: keySourceFromConfig({}) },
    { url, mode: 'replace', tables: tables.split(','), createSchema: false, files: true, allowSchemaMismatch: false },
  );
  process.stdout.write('finished\n');
  process.exit(2);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
