/**
 * Jest global setup: the app transpiled once for child-process tests, and one PostgreSQL
 * server for the whole run (unless TEST_DATABASE_URL points at one). Workers inherit the environment set here. A machine without the
 * PostgreSQL binaries fails loudly with the install command: tests never skip silently.
 */
import { startPgCluster } from './postgres-server';
import { transpileForChildren } from './transpile';

export default async function globalSetup(): Promise<void> {
  transpileForChildren();
  if (process.env.TEST_DATABASE_URL) return;
  const cluster = await startPgCluster();
  process.env.TEST_DATABASE_URL = cluster.url;
  process.env.STRONGROOM_TEST_PG_DATA = cluster.dataDir;
  process.env.STRONGROOM_TEST_PG_BIN = cluster.binDir;
}
