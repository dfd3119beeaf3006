/** Field names whose values are secrets: keys, passwords, confirm phrases, tokens. */
const SECRET_FIELD = /(key|secret|password|passphrase|token|confirm|authorization|credential|cookie)/i;
export const REDACTED = '[REDACTED]';

/** A deep copy with secret-looking fields replaced, for audit details and logs. */
export function redactSecrets(value: unknown, depth = 0): unknown {
  if (depth > 8) return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactSecrets(v, depth + 1));
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      out[k] = SECRET_FIELD.test(k) && !/^(keyId|keyIds|apiKeyId)$/.test(k) ? REDACTED : redactSecrets(v, depth + 1);
    }
    return out;
  }
  return value;
}
