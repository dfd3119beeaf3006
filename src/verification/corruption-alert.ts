import type { VerifyCheck } from '../engine/backup/verify-backup';
import type { NotificationsService } from '../notifications/notifications.service';
import type { CopyName } from './verify-slice';
import { copyCorruptKey } from '../notifications/alert-keys';

/** What failed, one "check: detail" each (a part's check is named "part <name>"). */
export function failedChecks(checks: readonly VerifyCheck[]): string[] {
  return checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail ?? 'failed'}`);
}

/** The parts named by failed checks ("part <name>"); the manifest when that is what failed. */
export function failedParts(checks: readonly VerifyCheck[]): string[] {
  return checks
    .filter((c) => !c.ok)
    .map((c) => (c.name.startsWith('part ') ? c.name.slice('part '.length) : c.name === 'manifest' ? 'manifest' : null))
    .filter((p): p is string => p !== null);
}

/** The key of a copy's corruption alert: one per backup and copy, so a repeat is the same alert. */
export const corruptKey = (backupId: string, copy: CopyName): string => copyCorruptKey(backupId, copy);

/** Raises the alert for a copy that failed its check, naming the backup, the copy and the parts. */
export function alertCorrupt(
  notifications: NotificationsService,
  backupId: string,
  copy: CopyName,
  problems: readonly string[],
  parts: readonly string[],
  found: 'rolling verification' | 'restore drill',
): void {
  const where = parts.length ? ` (${parts.length === 1 ? 'part' : 'parts'} ${parts.join(', ')})` : '';
  notifications.notify({
    type: 'verify.corrupt',
    severity: 'critical',
    key: corruptKey(backupId, copy),
    message: `Backup ${backupId}: its ${copy} copy failed ${found}${where}: ${problems.join('; ').slice(0, 1500)}`,
    details: { backupId, copy, parts, problems: problems.slice(0, 20), foundBy: found },
  });
}
