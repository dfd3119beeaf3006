/** What GET /api/maintenance answers, from the catalog's row and the recoveries that run: pure. */
export type MaintenanceBy = 'restore' | 'admin';

export interface MaintenanceView {
  active: boolean;
  reason: string | null;
  since: string | null;
  by: MaintenanceBy | null;
  /** The recovery whose restore holds it (by: "restore"). */
  recoveryId: string | null;
}

export interface OpenRecovery {
  id: string;
  backupId: string;
  createdAt: string;
}

export interface AdminSwitch {
  adminActive: boolean;
  adminReason: string | null;
  adminSince: string | null;
}

export const INACTIVE: MaintenanceView = { active: false, reason: null, since: null, by: null, recoveryId: null };

/** A running restore wins over an admin's switch (it is the stronger reason to hold writes); the oldest restore speaks. */
export function maintenanceState(admin: AdminSwitch | null, open: OpenRecovery[]): MaintenanceView {
  const restore = [...open].sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0))[0];
  if (restore) {
    return {
      active: true,
      reason: `restore ${restore.id} of backup ${restore.backupId} is running`,
      since: restore.createdAt,
      by: 'restore',
      recoveryId: restore.id,
    };
  }
  if (admin?.adminActive) {
    return { active: true, reason: admin.adminReason, since: admin.adminSince, by: 'admin', recoveryId: null };
  }
  return INACTIVE;
}

/** HTTP methods that change nothing: never refused for maintenance. */
export const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Seconds a client refused for maintenance waits before retrying. */
export const MAINTENANCE_RETRY_AFTER_SECONDS = 30;

export function maintenanceMessage(s: MaintenanceView): string {
  const why = s.reason ? `: ${s.reason}` : '';
  return `Strongroom is in maintenance (by ${s.by ?? 'unknown'} since ${s.since ?? 'unknown'})${why}; retry later`;
}
