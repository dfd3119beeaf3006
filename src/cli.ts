/**
 * Strongroom's command line (`npm run cli -- <command>`, or `node dist/cli.js <command>`):
 * backups, the catalog, verification and restores without the HTTP server, including
 * disaster recovery from an archive into an empty database with no Strongroom database.
 */
import 'reflect-metadata';
import { DomainError } from './common/domain-error';
import { ConfigError } from './config/app-config';
import { commandUsage, type CommandName, parseCommand, USAGE } from './cli/args';
import { CommandFailed, EXIT_FAILED, EXIT_OK, EXIT_USAGE, RESTORE_EXIT_CODE, UsageError } from './cli/cli-errors';
import { RestoreError } from './engine/restore/restore-error';
import { processTerminal } from './cli/terminal';

export async function main(argv: string[]): Promise<number> {
  const term = processTerminal();
  try {
    const cmd = parseCommand(argv);
    if (cmd.name === 'help') {
      term.out(cmd.command ? commandUsage(cmd.command) : USAGE);
      return EXIT_OK;
    }
    // Loaded only for a real command, so help and usage errors answer without booting Nest and TypeORM.
    const { runCommand } = await import('./cli/commands');
    await runCommand(cmd, term);
    return EXIT_OK;
  } catch (e) {
    term.done();
    if (e instanceof UsageError) {
      term.info(`strongroom: ${e.message}\n\n${e.command ? commandUsage(e.command as CommandName) : USAGE}`);
      return EXIT_USAGE;
    }
    if (e instanceof RestoreError) {
      term.info(`strongroom: ${e.message}`);
      return RESTORE_EXIT_CODE[e.code];
    }
    if (e instanceof CommandFailed || e instanceof DomainError || e instanceof ConfigError) {
      term.info(`strongroom: ${e.message}`);
      return EXIT_FAILED;
    }
    term.info(`strongroom: ${e instanceof Error ? e.message : String(e)}`);
    return EXIT_FAILED;
  }
}

/** Runs the command line on this process's arguments; the exit code becomes the process's. */
export function run(): void {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}

// `ts-node src/cli.ts` runs this file directly; the built `dist/cli.js` calls run() itself.
if (require.main === module) run();
