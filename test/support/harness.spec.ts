import { Client } from 'pg';
import { createPgDatabase } from './databases';

describe('test harness', () => {
  it('gives each test its own PostgreSQL database on a real server', async () => {
    const db = await createPgDatabase();
    const c = new Client({ connectionString: db.url });
    await c.connect();
    const res = await c.query('select current_database() as name, version() as v');
    await c.end();
    await db.drop();
    expect(res.rows[0].name).toMatch(/^t_[0-9a-f]{12}$/);
    expect(res.rows[0].v).toMatch(/PostgreSQL/);
  });
});
