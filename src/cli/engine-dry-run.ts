/**
 * `restore --dry-run` with the engine alone (an archive, or --database-url): what the restore
 * would do and what would stop it, without writing anything. The same checks as the HTTP dry
 * run (Dialect.dryRun); with --create-schema, the checks of a restore into an empty database.
 */
import { keysForManifest } from '../engine/backup/backup-keys';
import { readDatabaseDdl } from '../engine/backup/read-backup';
import { createDialect, type DialectOptions } from '../engine/dialects/create-dialect';
import type { DryRunResult, RestoreIssue, RestoreMode } from '../engine/dialects/dialect';
import { preflightRestore } from '../engine/restore/preflight';
import { dryRunTables, type StoredBackup } from '../engine/restore/restore-backup';
import { CLI_WORDS } from './engine-restore';

export interface EngineDryRunOptions {
  url: string;
  mode: RestoreMode;
  tables?: string[];
  createSchema: boolean;
  allowSchemaMismatch: boolean;
  /** A scoped backup: its rows that moved out of the scope may be restored. */
  allowScopeMoves?: boolean;
  /** A scoped backup with files (--files): list the files the restore would write and remove. */
  files?: boolean;
  noOwner?: boolean;
  noPrivileges?: boolean;
  dialect?: DialectOptions;
}

export async function engineDryRun(b: StoredBackup, o: EngineDryRunOptions): Promise<DryRunResult> {
  // The same preflight as the restore itself: scope, keys, engine, and the target's structure (or emptiness).
  const { tables, dialect } = await preflightRestore(
    b.manifest,
    {
      mode: o.mode,
      tables: o.tables,
      files: false,
      allowSchemaMismatch: o.allowSchemaMismatch,
      createSchema: o.createSchema,
    },
    { openTarget: () => createDialect(o.url, o.dialect), words: CLI_WORDS },
  );
  try {
    if (o.createSchema) {
      // Into an empty database every row is new; what can stop it is what the schema needs.
      const planned = b.manifest.tables
        .filter((t) => tables.includes(t.name))
        .map((t) => ({ name: t.name, insert: t.rows, update: 0, delete: 0, unchanged: 0 }));
      const whole = dialect.checkRestoreDatabase
        ? await readDatabaseDdl(b.storage, b.dir, b.manifest, await keysForManifest(b.keys, b.manifest))
        : null;
      const checks =
        whole && dialect.checkRestoreDatabase
          ? await dialect.checkRestoreDatabase({ ddl: whole.ddl, noOwner: o.noOwner, noPrivileges: o.noPrivileges })
          : { blockers: [], warnings: [] };
      return { tables: planned, ...checks };
    }
    const scopeFiles =
      o.files && b.manifest.scope && b.manifest.files.part ? { roots: b.manifest.files.roots } : undefined;
    return await dryRunTables(dialect, {
      ...b,
      mode: o.mode,
      tables,
      allowScopeMoves: o.allowScopeMoves,
      scopeFiles,
    });
  } finally {
    await dialect.close().catch(() => undefined);
  }
}

/** Lines for the terminal: the plan per table, then each blocker and warning. */
export function dryRunLines(r: DryRunResult): string[] {
  const issue = (label: string, i: RestoreIssue) =>
    `${label} ${i.kind} ${i.object}: ${i.message}${i.examples?.length ? ` (e.g. ${i.examples.join('; ')})` : ''}`;
  return [
    ...r.tables.map(
      (t) => `${t.name}: insert ${t.insert}, update ${t.update}, delete ${t.delete}, unchanged ${t.unchanged}`,
    ),
    ...(r.files?.write.map((f) => `file: write ${f}`) ?? []),
    ...(r.files?.remove.map((f) => `file: remove ${f}`) ?? []),
    ...r.blockers.map((i) => issue('BLOCKER', i)),
    ...r.warnings.map((i) => issue('warning', i)),
  ];
}
