/**
 * The baseline for SQLite backups: better-sqlite3's wrapper of SQLite's online backup API,
 * which copies the database page by page into a new file. Run as its own process so it is
 * measured like our backup. Usage: --src <file> --dest <file>. Prints { bytes }.
 */
import { statSync } from 'node:fs';
import Database from 'better-sqlite3';
import { parseArgs, required, runMain } from './cli-args';

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const db = new Database(required(args, 'src'), { readonly: true });
  try {
    const dest = required(args, 'dest');
    await db.backup(dest);
    process.stdout.write(`${JSON.stringify({ bytes: statSync(dest).size })}\n`);
  } finally {
    db.close();
  }
});
