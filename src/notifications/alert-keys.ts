/**
 * Alert keys: one condition, one key, so raising it again finds the open alert instead of
 * opening another. Built here so raisers and resolvers in different modules agree.
 */

/** Open while GET /api/status is unhealthy, whatever the cause. */
export const UNHEALTHY_KEY = 'status:unhealthy';
/** Offsite copies lag more than OFFSITE_MAX_LAG_HOURS. */
export const OFFSITE_LAG_KEY = 'offsite:lag';
/** The schedule has no completed backup by its deadline (next fire time after its last success, plus a grace). */
export const scheduleDeadlineKey = (scheduleId: string): string => `schedule:${scheduleId}:deadline`;
/** The schedule's last run failed (or could not start). */
export const scheduleFailedKey = (scheduleId: string): string => `schedule:${scheduleId}:failed`;
/** The backup failed verification: no sound copy of it was found. */
export const backupCorruptKey = (backupId: string): string => `backup:${backupId}:corrupt`;
/** The backup's primary copy is missing or corrupt (reads fall back to the offsite copy). */
export const primaryCopyKey = (backupId: string): string => `backup:${backupId}:primary-copy`;
/** One copy (primary or offsite) of the backup failed the rolling verification or a drill's read. */
export const copyCorruptKey = (backupId: string, copy: 'primary' | 'offsite'): string =>
  `backup:${backupId}:corrupt:${copy}`;
/** The last restore drill failed. */
export const DRILL_FAILED_KEY = 'drill:failed';
/** The last restore drill took more than DRILL_RTO_THRESHOLD_PERCENT longer than its baseline. */
export const DRILL_RTO_KEY = 'drill:rto';
