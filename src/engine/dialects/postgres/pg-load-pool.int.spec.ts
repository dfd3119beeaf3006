/**
 * The order in which the loader pool hands out its jobs, on real connections: shares of a table
 * being dealt out first, then the tables to load, and the index builds that loads queued last.
 */
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { LoadPool } from './pg-load-pool';

describe('LoadPool job order', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createPgDatabase('pool');
  });
  afterAll(async () => {
    await db.drop();
  });

  it('takes shares, then every load, then the builds the loads queued', async () => {
    const pool = new LoadPool({ url: db.url, app: 'strongroom_pool_test', parallel: 1, maintenanceWorkMem: '64MB' });
    const order: string[] = [];
    const job = (name: string, then?: () => void) => async () => {
      order.push(name);
      then?.();
    };
    pool.load(
      job('load a', () => {
        pool.follow(job('build a1'));
        pool.follow(job('build a2'));
      }),
    );
    pool.load(job('load b', () => pool.share(job('share of b'))));
    pool.load(job('load c', () => pool.follow(job('build c1'))));
    await pool.run();
    expect(order).toEqual(['load a', 'load b', 'share of b', 'load c', 'build a1', 'build a2', 'build c1']);
  });

  it('runs every job on its own connection with the loaders’ settings', async () => {
    const pool = new LoadPool({
      url: db.url,
      app: 'strongroom_pool_test',
      parallel: 2,
      maintenanceWorkMem: '48MB',
      toastCompression: 'pglz',
    });
    const seen: string[] = [];
    for (let i = 0; i < 3; i++)
      pool.load(async (c) => {
        const { rows } = await c.query<{ mwm: string; toast: string }>(
          `SELECT current_setting('maintenance_work_mem') AS mwm, current_setting('default_toast_compression') AS toast`,
        );
        seen.push(`${rows[0].mwm} ${rows[0].toast}`);
      });
    await pool.run();
    expect(seen).toEqual(['48MB pglz', '48MB pglz', '48MB pglz']);
  });

  it('rejects with the first failure and takes no further job', async () => {
    const pool = new LoadPool({ url: db.url, app: 'strongroom_pool_test', parallel: 1, maintenanceWorkMem: '64MB' });
    const order: string[] = [];
    pool.load(async (c) => {
      order.push('load a');
      await c.query('SELECT 1/0');
    });
    pool.load(async () => {
      order.push('load b');
    });
    await expect(pool.run()).rejects.toThrow(/division by zero/);
    expect(order).toEqual(['load a']);
  });
});
