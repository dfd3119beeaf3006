import { createHash, randomBytes } from 'node:crypto';

/** Keys are 256-bit random tokens, so one SHA-256 is the right hash: no salt or KDF needed. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export function generateApiKey(): string {
  return `sr_${randomBytes(32).toString('base64url')}`;
}

/**
 * The name that marks the key ADMIN_API_KEY provides. The API refuses it for new keys, so at
 * boot "the previous environment key" means exactly the active rows with this name.
 */
export const ENV_ADMIN_KEY_NAME = 'ADMIN_API_KEY (environment)';
export const GENERATED_ADMIN_KEY_NAME = 'bootstrap admin';
