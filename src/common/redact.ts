/** Field names whose values are secrets: keys, passwords, confirm phrases, tokens. */
const SECRET_FIELD = /(key|secret|password|passphrase|token|confirm|authorization|credential|cookie)/i;
/** Names that match the pattern but hold identifiers, not secrets. */
const NOT_SECRET = /^(keyId|keyIds|apiKeyId)$/;
export const REDACTED = '[REDACTED]';

export function isSecretField(name: string): boolean {
  return SECRET_FIELD.test(name) && !NOT_SECRET.test(name);
}

/** A deep copy with secret-looking fields replaced, for audit details and logs. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = isSecretField(k) ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * An error's message as it may be stored, shown and logged: a connection string in it (drivers
 * quote them) loses its password, and the length is bounded.
 */
export function safeErrorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/(postgres(?:ql)?:\/\/[^:\s/]+:)[^@\s]+@/g, '$1***@').slice(0, 2000);
}

/**
 * A URL with the values of secret-looking query parameters (`?key=`, `api_key`, `token`,
 * `confirm`, …) replaced, for request logs. The rest stays byte for byte.
 */
export function redactUrl(url: string): string {
  const q = url.indexOf('?');
  if (q < 0) return url;
  const params = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // A malformed escape: judge the name as it was sent.
      }
      return isSecretField(name) ? `${rawName}=${REDACTED}` : pair;
    });
  return `${url.slice(0, q)}?${params.join('&')}`;
}
