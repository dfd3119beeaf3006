/** The commands themselves. Catalog commands boot the service without HTTP or scheduler. */
import type { INestApplicationContext, LoggerService } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { config as loadDotenv } from 'dotenv';
import { userInfo } from 'node:os';
import { BackupArchiveService } from '../backup/backup-archive.service';
import { BackupCatalogService } from '../backup/backup-catalog.service';
import { BackupsService } from '../backup/backups.service';
import { TargetDatabase } from '../backup/target-database';
import { offsiteStorageFromConfig, storageFromConfig } from '../backup/storage.provider';
import { checkCopy } from '../engine/backup/backup-copy';
import type { Actor } from '../common/request-context';
import { AppConfig, dialectOptions, loadConfig } from '../config/app-config';
import { redactDatabaseUrl } from '../database/database-url';
import { keySourceFromConfig } from '../engine/backup/backup-keys';
import { RecoveriesService } from '../recovery/recoveries.service';
import type { Command } from './args';
import { checkpointsFromSources, readPublicKey, verdictLines, verifyExport } from './audit-verify';
import { CliModule } from './cli.module';
import { CommandFailed } from './cli-errors';
import { rowTotal } from '../engine/restore/restore-backup';
import {
  authenticateOpened,
  engineRestore,
  openArchive,
  openStored,
  verifyOpened,
  type OpenedBackup,
} from './engine-restore';
import { dryRunLines, engineDryRun } from './engine-dry-run';
import type { DryRunResult } from '../engine/dialects/dialect';
import { confirmOrRefuse, type Terminal } from './terminal';
import { onInterrupt } from './interrupt';
import { CancelWatch } from '../backup/job-cancel';
import { assertScopeOf, scopeRequestOf } from './cli-scope';
import { runAs } from '../common/request-scope';

const CLI_ACTOR: Actor = { type: 'system', keyId: null, name: `cli:${safeUser()}`, role: null };

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown';
  }
}

/** Nest's own messages go to stderr, so stdout carries only results (e.g. a backup id). */
function stderrLogger(): LoggerService {
  const write = (level: string) => (message: unknown) => void process.stderr.write(`[${level}] ${String(message)}\n`);
  return { log: () => undefined, warn: write('warn'), error: write('error') };
}

async function withService<T>(
  fn: (app: INestApplicationContext) => Promise<T>,
  opts: { ownInterrupt?: boolean } = {},
): Promise<T> {
  const app = await NestFactory.createApplicationContext(CliModule, { logger: stderrLogger(), abortOnError: false });
  // SIGTERM (and Ctrl-C, unless the command handles it: onInterrupt) stops a running job (a
  // restore rolls back) and releases the lease.
  app.enableShutdownHooks(opts.ownInterrupt ? ['SIGTERM', 'SIGHUP', 'SIGQUIT'] : undefined);
  try {
    // The command acts as the operator who ran it (request-scope.ts); boot and shutdown stay the system's.
    return await runAs(CLI_ACTOR, () => fn(app));
  } finally {
    await app.close();
  }
}

function configOnly(): AppConfig {
  loadDotenv({ quiet: true });
  return loadConfig(process.env);
}

const size = (n: number) =>
  n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;

/** ", 1.2 MiB of 3.4 MiB, about 20 s left" as far as known. */
function bytesLine(p: { bytesDone: number; bytesTotal: number | null; etaSeconds: number | null }): string {
  const total = p.bytesTotal ? ` of ${size(p.bytesTotal)}` : '';
  const eta = p.etaSeconds !== null ? `, about ${p.etaSeconds} s left` : '';
  return `, ${size(p.bytesDone)}${total}${eta}`;
}

export async function runCommand(cmd: Command, term: Terminal): Promise<void> {
  switch (cmd.name) {
    case 'help':
      return;
    case 'backup':
      return withService((app) => backupCommand(app, cmd, term), { ownInterrupt: true });
    case 'list':
      return withService(async (app) => {
        const catalog = app.get(BackupCatalogService);
        let cursor: string | undefined;
        do {
          const page = await catalog.list({}, 200, cursor);
          for (const b of page.items) {
            term.out(
              [
                b.id,
                b.createdAt,
                b.type.padEnd(6),
                b.trigger.padEnd(11),
                b.status.padEnd(9),
                size(b.sizeBytes).padStart(10),
                `${b.rowCount} rows`,
              ].join('  '),
            );
          }
          cursor = page.nextCursor ?? undefined;
        } while (cursor);
      });
    case 'verify': {
      const print = (checks: { name: string; ok: boolean; detail?: string }[]) => {
        for (const c of checks) term.out(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.name}${c.detail ? `: ${c.detail}` : ''}`);
      };
      if (cmd.source.kind === 'backup') {
        const id = cmd.source.id;
        return withService(async (app) => {
          const result = await app.get(BackupArchiveService).verify(id, cmd.deep);
          if (result.source === 'offsite')
            term.info(`the primary copy is unsound (${result.primaryProblem}); these checks are of the offsite copy`);
          print(result.checks);
          if (!result.ok) throw new CommandFailed(`backup ${id} is NOT sound`);
          term.info(`backup ${id} is sound`);
        });
      }
      const config = configOnly();
      const opened = await openArchive(cmd.source.file);
      try {
        const target = config.targetDatabaseUrl;
        const result = await verifyOpened(
          { ...opened, keys: keysOf(config) },
          { deep: cmd.deep, scratchServerUrl: target.startsWith('postgres') ? target : undefined },
        );
        print(result.checks);
        if (!result.ok) throw new CommandFailed(`archive ${cmd.source.file} is NOT sound`);
        term.info(`archive ${cmd.source.file} (backup ${opened.manifest.id}) is sound`);
      } finally {
        await opened.dispose();
      }
      return;
    }
    case 'audit': {
      const publicKey = readPublicKey(cmd.publicKey);
      // Only for a configured storage does the configuration matter (its location and credentials).
      const checkpoints = await checkpointsFromSources(cmd.checkpoints ?? ['storage:backup'], (which) =>
        which === 'storage:backup' ? storageFromConfig(configOnly()) : offsiteStorageFromConfig(configOnly()),
      );
      const verdict = await verifyExport(cmd.exportFile, checkpoints, publicKey);
      for (const line of verdictLines(verdict)) term.out(line);
      if (!verdict.ok) throw new CommandFailed(`the audit trail does NOT verify: ${verdict.failure}`);
      // A chain alone proves nothing against whoever can rewrite it: the signed checkpoints do.
      if (verdict.chain.checked > 0 && !verdict.checkpoints.latest) {
        throw new CommandFailed('no signed checkpoint covers the trail: nothing ties it to the public key');
      }
      term.info('the audit trail verifies against its signed checkpoints');
      return;
    }
    case 'restore':
      if (cmd.dryRun) return dryRunRestore(cmd, term);
      if (cmd.source.kind === 'archive' || cmd.databaseUrl) return restoreWithEngine(cmd, term);
      return restoreThroughCatalog(cmd, cmd.source.id, term);
  }
}

type RestoreCommand = Extract<Command, { name: 'restore' }>;

/** A backup with progress on the terminal; Ctrl-C cancels it (its parts are removed) and exits 1. */
async function backupCommand(
  app: INestApplicationContext,
  cmd: Extract<Command, { name: 'backup' }>,
  term: Terminal,
): Promise<void> {
  const backups = app.get(BackupsService);
  const catalog = app.get(BackupCatalogService);
  let id: string | null = null;
  let interrupted = false;
  const cancel = () => {
    const started = id;
    // A signal handler runs outside the command's scope: it names the operator again.
    if (started)
      void runAs(CLI_ACTOR, () => backups.cancel(started)).catch((e: Error) =>
        term.info(`could not cancel: ${e.message}`),
      );
  };
  const off = onInterrupt(() => {
    interrupted = true;
    cancel();
  }, term);
  try {
    const scope = cmd.scope ? await scopeRequestOf(app, cmd.scope) : undefined;
    const started = await backups.start({ type: cmd.type, tables: cmd.tables, scope, trigger: 'manual' });
    id = started.id;
    if (interrupted) cancel();
    const timer = setInterval(() => {
      void catalog.get(started.id).then(
        (b) =>
          term.progress(
            `backup ${b.id}: ${b.progress.phase} ${b.progress.tablesDone}/${b.progress.tablesTotal} tables, ${b.progress.rows} rows${bytesLine(b.progress)}`,
            b.progress.phase,
          ),
        () => undefined,
      );
    }, 250);
    try {
      await backups.waitFor(started.id);
    } finally {
      clearInterval(timer);
      term.done();
    }
    const b = await catalog.get(started.id);
    if (b.status === 'cancelled')
      throw new CommandFailed(`backup ${b.id} was cancelled: none of its parts were kept in storage`);
    if (b.status !== 'completed') throw new CommandFailed(`backup ${b.id} failed: ${b.error ?? 'unknown error'}`);
    if (interrupted) term.info('Ctrl-C came too late: the backup had already been committed');
    term.info(
      `backup completed: ${b.tables.length} tables, ${b.rowCount} rows${b.files.count ? `, ${b.files.count} files` : ''}, ${size(b.sizeBytes)}`,
    );
    term.out(b.id);
  } finally {
    off();
  }
}

function keysOf(config: AppConfig) {
  return keySourceFromConfig({
    keys: config.BACKUP_ENCRYPTION_KEYS,
    activeId: config.BACKUP_ENCRYPTION_KEY_ID,
    passphrase: config.BACKUP_ENCRYPTION_PASSPHRASE,
    allowUnauthenticated: config.ALLOW_UNAUTHENTICATED_ARCHIVES,
  });
}

/** Prints the plan, blockers and warnings; exit 1 when a blocker says the restore would fail. */
function reportDryRun(r: DryRunResult, term: Terminal, id: string): void {
  for (const line of dryRunLines(r)) term.out(line);
  if (r.blockers.length)
    throw new CommandFailed(
      `a restore of backup ${id} as asked would fail: ${r.blockers.length} blocker(s) above; nothing was written`,
    );
  term.info(
    `dry run of backup ${id}: nothing would stop the restore${r.warnings.length ? ` (${r.warnings.length} warning(s) above)` : ''}; nothing was written`,
  );
}

async function dryRunRestore(cmd: RestoreCommand, term: Terminal): Promise<void> {
  if (cmd.source.kind === 'backup' && !cmd.databaseUrl) {
    const id = cmd.source.id;
    return withService(async (app) => {
      const backup = await app.get(BackupCatalogService).get(id);
      assertScopeOf(backup, cmd.scope);
      const { plan } = await app.get(RecoveriesService).plan({
        backupId: id,
        mode: cmd.mode,
        tables: cmd.tables,
        allowSchemaMismatch: cmd.allowSchemaMismatch,
        allowScopeMoves: cmd.allowScopeMoves,
      });
      reportDryRun(plan, term, id);
    });
  }
  const config = configOnly();
  const opened =
    cmd.source.kind === 'archive'
      ? await openArchive(cmd.source.file)
      : await openStoredCopy(config, cmd.source.id, term);
  try {
    const b = { ...opened, keys: keysOf(config) };
    await authenticateOpened(b);
    assertScopeOf(opened.manifest, cmd.scope);
    const r = await engineDryRun(b, {
      allowScopeMoves: cmd.allowScopeMoves,
      files: cmd.files,
      url: cmd.databaseUrl ?? config.targetDatabaseUrl,
      mode: cmd.mode,
      tables: cmd.tables,
      createSchema: cmd.createSchema,
      allowSchemaMismatch: cmd.allowSchemaMismatch,
      noOwner: cmd.noOwner,
      noPrivileges: cmd.noPrivileges,
      dialect: dialectOptions(config),
    });
    reportDryRun(r, term, opened.manifest.id);
  } finally {
    await opened.dispose();
  }
}

async function restoreWithEngine(cmd: RestoreCommand, term: Terminal): Promise<void> {
  const config = configOnly();
  const url = cmd.databaseUrl ?? config.targetDatabaseUrl;
  const opened =
    cmd.source.kind === 'archive'
      ? await openArchive(cmd.source.file)
      : await openStoredCopy(config, cmd.source.id, term);
  try {
    const m = opened.manifest;
    await authenticateOpened({ ...opened, keys: keysOf(config) });
    assertScopeOf(m, cmd.scope);
    await confirmOrRefuse(
      `Restore backup ${m.id} (${m.type}, taken ${m.createdAt}) in ${cmd.mode} mode into ${redactDatabaseUrl(url)}${cmd.createSchema ? ', creating its schema first' : ''}${cmd.files ? `, and its files into ${m.files.roots.join(', ')}` : ''}?`,
      cmd.yes,
    );
    const total = rowTotal();
    // Nothing to poll: this process alone runs the restore; the watch only decides cancel or commit.
    const watch = new CancelWatch({ poll: () => Promise.resolve(null), everyMs: 60_000 });
    const off = onInterrupt(() => {
      void watch.cancel('Ctrl-C').then((outcome) => {
        if (outcome !== 'cancelled') term.info('Ctrl-C came too late: the restore has already committed');
      });
    }, term);
    const result = await engineRestore(
      { ...opened, keys: keysOf(config) },
      {
        url,
        mode: cmd.mode,
        tables: cmd.tables,
        createSchema: cmd.createSchema,
        files: cmd.files,
        allowSchemaMismatch: cmd.allowSchemaMismatch,
        noOwner: cmd.noOwner,
        noPrivileges: cmd.noPrivileges,
        createRoles: cmd.createRoles,
        allowScopeMoves: cmd.allowScopeMoves,
        dialect: dialectOptions(config),
        onPhase: (phase) => term.progress(`backup ${m.id}: ${phase}`, phase),
        onProgress: (p) =>
          term.progress(`backup ${m.id}: restoring, ${total(p)} rows so far (${p.table})`, 'restoring'),
        onWarning: (message) => term.info(`warning: ${message}`),
        signal: watch.signal,
        commitGate: () => watch.gate(),
      },
    )
      .catch((e: unknown) => {
        if (watch.cancelledBy)
          throw new CommandFailed(
            `restore of backup ${m.id} was cancelled (Ctrl-C) before its commit: it was rolled back, the target is as it was${cmd.files ? ' and staged files were removed' : ''}`,
          );
        throw e;
      })
      .finally(off);
    term.done();
    const written = result.tables.reduce((s, t) => s + t.rowsWritten, 0);
    term.info(
      `restored ${result.tables.length} tables, ${written} rows written${result.files ? `, ${result.files.count} files` : ''}`,
    );
    if (result.roles) {
      const { created, skipped } = result.roles;
      term.info(
        `roles created: ${created.length ? created.join(', ') : 'none'}; already in the cluster, left as they are: ${skipped.length ? skipped.join(', ') : 'none'}`,
      );
    }
    if (result.missingRoles.length) {
      term.info(
        `roles missing from the target cluster (their ownership and grants were skipped): ${result.missingRoles.join(', ')}`,
      );
    }
  } finally {
    term.done();
    await opened.dispose();
  }
}

/**
 * A stored backup for the engine alone (no catalog): the primary copy, unless it is missing or
 * fails its checksums and the offsite copy (OFFSITE_STORAGE) passes them; the switch is said
 * on stderr, as there is no audit trail to record it in.
 */
async function openStoredCopy(config: AppConfig, id: string, term: Terminal): Promise<Omit<OpenedBackup, 'keys'>> {
  const primary = storageFromConfig(config);
  const offsite = offsiteStorageFromConfig(config);
  if (!offsite) return openStored(primary, id);
  const dir = `backups/${id}`;
  const own = await checkCopy(primary, dir);
  if (own.ok) return openStored(primary, id);
  const other = await checkCopy(offsite, dir);
  if (!other.ok) {
    term.info(`the offsite copy of backup ${id} is unsound too: ${other.problem}`);
    return openStored(primary, id);
  }
  term.info(
    `the primary copy of backup ${id} is unsound (${own.problem}); using the offsite copy in ${offsite.location}`,
  );
  return openStored(offsite, id);
}

async function restoreThroughCatalog(cmd: RestoreCommand, id: string, term: Terminal): Promise<void> {
  return withService((app) => recoveryCommand(app, cmd, id, term), { ownInterrupt: true });
}

/** A recovery with progress on the terminal; Ctrl-C before its commit cancels it (rolled back) and exits 1. */
async function recoveryCommand(
  app: INestApplicationContext,
  cmd: RestoreCommand,
  id: string,
  term: Terminal,
): Promise<void> {
  const backup = await app.get(BackupCatalogService).get(id);
  assertScopeOf(backup, cmd.scope);
  const target = app.get(TargetDatabase);
  await confirmOrRefuse(
    `Restore backup ${id} (${backup.type}, taken ${backup.createdAt}) in ${cmd.mode} mode into ${redactDatabaseUrl(target.sourceUrl(backup.type))}?`,
    cmd.yes,
  );
  const recoveries = app.get(RecoveriesService);
  let recoveryId: string | null = null;
  let interrupted = false;
  const cancel = () => {
    const id = recoveryId;
    // A signal handler runs outside the command's scope: it names the operator again.
    if (id)
      void runAs(CLI_ACTOR, () => recoveries.cancel(id)).catch((e: Error) =>
        term.info(`could not cancel: ${e.message}`),
      );
  };
  const off = onInterrupt(() => {
    interrupted = true;
    cancel();
  }, term);
  try {
    const r = await recoveries.start({
      backupId: id,
      mode: cmd.mode,
      tables: cmd.tables,
      confirm: `RESTORE ${id}`,
      safetyBackup: cmd.safetyBackup,
      allowSchemaMismatch: cmd.allowSchemaMismatch,
      allowScopeMoves: cmd.allowScopeMoves,
    });
    recoveryId = r.id;
    if (interrupted) cancel();
    term.info(`recovery ${r.id} started`);
    const timer = setInterval(() => {
      void recoveries.get(r.id).then(
        (v) => {
          if (v.progress)
            term.progress(
              `recovery ${r.id}: ${v.progress.phase}${v.progress.table ? ` ${v.progress.table}` : ''} (${v.progress.rows} rows${bytesLine(v.progress)})`,
              v.progress.phase,
            );
        },
        () => undefined,
      );
    }, 100);
    try {
      await recoveries.waitFor(r.id);
    } finally {
      clearInterval(timer);
      term.done();
    }
    const done = await recoveries.get(r.id);
    if (done.status === 'cancelled')
      throw new CommandFailed(
        `recovery ${r.id} was cancelled before its commit: it was rolled back, the target is as it was`,
      );
    if (done.status !== 'completed')
      throw new CommandFailed(`recovery ${r.id} failed: ${done.error ?? 'unknown error'}`);
    if (interrupted) term.info('Ctrl-C came too late: the restore had already committed');
    term.info(
      `recovery ${r.id} completed: ${done.rowsWritten} rows written${done.safetyBackupId ? `; safety backup ${done.safetyBackupId}` : ''}${done.source === 'offsite' ? `; ${done.note ?? 'restored from the offsite copy'}` : ''}`,
    );
    term.out(r.id);
  } finally {
    off();
  }
}
