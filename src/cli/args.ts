/** Command-line parsing with node:util parseArgs; every mistake is a UsageError (exit 2) shown with the command's usage. */
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { RestoreMode } from '../engine/dialects/dialect';
import { UsageError } from './cli-errors';
import { BACKUP_TYPES, type BackupType } from '../engine/archive/manifest.types';

/** What each command takes; its usage text names every option, and `<command> --help` prints it. */
interface CommandSpec {
  synopsis: string;
  summary: string;
  options: Record<string, { type: 'string' | 'boolean'; help: string }>;
  notes?: string;
}

const HELP_OPTION = { type: 'boolean' as const, help: 'show this help and exit' };

export const COMMANDS: Record<'backup' | 'list' | 'verify' | 'restore' | 'audit', CommandSpec> = {
  backup: {
    synopsis: 'backup [--type full|tables|audit|files|scope] [--tables a,b] [--scope <name>=<key>[,<key>...]]',
    summary: 'take a backup now; prints its id on stdout (Ctrl-C cancels it: nothing is kept, exit 1)',
    options: {
      type: { type: 'string', help: 'full (default), tables, audit, or files (the file artefacts alone)' },
      tables: { type: 'string', help: 'comma-separated table names (implies --type tables)' },
      scope: {
        type: 'string',
        help: 'a saved scope (or a root table) and the key(s) of its root rows, e.g. engagement=42 (implies --type scope)',
      },
      help: HELP_OPTION,
    },
  },
  list: {
    synopsis: 'list',
    summary: 'the catalog, newest first: id, time, type, trigger, status, size, rows',
    options: { help: HELP_OPTION },
  },
  verify: {
    synopsis: 'verify <backupId|archive.tar> [--deep]',
    summary: 'read every byte of a backup; exit 0 only when it is sound',
    options: {
      deep: { type: 'boolean', help: 'also restore into a scratch database and compare row counts and checksums' },
      help: HELP_OPTION,
    },
  },
  restore: {
    synopsis:
      'restore <backupId|archive.tar> [--mode replace|merge|missing-only] [--tables a,b]\n' +
      '          [--database-url URL] [--create-schema] [--files] [--allow-schema-mismatch]\n' +
      '          [--no-safety-backup] [--no-owner] [--no-privileges] [--create-roles] [--dry-run] [--yes]\n' +
      '          [--scope <name>=<key>] [--allow-scope-moves]',
    summary: 'restore a backup (asks for confirmation on a terminal; Ctrl-C before the commit rolls it back, exit 1)',
    options: {
      mode: { type: 'string', help: 'replace (default), merge or missing-only' },
      tables: { type: 'string', help: 'comma-separated table names (default: every table in the backup)' },
      'database-url': {
        type: 'string',
        help: 'restore into this database (sqlite:<path> or postgres://…) with the engine alone',
      },
      'create-schema': {
        type: 'boolean',
        help: "first create the backup's schema in an empty database (archive or --database-url)",
      },
      files: {
        type: 'boolean',
        help: 'also restore file artefacts to the directories they came from (archive or --database-url)',
      },
      'allow-schema-mismatch': {
        type: 'boolean',
        help: 'restore by column name when the live schema differs from the backup',
      },
      'no-safety-backup': {
        type: 'boolean',
        help: 'skip the safety backup of the tables in scope (catalog restores; audited)',
      },
      'no-owner': {
        type: 'boolean',
        help: 'with --create-schema: leave out ownership; objects belong to whoever restores (as pg_restore)',
      },
      'no-privileges': { type: 'boolean', help: 'with --create-schema: leave out grants and revokes (as pg_restore)' },
      'create-roles': {
        type: 'boolean',
        help: "with --create-schema of a full PostgreSQL backup: first create the backup's roles the cluster lacks (no passwords; existing roles are left as they are)",
      },
      'dry-run': {
        type: 'boolean',
        help: 'write nothing: print what the restore would do and what would stop it (exit 1 when something would)',
      },
      yes: { type: 'boolean', help: 'do not ask; required when not on a terminal' },
      scope: {
        type: 'string',
        help: "a scoped backup's scope, checked against it (e.g. engagement=42); replace makes it exactly the backup's",
      },
      'allow-scope-moves': {
        type: 'boolean',
        help: 'restore rows of a scoped backup that now belong to another scope (moving them back)',
      },
      help: HELP_OPTION,
    },
    notes:
      'A backup id without --database-url restores through the catalog (data lease, safety backup,\n' +
      'audit trail). An archive, or --database-url, restores with the engine alone and needs no\n' +
      'Strongroom database. --create-schema of a full PostgreSQL backup recreates the whole\n' +
      'database in one transaction; if it fails the target is left empty, so a retry works.\n' +
      '--create-roles creates the archived roles the target cluster lacks in that same transaction\n' +
      '(attributes and memberships, never passwords: set them with ALTER ROLE ... PASSWORD); a\n' +
      'superuser role only when you connect as a superuser. Without it, missing roles are listed.',
  },
  audit: {
    synopsis:
      'audit verify --export <file.ndjson> [--checkpoints <dir|storage:backup|storage:offsite>[,...]] --public-key <base64|file>',
    summary: 'verify an exported audit trail offline against its signed checkpoints; exit 0 only when it holds',
    options: {
      export: { type: 'string', help: 'the trail as GET /api/audit/export?format=ndjson wrote it' },
      checkpoints: {
        type: 'string',
        help: 'where the checkpoints are, comma-separated: a directory of *.checkpoint files (or a storage root holding checkpoints/, e.g. OFFSITE_DIR), or storage:backup / storage:offsite for the configured storages (default: storage:backup)',
      },
      'public-key': {
        type: 'string',
        help: 'the Ed25519 public key: base64, a signed-note verifier key, or a file holding either (or the public-key JSON)',
      },
      help: HELP_OPTION,
    },
    notes:
      'Needs no database and no network (with --checkpoints): every event hash and link, every\n' +
      "checkpoint's signature and Merkle root, one history of checkpoints (each names the one before,\n" +
      'none dated before its predecessor, one root per size), and no checkpoint beyond the trail.\n' +
      'The first failure is named. See docs/audit-trail.md.',
  },
};

const FOOTER = `Configuration comes from the environment and .env, as for the server.
Exit codes: 0 ok, 1 failed, 2 usage error.`;

export const USAGE = `Usage: strongroom <command> [options]

Commands:
${Object.values(COMMANDS)
  .map((c) => `  ${c.synopsis.replace(/\n/g, '\n  ')}\n      ${c.summary}`)
  .join('\n')}

Run "strongroom <command> --help" for a command's options.
${FOOTER}`;

export type CommandName = keyof typeof COMMANDS;

export function commandUsage(name: CommandName): string {
  const spec = COMMANDS[name];
  const flag = (o: string, t: string) => (t === 'string' ? `--${o} <value>` : `--${o}`);
  const options = Object.entries(spec.options).map(([o, d]) => `  ${flag(o, d.type).padEnd(26)} ${d.help}`);
  return [
    `Usage: strongroom ${spec.synopsis}`,
    '',
    spec.summary,
    '',
    'Options:',
    ...options,
    ...(spec.notes ? ['', spec.notes] : []),
    '',
    FOOTER,
  ].join('\n');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MODES: RestoreMode[] = ['replace', 'merge', 'missing-only'];

export type Source = { kind: 'backup'; id: string } | { kind: 'archive'; file: string };

export type Command =
  | { name: 'help'; command?: CommandName }
  | { name: 'backup'; type: BackupType; tables?: string[]; scope?: ScopeArg }
  | { name: 'list' }
  | { name: 'verify'; source: Source; deep: boolean }
  | {
      name: 'audit';
      action: 'verify';
      exportFile: string;
      /** Directories and `storage:backup` / `storage:offsite`; undefined: the backup storage. */
      checkpoints?: string[];
      publicKey: string;
    }
  | {
      name: 'restore';
      source: Source;
      mode: RestoreMode;
      tables?: string[];
      databaseUrl?: string;
      createSchema: boolean;
      files: boolean;
      allowSchemaMismatch: boolean;
      safetyBackup: boolean;
      yes: boolean;
      noOwner: boolean;
      noPrivileges: boolean;
      createRoles: boolean;
      dryRun: boolean;
      scope?: ScopeArg;
      allowScopeMoves: boolean;
    };

/** `--scope name=key[,key]`: a saved scope (or root table) and the values of its root rows' (one-column) key. */
export interface ScopeArg {
  name: string;
  values: string[];
}

function scopeArg(value: unknown, command: CommandName): ScopeArg | undefined {
  if (value === undefined) return undefined;
  const m = /^([^=]+)=(.+)$/.exec(String(value));
  if (!m) throw new UsageError('--scope must be <name>=<key>[,<key>...], e.g. engagement=42', command);
  const values = m[2].split(',').map((v) => v.trim());
  if (values.some((v) => !v)) throw new UsageError('--scope has an empty key', command);
  return { name: m[1].trim(), values };
}

/**
 * Parses one command's arguments. node:util's own strict-mode messages are not shown (they
 * suggest "--" tricks and quote unevenly): the tokens are checked here, each mistake named
 * plainly, and the command's usage follows it.
 */
function parse(
  name: CommandName,
  args: string[],
  positionals: number,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } | 'help' {
  const spec = COMMANDS[name];
  const options = Object.fromEntries(Object.entries(spec.options).map(([o, d]) => [o, { type: d.type }]));
  const {
    values,
    positionals: rest,
    tokens,
  } = parseArgs({ args, options, allowPositionals: true, strict: false, tokens: true });
  if (values.help === true || tokens?.some((t) => t.kind === 'option' && t.rawName === '-h')) return 'help';
  const fail = (message: string) => new UsageError(message, name);
  for (const t of tokens ?? []) {
    if (t.kind !== 'option') continue;
    const def = spec.options[t.name];
    if (!def || t.rawName.length === 2) throw fail(`unknown option ${t.rawName}`);
    if (def.type === 'boolean' && t.inlineValue) throw fail(`${t.rawName} takes no value`);
    if (def.type === 'string' && (t.value === undefined || (!t.inlineValue && t.value.startsWith('--'))))
      throw fail(`${t.rawName} needs a value`);
  }
  if (rest.length !== positionals) {
    throw fail(
      positionals
        ? `expected ${positionals === 1 ? 'one argument' : `${positionals} arguments`}, got ${rest.length}`
        : `unexpected argument ${rest[0]}`,
    );
  }
  return { values: values as Record<string, string | boolean | undefined>, positionals: rest };
}

function list(v: unknown, flag: string, command: CommandName): string[] | undefined {
  if (v === undefined) return undefined;
  const items = String(v)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!items.length) throw new UsageError(`${flag} needs a comma-separated list of table names`, command);
  return items;
}

function source(arg: string, command: CommandName): Source {
  if (UUID.test(arg)) return { kind: 'backup', id: arg.toLowerCase() };
  if (existsSync(arg)) return { kind: 'archive', file: arg };
  throw new UsageError(`${arg} is neither a backup id (UUID) nor an existing archive file`, command);
}

const isCommand = (name: string): name is CommandName => Object.prototype.hasOwnProperty.call(COMMANDS, name);

export function parseCommand(argv: string[]): Command {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('no command given');
  if (name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0];
    if (topic === undefined) return { name: 'help' };
    if (!isCommand(topic) || rest.length > 1) throw new UsageError(`no help for ${rest.join(' ')}`);
    return { name: 'help', command: topic };
  }
  if (!isCommand(name)) throw new UsageError(`unknown command ${name}`);
  const positionals = name === 'verify' || name === 'restore' || name === 'audit' ? 1 : 0;
  const parsed = parse(name, rest, positionals);
  if (parsed === 'help') return { name: 'help', command: name };
  const { values } = parsed;
  const usage = (message: string) => new UsageError(message, name);
  switch (name) {
    case 'backup': {
      const type = (values.type ?? (values.scope ? 'scope' : values.tables ? 'tables' : 'full')) as string;
      if (!(BACKUP_TYPES as readonly string[]).includes(type))
        throw usage(`--type must be full, tables, audit or scope (got ${type})`);
      const tables = list(values.tables, '--tables', name);
      if (type === 'tables' && !tables) throw usage('--type tables needs --tables a,b');
      const scope = scopeArg(values.scope, name);
      if (type === 'scope' && !scope) throw usage('--type scope needs --scope <name>=<key>');
      if (type !== 'scope' && scope) throw usage('--scope makes a scoped backup (--type scope)');
      return { name: 'backup', type: type as BackupType, tables, scope };
    }
    case 'list':
      return { name: 'list' };
    case 'verify':
      return { name: 'verify', source: source(parsed.positionals[0], name), deep: !!values.deep };
    case 'audit': {
      if (parsed.positionals[0] !== 'verify')
        throw usage(`unknown audit action ${parsed.positionals[0]} (try: audit verify)`);
      const exportFile = values.export as string | undefined;
      const publicKey = values['public-key'] as string | undefined;
      if (!exportFile) throw usage('--export <file.ndjson> is required');
      if (!existsSync(exportFile)) throw usage(`--export: ${exportFile} does not exist`);
      if (!publicKey) throw usage('--public-key is required (base64, or a file holding it)');
      const raw = values.checkpoints as string | undefined;
      const checkpoints = raw === undefined ? undefined : raw.split(',').map((c) => c.trim());
      for (const c of checkpoints ?? []) {
        if (!c) throw usage('--checkpoints has an empty entry');
        if (c.startsWith('storage:')) {
          if (c !== 'storage:backup' && c !== 'storage:offsite')
            throw usage(`--checkpoints: unknown storage ${c} (storage:backup or storage:offsite)`);
        } else if (!existsSync(c)) throw usage(`--checkpoints: ${c} does not exist`);
      }
      return { name: 'audit', action: 'verify', exportFile, checkpoints, publicKey };
    }
    case 'restore': {
      const mode = (values.mode ?? 'replace') as RestoreMode;
      if (!MODES.includes(mode)) throw usage(`--mode must be replace, merge or missing-only (got ${mode})`);
      const databaseUrl = values['database-url'] as string | undefined;
      if (databaseUrl !== undefined && !/^(sqlite:.+|postgres(ql)?:\/\/.+)$/.test(databaseUrl)) {
        throw usage('--database-url must be sqlite:<path> or postgres://…');
      }
      const src = source(parsed.positionals[0], name);
      const engineOnly = src.kind === 'archive' || databaseUrl !== undefined;
      if (values['create-schema'] && !engineOnly)
        throw usage('--create-schema needs an archive or --database-url (an empty database to create the schema in)');
      if ((values['no-owner'] || values['no-privileges']) && !values['create-schema']) {
        throw usage(
          '--no-owner and --no-privileges apply to --create-schema restores (they decide how the schema is created)',
        );
      }
      if (values['create-roles'] && !values['create-schema'])
        throw usage('--create-roles applies to --create-schema restores (roles are created before the schema)');
      if (values.files && !engineOnly)
        throw usage(
          '--files applies to archive / --database-url restores; a catalog restore includes files when it restores a whole backup',
        );
      return {
        name: 'restore',
        source: src,
        mode,
        tables: list(values.tables, '--tables', name),
        databaseUrl,
        createSchema: !!values['create-schema'],
        files: !!values.files,
        allowSchemaMismatch: !!values['allow-schema-mismatch'],
        safetyBackup: !values['no-safety-backup'],
        yes: !!values.yes,
        noOwner: !!values['no-owner'],
        noPrivileges: !!values['no-privileges'],
        createRoles: !!values['create-roles'],
        dryRun: !!values['dry-run'],
        scope: scopeArg(values.scope, name),
        allowScopeMoves: !!values['allow-scope-moves'],
      };
    }
  }
}
