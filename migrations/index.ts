import { Foundation1763700000000 } from './1763700000000-foundation';
import { Backups1763700001000 } from './1763700001000-backups';
import { Recoveries1763700003100 } from './1763700003100-recoveries';
import { Schedules1763700004000 } from './1763700004000-schedules';
import { JobHeartbeats1763700005300 } from './1763700005300-job-heartbeats';
import { CatalogListIndexes1763700009000 } from './1763700009000-catalog-list-indexes';
import { BackupInventory1763700010000 } from './1763700010000-backup-inventory';
import { RetentionSafeguards1764600400000 } from './1764600400000-retention-safeguards';
import { Maintenance1764600401000 } from './1764600401000-maintenance';

/** Migrations in the order they apply. */
export const MIGRATIONS = [
  Foundation1763700000000,
  Backups1763700001000,
  Recoveries1763700003100,
  Schedules1763700004000,
  JobHeartbeats1763700005300,
  CatalogListIndexes1763700009000,
  BackupInventory1763700010000,
  RetentionSafeguards1764600400000,
  Maintenance1764600401000,
];
