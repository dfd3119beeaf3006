/**
 * Starts a throwaway PostgreSQL cluster on loopback (the same one the tests use) and
 * prints its URL, for trying Strongroom against PostgreSQL on a developer machine.
 * Stop it with: pg_ctl -D <dataDir> stop   (printed below).
 */
import { startPgCluster } from '../test/support/postgres-server';

startPgCluster()
  .then((c) => {
    process.stdout.write(`${c.url}\n# stop with: runuser -u postgres -- ${c.binDir}/pg_ctl -D ${c.dataDir} stop\n`);
  })
  .catch((e: Error) => {
    process.stderr.write(`${e.message}\n`);
    process.exit(1);
  });
