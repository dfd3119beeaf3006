/** Command-line parsing with node:util parseArgs; every mistake is a UsageError (exit 2). */
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { RestoreMode } from '../engine/dialects/dialect';
import { UsageError } from './cli-errors';

export const USAGE = `Usage: strongroom <command> [options]

Commands:
  backup [--type full|tables|audit] [--tables a,b]   take a backup now; prints its id
  list                                               the catalog, newest first
  verify <backupId|archive.tar> [--deep]             exit 0 only when the backup is sound
  restore <backupId|archive.tar> [--mode replace|merge|missing-only] [--tables a,b]
          [--database-url URL] [--create-schema] [--files] [--allow-schema-mismatch]
          [--no-safety-backup] [--no-owner] [--no-privileges] [--yes]
      A backup id without --database-url restores through the catalog (data lease, safety
      backup, audit trail). An archive, or --database-url, restores with the engine alone and
      needs no Strongroom database: --create-schema first creates the backup's schema in an
      empty database (for a full PostgreSQL backup: the whole database, in one transaction;
      --no-owner / --no-privileges leave out ownership / grants as pg_restore does);
      --files also restores file artefacts to the directories they came from.

Configuration comes from the environment and .env, as for the server.
Exit codes: 0 ok, 1 failed, 2 usage error.`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MODES: RestoreMode[] = ['replace', 'merge', 'missing-only'];

export type Source = { kind: 'backup'; id: string } | { kind: 'archive'; file: string };

export type Command =
  | { name: 'help' }
  | { name: 'backup'; type: 'full' | 'tables' | 'audit'; tables?: string[] }
  | { name: 'list' }
  | { name: 'verify'; source: Source; deep: boolean }
  | {
      name: 'restore'; source: Source; mode: RestoreMode; tables?: string[]; databaseUrl?: string; createSchema: boolean;
      files: boolean; allowSchemaMismatch: boolean; safetyBackup: boolean; yes: boolean; noOwner: boolean; noPrivileges: boolean;
    };

type Options = NonNullable<ParseArgsConfig['options']>;

function parse(args: string[], options: Options, positionals: number): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(positionals ? `expected exactly ${positionals} argument(s), got ${parsed.positionals.length}` : `unexpected argument ${parsed.positionals[0]}`);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

function list(v: unknown, flag: string): string[] | undefined {
  if (v === undefined) return undefined;
  const items = String(v).split(',').map((s) => s.trim()).filter(Boolean);
  if (!items.length) throw new UsageError(`${flag} needs a comma-separated list of table names`);
  return items;
}

function source(arg: string): Source {
  if (UUID.test(arg)) return { kind: 'backup', id: arg.toLowerCase() };
  if (existsSync(arg)) return { kind: 'archive', file: arg };
  throw new UsageError(`${arg} is neither a backup id (UUID) nor an existing archive file`);
}

export function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      return { name: 'help' };
    case 'backup': {
      const { values } = parse(rest, { type: { type: 'string' }, tables: { type: 'string' } }, 0);
      const type = (values.type ?? (values.tables ? 'tables' : 'full')) as string;
      if (!['full', 'tables', 'audit'].includes(type)) throw new UsageError(`--type must be full, tables or audit (got ${type})`);
      const tables = list(values.tables, '--tables');
      if (type === 'tables' && !tables) throw new UsageError('--type tables needs --tables a,b');
      return { name: 'backup', type: type as 'full' | 'tables' | 'audit', tables };
    }
    case 'list':
      parse(rest, {}, 0);
      return { name: 'list' };
    case 'verify': {
      const { values, positionals } = parse(rest, { deep: { type: 'boolean' } }, 1);
      return { name: 'verify', source: source(positionals[0]), deep: !!values.deep };
    }
    case 'restore': {
      const { values, positionals } = parse(rest, {
        mode: { type: 'string' }, tables: { type: 'string' }, 'database-url': { type: 'string' }, 'create-schema': { type: 'boolean' },
        files: { type: 'boolean' }, 'allow-schema-mismatch': { type: 'boolean' }, 'no-safety-backup': { type: 'boolean' }, yes: { type: 'boolean' },
        'no-owner': { type: 'boolean' }, 'no-privileges': { type: 'boolean' },
      }, 1);
      const mode = (values.mode ?? 'replace') as RestoreMode;
      if (!MODES.includes(mode)) throw new UsageError(`--mode must be replace, merge or missing-only (got ${mode})`);
      const databaseUrl = values['database-url'] as string | undefined;
      if (databaseUrl !== undefined && !/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
        throw new UsageError('--database-url must be sqlite:<path> or postgres://…');
      }
      const src = source(positionals[0]);
      const engineOnly = src.kind === 'archive' || databaseUrl !== undefined;
      if (values['create-schema'] && !engineOnly) throw new UsageError('--create-schema needs an archive or --database-url (an empty database to create the schema in)');
      if ((values['no-owner'] || values['no-privileges']) && !values['create-schema']) {
        throw new UsageError('--no-owner and --no-privileges apply to --create-schema restores (they decide how the schema is created)');
      }
      if (values.files && !engineOnly) throw new UsageError('--files applies to archive / --database-url restores; a catalog restore includes files when it restores a whole backup');
      return {
        name: 'restore', source: src, mode, tables: list(values.tables, '--tables'), databaseUrl, createSchema: !!values['create-schema'],
        files: !!values.files, allowSchemaMismatch: !!values['allow-schema-mismatch'], safetyBackup: !values['no-safety-backup'], yes: !!values.yes,
        noOwner: !!values['no-owner'], noPrivileges: !!values['no-privileges'],
      };
    }
    default:
      throw new UsageError(`unknown command ${name}`);
  }
}
