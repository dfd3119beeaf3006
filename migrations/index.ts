import { Foundation1763700000000 } from './1763700000000-foundation';
import { Backups1763700001000 } from './1763700001000-backups';
import { Schedules1763700004000 } from './1763700004000-schedules';

/** Migrations in the order they apply. */
export const MIGRATIONS = [Foundation1763700000000, Backups1763700001000, Schedules1763700004000];
