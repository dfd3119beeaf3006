import { Foundation1763700000000 } from './1763700000000-foundation';

/** Migrations in the order they apply. */
export const MIGRATIONS = [Foundation1763700000000];
