import { Foundation1763700000000 } from './1763700000000-foundation';
import { Backups1763700001000 } from './1763700001000-backups';
import { Recoveries1763700003100 } from './1763700003100-recoveries';
import { Schedules1763700004000 } from './1763700004000-schedules';
import { JobHeartbeats1763700005300 } from './1763700005300-job-heartbeats';
import { CatalogListIndexes1763700009000 } from './1763700009000-catalog-list-indexes';
import { BackupInventory1763700010000 } from './1763700010000-backup-inventory';
import { Scopes1764600100000 } from './1764600100000-scopes';
import { JobCancel1764600200000 } from './1764600200000-job-cancel';
import { OffsiteCopies1764600300000 } from './1764600300000-offsite-copies';
import { RetentionSafeguards1764600400000 } from './1764600400000-retention-safeguards';
import { Maintenance1764600401000 } from './1764600401000-maintenance';
import { AuditCheckpoints1764600500000 } from './1764600500000-audit-checkpoints';
import { NewestVerifiedIndex1764600600000 } from './1764600600000-newest-verified-index';
import { ScheduleNewestIndex1764700100000 } from './1764700100000-schedule-newest-index';
import { Alerts1764700200000 } from './1764700200000-alerts';
import { RollingVerification1764700300000 } from './1764700300000-rolling-verification';
import { ScheduleScope1764700400000 } from './1764700400000-schedule-scope';
import { AuditCheckpointOffsite1764700500000 } from './1764700500000-audit-checkpoint-offsite';

/** Migrations in the order they apply. */
export const MIGRATIONS = [
  Foundation1763700000000,
  Backups1763700001000,
  Recoveries1763700003100,
  Schedules1763700004000,
  JobHeartbeats1763700005300,
  CatalogListIndexes1763700009000,
  BackupInventory1763700010000,
  Scopes1764600100000,
  JobCancel1764600200000,
  OffsiteCopies1764600300000,
  RetentionSafeguards1764600400000,
  Maintenance1764600401000,
  AuditCheckpoints1764600500000,
  NewestVerifiedIndex1764600600000,
  ScheduleNewestIndex1764700100000,
  Alerts1764700200000,
  RollingVerification1764700300000,
  ScheduleScope1764700400000,
  AuditCheckpointOffsite1764700500000,
];
