/**
 * Matches the tables of a restore request against the live database before anything is
 * written, so that every refusal (unknown table or column, no primary key to merge on, an
 * attempt to overwrite the audit trail) happens up front and names the table.
 */
import type { RestoreInput, RestoreMode, RestoreTableInput } from '../dialect';
import type { SqliteDb } from './sqlite-connection';
import { describeTable, listTableNames, rowidAlias, storedColumns } from './sqlite-introspect';
import { listVirtualTables } from './sqlite-virtual';
import { AUDIT_TABLE } from '../../backup/bookkeeping-tables';

/** Append-only: its triggers refuse UPDATE and DELETE, and restores only ever add to it. */

export interface RestoreTarget {
  input: RestoreTableInput;
  /** Live table name (SQLite names are case-insensitive; this is the catalog's spelling). */
  name: string;
  mode: RestoreMode;
  /** Columns present in the row encoding, in encoding order. */
  columns: string[];
  /** Live primary key, in key order; empty when the table has none. */
  primaryKey: string[];
  /** Values per encoded row: the columns, plus the rowid first when the backup carries it. */
  width: number;
  /** Where a carried rowid is written (replace only: merging keeps live rowids); null = not written. */
  rowidColumn: string | null;
  /** The encoded rows carry a rowid this restore does not write. */
  dropRowid: boolean;
  /** A module's shadow table, written directly (needs SQLite's defensive mode off). */
  shadow: boolean;
  /**
   * A virtual table written through its module (FTS with its own content, R*Tree, Geopoly).
   * Virtual tables take no UPSERT, so merge and missing-only match rows by rowid instead
   * (see virtualRowSql); the module keeps its index in step with every row it is given.
   */
  virtualRows: boolean;
}

export function assertEncoding(input: RestoreInput): void {
  if (input.encoding !== 'sqlite-ndjson') {
    throw new Error(
      `SQLite cannot restore rows in ${input.encoding} encoding (expected sqlite-ndjson): the backup was taken from another engine`,
    );
  }
}

export function resolveTargets(db: SqliteDb, tables: RestoreTableInput[]): RestoreTarget[] {
  const live = new Map(listTableNames(db).map((n) => [n.toLowerCase(), n]));
  const virtuals = listVirtualTables(db);
  const shadowOwner = new Map(virtuals.flatMap((v) => v.carriedShadows.map((s) => [s.toLowerCase(), v] as const)));
  const seen = new Set<string>();
  return tables.map((input) => {
    const key = input.name.toLowerCase();
    if (seen.has(key)) throw new Error(`Table ${input.name} appears twice in the restore request`);
    seen.add(key);
    const name = live.get(key);
    if (!name) throw new Error(`Cannot restore table ${input.name}: it does not exist in the target SQLite database`);
    if (key === AUDIT_TABLE && input.mode !== 'missing-only') {
      throw new Error(`Table ${name} is append-only and can only be restored in missing-only mode, not ${input.mode}`);
    }
    const structure = describeTable(db, name, virtuals);
    const vt = virtuals.find((v) => v.name.toLowerCase() === key);
    const virtualRows = vt?.kind === 'rows';
    const liveCols = new Map(structure.columns.map((c) => [c.name.toLowerCase(), c]));
    const columns = storedColumns(input.table).map((c) => {
      const lc = liveCols.get(c.name.toLowerCase());
      if (!lc)
        throw new Error(`Cannot restore table ${name}: column ${c.name} from the backup does not exist in the target`);
      if (lc.generated)
        throw new Error(
          `Cannot restore table ${name}: column ${c.name} is generated in the target but stored in the backup`,
        );
      return lc.name;
    });
    if (columns.length === 0)
      throw new Error(`Cannot restore table ${name}: the backup records no stored columns for it`);
    if (input.mode !== 'replace' && structure.primaryKey.length === 0 && !virtualRows) {
      throw new Error(
        `Cannot restore table ${name} in ${input.mode} mode: it has no primary key to match rows on (use replace)`,
      );
    }
    const missingPk = structure.primaryKey.filter((k) => !columns.some((c) => c.toLowerCase() === k.toLowerCase()));
    if (input.mode !== 'replace' && missingPk.length > 0) {
      throw new Error(
        `Cannot restore table ${name} in ${input.mode} mode: the backup lacks primary key column(s) ${missingPk.join(', ')}`,
      );
    }
    const owner = shadowOwner.get(key);
    if (owner?.kind === 'contentless' && input.mode !== 'replace') {
      throw new Error(`Cannot restore table ${name} in ${input.mode} mode: ${contentlessReason(owner.name)}`);
    }
    const carried = input.table.rowid === true;
    // The live table must have a rowid of its own that is not a column (else the key columns carry it).
    // A virtual table's rowid is its identity, so it is written (and matched on) in every mode.
    const writeRowid = carried && structure.rowid === true && (input.mode === 'replace' || virtualRows);
    const rowidColumn = writeRowid ? rowidAlias(structure.columns) : null;
    // An R*Tree's first column is its rowid: the key a dry run matches rows on.
    const rtree = vt?.module.startsWith('rtree') === true;
    const primaryKey = rtree && structure.columns.length ? [structure.columns[0].name] : structure.primaryKey;
    if (virtualRows && input.mode !== 'replace' && !rowidColumn && !rtree) {
      throw new Error(
        `Cannot restore table ${name} in ${input.mode} mode: the backup does not carry its rows' rowids to match them on (use replace)`,
      );
    }
    return {
      input,
      name,
      mode: input.mode,
      columns,
      primaryKey,
      width: columns.length + (carried ? 1 : 0),
      rowidColumn,
      dropRowid: carried && rowidColumn === null,
      shadow: owner !== undefined,
      virtualRows,
    };
  });
}

/**
 * Why a contentless index cannot be merged: its shadow tables are the only copy of the text,
 * as inverted-index segments. Merging them row by row would mix two indexes' segment
 * structures into a corrupt one, and the documents cannot be read back to re-index them.
 */
export function contentlessReason(index: string): string {
  return `it is part of the contentless full-text index ${index}, whose index is the only copy of its text and cannot be merged row by row; restore it in replace mode (it is restored whole)`;
}
