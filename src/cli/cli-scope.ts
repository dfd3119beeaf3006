/**
 * `--scope <name>=<key>` on the command line: a saved scope's name (or a root table) and the
 * values of its root rows' one-column key. A backup turns it into a scope request; a restore
 * checks it against the scoped backup's own scope (so the wrong backup is never restored).
 */
import type { INestApplicationContext } from '@nestjs/common';
import { TargetDatabase } from '../backup/target-database';
import type { Manifest } from '../engine/archive/manifest.types';
import { findTable } from '../engine/scope/scope-closure';
import type { ScopeRequestDto } from '../scopes/dto/scope.dto';
import { ScopesService } from '../scopes/scopes.service';
import type { ScopeArg } from './args';
import { CommandFailed } from './cli-errors';

export async function scopeRequestOf(app: INestApplicationContext, arg: ScopeArg): Promise<ScopeRequestDto> {
  const saved = await app
    .get(ScopesService)
    .get(arg.name)
    .catch(() => null);
  const dialect = app.get(TargetDatabase).dialect('scope');
  try {
    const root = findTable(await dialect.listTables(), saved?.table ?? arg.name);
    if (!root) throw new CommandFailed(`--scope: there is no saved scope or table named ${arg.name}`);
    if (root.primaryKey.length !== 1)
      throw new CommandFailed(
        `--scope: ${root.name} ${root.primaryKey.length ? 'has a composite primary key' : 'has no primary key'}; name its rows through the API's scope.keys`,
      );
    const keys = arg.values.map((v) => ({ [root.primaryKey[0]]: v }));
    return saved ? { name: saved.name, keys } : { table: root.name, keys };
  } finally {
    await dialect.close().catch(() => undefined);
  }
}

/** Refuses a restore whose backup is not of the scope the command names. */
export function assertScopeOf(
  manifest: Pick<Manifest, 'id' | 'type'> & {
    scope?: { name: string | null; table: string; keys: Record<string, unknown>[] } | null;
  },
  arg: ScopeArg | undefined,
): void {
  if (!arg) return;
  const sc = manifest.scope;
  if (!sc) throw new CommandFailed(`--scope: backup ${manifest.id} is a ${manifest.type} backup, not a scoped one`);
  const values = sc.keys.flatMap((k) => Object.values(k).map(String)).sort();
  const named = arg.name === sc.name || arg.name === sc.table || `public.${sc.table}` === arg.name;
  if (!named || JSON.stringify(values) !== JSON.stringify([...arg.values].sort()))
    throw new CommandFailed(
      `--scope: backup ${manifest.id} holds the scope ${sc.name ?? sc.table}=${values.join(',')}, not ${arg.name}=${arg.values.join(',')}`,
    );
}
