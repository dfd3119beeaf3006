/** Roles, each including the ones below it (API.md): admin > operator > auditor. */
export const ROLES = ['auditor', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export function roleAtLeast(actual: Role | null | undefined, required: Role): boolean {
  if (!actual) return false;
  return ROLES.indexOf(actual) >= ROLES.indexOf(required);
}
