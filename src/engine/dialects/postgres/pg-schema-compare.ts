/** Structure fingerprint and drift detection between a backup's tables and the live ones. */
import { createHash } from 'node:crypto';
import { canonicalize } from '../../jcs';
import type { SchemaDifference, TableInfo } from '../dialect';

/** SHA-256 over what decides whether rows fit: names, column types, nullability, keys. */
export function fingerprintTables(tables: TableInfo[]): string {
  const shape = [...tables]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({
      name: t.name,
      columns: t.columns.map((c) => ({ name: c.name, type: c.type, nullable: c.nullable })),
      primaryKey: t.primaryKey,
    }));
  return createHash('sha256').update(canonicalize(shape)).digest('hex');
}

export function diffTables(expected: TableInfo[], actual: TableInfo[], exclude: string[] = []): SchemaDifference[] {
  const skip = new Set(exclude);
  const live = new Map(actual.map((t) => [t.name, t]));
  const wanted = new Set(expected.map((t) => t.name));
  const out: SchemaDifference[] = [];
  for (const exp of expected) {
    const act = live.get(exp.name);
    if (!act) {
      out.push({ table: exp.name, kind: 'missing-table' });
      continue;
    }
    const actCols = new Map(act.columns.map((c) => [c.name, c]));
    for (const c of exp.columns) {
      const a = actCols.get(c.name);
      if (!a) out.push({ table: exp.name, kind: 'missing-column', column: c.name, expected: c.type });
      else if (a.type !== c.type)
        out.push({ table: exp.name, kind: 'type-changed', column: c.name, expected: c.type, actual: a.type });
    }
    const expCols = new Set(exp.columns.map((c) => c.name));
    for (const a of act.columns) {
      if (!expCols.has(a.name)) out.push({ table: exp.name, kind: 'extra-column', column: a.name, actual: a.type });
    }
    if (exp.primaryKey.join(',') !== act.primaryKey.join(',')) {
      out.push({
        table: exp.name,
        kind: 'primary-key-changed',
        expected: exp.primaryKey.join(', '),
        actual: act.primaryKey.join(', '),
      });
    }
  }
  for (const a of actual) {
    if (!wanted.has(a.name) && !skip.has(a.name)) out.push({ table: a.name, kind: 'extra-table' });
  }
  return out;
}
