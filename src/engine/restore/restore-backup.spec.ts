import { rowTotal } from './restore-backup';

describe('rowTotal (rows written so far from interleaved per-table reports)', () => {
  it('adds each table once, with its latest count, whatever the order of the reports', () => {
    const total = rowTotal();
    const seen = [
      { table: 'tasks', rows: 100 },
      { table: 'comments', rows: 50 },
      { table: 'tasks', rows: 300 },
      { table: 'comments', rows: 70 },
      { table: 'app_audit', rows: 5 },
      { table: 'tasks', rows: 380 },
    ].map(total);
    expect(seen).toEqual([100, 150, 350, 370, 375, 455]);
  });

  it('counts tables restored one after another as their sum', () => {
    const total = rowTotal();
    expect(
      [
        { table: 'a', rows: 10 },
        { table: 'a', rows: 20 },
        { table: 'b', rows: 1 },
      ].map(total),
    ).toEqual([10, 20, 21]);
  });
});
