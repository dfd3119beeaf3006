import { stopPgCluster } from './postgres-server';

export default async function globalTeardown(): Promise<void> {
  const dataDir = process.env.STRONGROOM_TEST_PG_DATA;
  const binDir = process.env.STRONGROOM_TEST_PG_BIN;
  if (dataDir && binDir) stopPgCluster({ dataDir, binDir });
}
