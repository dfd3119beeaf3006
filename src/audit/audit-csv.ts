/** RFC 4180 CSV for the audit export, safe to open in a spreadsheet. */
export const AUDIT_CSV_COLUMNS = [
  'seq',
  'at',
  'actorType',
  'actorKeyId',
  'actorName',
  'actorRole',
  'action',
  'resource',
  'resourceId',
  'outcome',
  'ip',
  'userAgent',
  'requestId',
  'details',
  'prevHash',
  'hash',
] as const;

/**
 * Quotes a cell when needed and defuses formula injection: a cell starting with
 * = + - @ (or a tab/CR, which some spreadsheets strip) is prefixed with a single quote.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) || safe !== value ? `"${safe.replace(/"/g, '""')}"` : safe;
}

export function toCsvRow(cells: string[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}
