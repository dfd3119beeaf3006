/**
 * Structure comparison and fingerprint. SQLite type names are free text whose case and
 * spacing carry no meaning (`integer` and `INTEGER` are the same), so both are normalised.
 */
import { createHash } from 'node:crypto';
import { canonicalize } from '../../jcs';
import type { SchemaDifference, TableInfo } from '../dialect';

export function normalizeType(type: string): string {
  return type.trim().replace(/\s+/g, ' ').toUpperCase();
}

export function fingerprintTables(tables: TableInfo[]): string {
  const shape = [...tables]
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({
      name: t.name,
      columns: t.columns.map((c) => ({ name: c.name, type: normalizeType(c.type), nullable: c.nullable })),
      primaryKey: t.primaryKey,
    }));
  return createHash('sha256').update(canonicalize(shape)).digest('hex');
}

/** `live` should already omit tables the caller does not manage (e.g. bookkeeping tables). */
export function diffTables(expected: TableInfo[], live: TableInfo[]): SchemaDifference[] {
  const out: SchemaDifference[] = [];
  const liveByName = new Map(live.map((t) => [t.name.toLowerCase(), t]));
  const expectedNames = new Set(expected.map((t) => t.name.toLowerCase()));
  for (const exp of expected) {
    const act = liveByName.get(exp.name.toLowerCase());
    if (!act) {
      out.push({ table: exp.name, kind: 'missing-table' });
      continue;
    }
    const actCols = new Map(act.columns.map((c) => [c.name.toLowerCase(), c]));
    const expCols = new Set(exp.columns.map((c) => c.name.toLowerCase()));
    for (const c of exp.columns) {
      const a = actCols.get(c.name.toLowerCase());
      if (!a) out.push({ table: exp.name, kind: 'missing-column', column: c.name, expected: c.type });
      else if (normalizeType(a.type) !== normalizeType(c.type)) {
        out.push({ table: exp.name, kind: 'type-changed', column: c.name, expected: c.type, actual: a.type });
      }
    }
    for (const a of act.columns) {
      if (!expCols.has(a.name.toLowerCase()))
        out.push({ table: exp.name, kind: 'extra-column', column: a.name, actual: a.type });
    }
    const ek = exp.primaryKey.map((k) => k.toLowerCase()).join(',');
    const ak = act.primaryKey.map((k) => k.toLowerCase()).join(',');
    if (ek !== ak) {
      out.push({
        table: exp.name,
        kind: 'primary-key-changed',
        expected: exp.primaryKey.join(', '),
        actual: act.primaryKey.join(', '),
      });
    }
  }
  for (const a of live) {
    if (!expectedNames.has(a.name.toLowerCase())) out.push({ table: a.name, kind: 'extra-table' });
  }
  return out;
}
