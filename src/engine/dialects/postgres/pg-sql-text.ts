/**
 * Reading pg_dump's SQL text: where its statements end, and the names it writes. A statement
 * ends at a semicolon outside quotes, dollar quotes and comments, so a `;` inside a CHECK's
 * string literal or a function body does not cut it. Only what pg_dump writes needs reading;
 * anything this cannot read makes its caller fall back to running the text as it is.
 */

/** Statements of `sql` in order, each with its terminating `;`, surrounding whitespace trimmed. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const n = sql.length;
  const identChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$]/.test(c);
  while (i < n) {
    const c = sql[i];
    if (c === "'") {
      // E'...' strings take backslash escapes; standard strings only double the quote.
      const escapes = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !identChar(sql[i - 2]);
      i++;
      while (i < n) {
        if (escapes && sql[i] === '\\') i += 2;
        else if (sql[i] === "'" && sql[i + 1] === "'") i += 2;
        else if (sql[i] === "'") break;
        else i++;
      }
      i++;
    } else if (c === '"') {
      i++;
      while (i < n && !(sql[i] === '"' && sql[i + 1] !== '"')) i += sql[i] === '"' ? 2 : 1;
      i++;
    } else if (c === '-' && sql[i + 1] === '-') {
      while (i < n && sql[i] !== '\n') i++;
    } else if (c === '/' && sql[i + 1] === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i++;
      }
    } else if (c === '$' && !identChar(sql[i - 1])) {
      const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
      if (!tag) {
        i++;
        continue;
      }
      const close = sql.indexOf(tag[0], i + tag[0].length);
      i = close === -1 ? n : close + tag[0].length;
    } else if (c === ';') {
      const stmt = sql.slice(start, i + 1).trim();
      if (stmt !== ';') out.push(stmt);
      start = ++i;
    } else i++;
  }
  const rest = sql.slice(start).trim();
  if (rest) out.push(rest);
  return out;
}

const IDENT = /^(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))/;

/** One identifier at the start of `text`, unquoted, and how many characters it took. */
function readIdent(text: string): { name: string; length: number } | null {
  const m = IDENT.exec(text);
  if (!m) return null;
  // Unquoted names are folded to lower case; pg_dump only leaves a name unquoted when it is already.
  return { name: m[1] !== undefined ? m[1].replace(/""/g, '"') : m[2].toLowerCase(), length: m[0].length };
}

/** `schema.name` at the start of `text` as pg_dump writes it (quoted where needed), unquoted. */
export function readQualifiedName(text: string): { schema: string; name: string; length: number } | null {
  const schema = readIdent(text);
  if (!schema || text[schema.length] !== '.') return null;
  const name = readIdent(text.slice(schema.length + 1));
  if (!name) return null;
  return { schema: schema.name, name: name.name, length: schema.length + 1 + name.length };
}

/** A bare identifier at the start of `text`, unquoted. */
export function readName(text: string): { name: string; length: number } | null {
  return readIdent(text);
}
