/**
 * A table's rows are exported in heap order, not sorted by key (pg-copy-out.ts: the sort cost the
 * server an index scan or a sort of the whole table). What must still hold: a restore into an
 * empty database, exported again, gives the same bytes (deep verify compares exactly that), even
 * for a table whose heap order is far from its key order; and the reading sessions cannot start a
 * scan mid-table or split it across parallel workers.
 */
import { connectAtSnapshot } from './pg-copy-out';
import { restoreInput, sourceAndTarget, sql, takeBackup } from './pg-spec-helpers';

// Rows written in time order under a (sensor, time) key, then every third one updated, so its new
// version sits at the end of the heap: heap order is far from key order.
async function seed(url: string): Promise<void> {
  await sql(
    url,
    `CREATE TABLE readings (sensor int, at timestamptz, v double precision, PRIMARY KEY (sensor, at));
     INSERT INTO readings SELECT 1 + g % 50, '2024-01-01'::timestamptz + (g / 50) * interval '10 s', g * 0.5
     FROM generate_series(0, 19999) g;
     UPDATE readings SET v = -v WHERE sensor % 3 = 0;
     CREATE TABLE no_key (n int, s text);
     INSERT INTO no_key SELECT g % 7, md5(g::text) FROM generate_series(1, 5000) g;
     DELETE FROM no_key WHERE n = 2;
     INSERT INTO no_key SELECT 2, 'late ' || g FROM generate_series(1, 100) g`,
  );
}

describe('PostgreSQL export order', () => {
  const db = sourceAndTarget('order', seed);

  it('exports heap order, and a restore into an empty database exports the same bytes again', async () => {
    // In text, to read the first rows here (binary tables come back the same way: pg-copy-binary.int.spec.ts).
    const backup = await takeBackup(db.from, undefined, 2, { text: true });
    // Heap order: the first rows are the untouched ones of the first time step, not sensor 1's history.
    const firstLines = backup.data.get('readings')!.bytes.toString('utf8').split('\n').slice(0, 3);
    expect(firstLines.map((l) => Number(l.split('\t')[0]))).toEqual([1, 2, 4]);

    await db.to.applySchema(backup.schemaSql);
    await db.to.restore(restoreInput(backup, 'replace'));
    const again = await takeBackup(db.to, undefined, 2, { text: true });
    for (const name of ['readings', 'no_key']) {
      expect(again.data.get(name)!.rows).toBe(backup.data.get(name)!.rows);
      expect(again.data.get(name)!.sha256).toBe(backup.data.get(name)!.sha256);
    }
  });

  it('reads at the snapshot with synchronized scans and parallel workers off', async () => {
    const snap = await db.from.openSnapshot(['readings'], { parallel: 1 });
    try {
      const source = snap.workerSource!('readings');
      const c = await connectAtSnapshot(source.url, source.snapshotId);
      try {
        const { rows } = await c.query<{ s: string; p: string }>(
          `SELECT current_setting('synchronize_seqscans') AS s, current_setting('max_parallel_workers_per_gather') AS p`,
        );
        expect(rows[0]).toEqual({ s: 'off', p: '0' });
      } finally {
        await c.query('ROLLBACK');
        await c.end();
      }
    } finally {
      await snap.close();
    }
  });
});
