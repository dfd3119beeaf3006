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
  while (i < sql.length) {
    const skipped = skipLiteral(sql, i);
    if (skipped > i) i = skipped;
    else if (sql[i] === '"') i += readIdent(sql.slice(i))?.length ?? sql.length;
    else if (sql[i] === ';') {
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

/**
 * `sql` with each `schema.name` that `rename` maps replaced by what it returns, outside string
 * literals, quoted-name parts, dollar quotes and comments: a type's references in a CREATE TABLE
 * (column types, casts in defaults and checks), never the same words inside a string.
 */
export function replaceQualifiedNames(sql: string, rename: (schema: string, name: string) => string | null): string {
  let out = '';
  let i = 0;
  while (i < sql.length) {
    const skipped = skipLiteral(sql, i);
    if (skipped > i) {
      out += sql.slice(i, skipped);
      i = skipped;
      continue;
    }
    const c = sql[i];
    if ((c === '"' || /[A-Za-z_]/.test(c)) && !identChar(sql[i - 1]) && sql[i - 1] !== '.') {
      const q = readQualifiedName(sql.slice(i, i + 300));
      const to = q && rename(q.schema, q.name);
      if (q && to !== null && to !== undefined) {
        out += to;
        i += q.length;
        continue;
      }
      // Past the whole identifier (or qualified name), so its tail is not read as a name of its own.
      const step = q?.length ?? readIdent(sql.slice(i, i + 300))?.length ?? 1;
      out += sql.slice(i, i + step);
      i += step;
      continue;
    }
    out += c;
    i++;
  }
  return out;
}

const identChar = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9_$]/.test(c);

/**
 * Where the string literal, comment or dollar-quoted text starting at `i` ends; `i` when none
 * starts there. E'' strings take backslash escapes; standard strings only double the quote.
 */
function skipLiteral(sql: string, i: number): number {
  const c = sql[i];
  if (c === "'") {
    const escapes = (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !identChar(sql[i - 2]);
    let j = i + 1;
    while (j < sql.length) {
      if (escapes && sql[j] === '\\') j += 2;
      else if (sql[j] === "'" && sql[j + 1] === "'") j += 2;
      else if (sql[j] === "'") break;
      else j++;
    }
    return j + 1;
  }
  if (c === '-' && sql[i + 1] === '-') {
    const nl = sql.indexOf('\n', i);
    return nl === -1 ? sql.length : nl;
  }
  if (c === '/' && sql[i + 1] === '*') {
    let depth = 1;
    let j = i + 2;
    while (j < sql.length && depth > 0) {
      if (sql[j] === '/' && sql[j + 1] === '*') {
        depth++;
        j += 2;
      } else if (sql[j] === '*' && sql[j + 1] === '/') {
        depth--;
        j += 2;
      } else j++;
    }
    return j;
  }
  if (c === '$' && !identChar(sql[i - 1])) {
    const tag = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 64));
    if (!tag) return i;
    const close = sql.indexOf(tag[0], i + tag[0].length);
    return close === -1 ? sql.length : close + tag[0].length;
  }
  return i;
}
