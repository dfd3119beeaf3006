/**
 * The roles a pg_dump script names in its ownership and grant statements (OWNER TO, GRANT ...
 * TO, REVOKE ... FROM, ALTER DEFAULT PRIVILEGES FOR ROLE, GRANTED BY), so a dry run can say
 * which of them the target cluster lacks before a restore meets them. PUBLIC is not a role.
 */
const IDENT = String.raw`"(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*`;
const LIST = String.raw`(?:${IDENT})(?:\s*,\s*(?:${IDENT}))*`;

const PATTERNS: RegExp[] = [
  new RegExp(String.raw`\bOWNER TO (${IDENT});`, 'g'),
  new RegExp(
    String.raw`^(?:ALTER DEFAULT PRIVILEGES .*?)?GRANT .* TO (${LIST})(?: WITH GRANT OPTION)?(?: GRANTED BY (?:${IDENT}))?;`,
    'gm',
  ),
  new RegExp(
    String.raw`^(?:ALTER DEFAULT PRIVILEGES .*?)?REVOKE .* FROM (${LIST})(?: GRANTED BY (?:${IDENT}))?(?: CASCADE| RESTRICT)?;`,
    'gm',
  ),
  new RegExp(String.raw`\bFOR ROLE (${LIST})`, 'g'),
  new RegExp(String.raw`\bGRANTED BY (${IDENT})`, 'g'),
];

function unquote(name: string): string {
  return name.startsWith('"') ? name.slice(1, -1).replace(/""/g, '"') : name.toLowerCase();
}

function splitList(list: string): string[] {
  return list.match(new RegExp(IDENT, 'g')) ?? [];
}

/** Sorted, distinct role names. */
export function rolesNamedInDdl(sql: string): string[] {
  const roles = new Set<string>();
  for (const re of PATTERNS) {
    for (const m of sql.matchAll(re)) {
      for (const r of splitList(m[1])) {
        const name = unquote(r);
        if (r.toUpperCase() !== 'PUBLIC' && !['current_user', 'session_user', 'current_role'].includes(name))
          roles.add(name);
      }
    }
  }
  return [...roles].sort();
}
