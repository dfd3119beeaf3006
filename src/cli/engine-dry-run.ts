/**
 * `restore --dry-run` with the engine alone (an archive, or --database-url): what the restore
 * would do and what would stop it, without writing anything. The same checks as the HTTP dry
 * run (Dialect.dryRun); with --create-schema, the checks of a restore into an empty database.
 */
import { keysForManifest } from '../engine/backup/backup-keys';
import { readDatabaseDdl } from '../engine/backup/read-backup';
import { createDialect, type DialectOptions } from '../engine/dialects/create-dialect';
import type { DryRunResult, RestoreIssue, RestoreMode } from '../engine/dialects/dialect';
import {
  describeDifference, dryRunTables, resolveScope, schemaDifferences, tablesWithoutKey, type StoredBackup,
} from '../recovery/restore-backup';
import { CommandFailed } from './cli-errors';

export interface EngineDryRunOptions {
  url: string;
  mode: RestoreMode;
  tables?: string[];
  createSchema: boolean;
  allowSchemaMismatch: boolean;
  noOwner?: boolean;
  noPrivileges?: boolean;
  dialect?: DialectOptions;
}

export async function engineDryRun(b: StoredBackup, o: EngineDryRunOptions): Promise<DryRunResult> {
  let tables: string[];
  try {
    tables = resolveScope(b.manifest, o.tables);
  } catch (e) {
    throw new CommandFailed((e as Error).message);
  }
  const keyless = tablesWithoutKey(b.manifest, tables, o.mode);
  if (keyless.length) throw new CommandFailed(`table(s) ${keyless.join(', ')} have no primary key; a ${o.mode} restore matches rows by primary key: use --mode replace or leave them out of --tables`);
  const dialect = createDialect(o.url, o.dialect);
  try {
    if (dialect.engine !== b.manifest.engine.name) {
      throw new CommandFailed(`backup ${b.manifest.id} is of a ${b.manifest.engine.name} database; --database-url is ${dialect.engine}`);
    }
    if (o.createSchema) {
      const existing = await dialect.listTables();
      if (existing.length) throw new CommandFailed(`--create-schema needs an empty database; this one has tables: ${existing.map((t) => t.name).slice(0, 10).join(', ')}`);
      // Into an empty database every row is new; what can stop it is what the schema needs.
      const planned = b.manifest.tables.filter((t) => tables.includes(t.name)).map((t) => ({ name: t.name, insert: t.rows, update: 0, delete: 0, unchanged: 0 }));
      const whole = dialect.checkRestoreDatabase ? await readDatabaseDdl(b.storage, b.dir, b.manifest, await keysForManifest(b.keys, b.manifest)) : null;
      const checks = whole && dialect.checkRestoreDatabase ? await dialect.checkRestoreDatabase({ ddl: whole.ddl, noOwner: o.noOwner, noPrivileges: o.noPrivileges }) : { blockers: [], warnings: [] };
      return { tables: planned, ...checks };
    }
    const diffs = await schemaDifferences(dialect, b.manifest, tables);
    if (diffs.length && !o.allowSchemaMismatch) {
      throw new CommandFailed(`the target's table structure differs from the backup: ${diffs.map(describeDifference).join('; ')}. Pass --allow-schema-mismatch to restore by column name anyway, or --create-schema into an empty database.`);
    }
    return await dryRunTables(dialect, { ...b, mode: o.mode, tables });
  } finally {
    await dialect.close().catch(() => undefined);
  }
}

/** Lines for the terminal: the plan per table, then each blocker and warning. */
export function dryRunLines(r: DryRunResult): string[] {
  const issue = (label: string, i: RestoreIssue) =>
    `${label} ${i.kind} ${i.object}: ${i.message}${i.examples?.length ? ` (e.g. ${i.examples.join('; ')})` : ''}`;
  return [
    ...r.tables.map((t) => `${t.name}: insert ${t.insert}, update ${t.update}, delete ${t.delete}, unchanged ${t.unchanged}`),
    ...r.blockers.map((i) => issue('BLOCKER', i)),
    ...r.warnings.map((i) => issue('warning', i)),
  ];
}
