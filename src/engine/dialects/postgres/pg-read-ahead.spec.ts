import { Readable } from 'node:stream';
import type { RestoreTableInput } from '../dialect';
import { readAhead } from './pg-read-ahead';

function tables(names: string[], opened: string[], streams: Map<string, Readable>): RestoreTableInput[] {
  return names.map((name) => ({
    name,
    table: { name, columns: [], primaryKey: [], foreignKeys: [] },
    mode: 'replace',
    open: async () => {
      opened.push(name);
      if (name === 'bad') throw new Error('part bad is missing');
      const s = Readable.from([Buffer.from(name)]);
      streams.set(name, s);
      return s;
    },
  }));
}

describe('readAhead', () => {
  it('opens the next table when one is taken, each once, and gives each table its own rows', async () => {
    const opened: string[] = [];
    const ahead = readAhead(tables(['a', 'b', 'c'], opened, new Map()));
    const a = await ahead.tables[0].open();
    await new Promise((r) => setImmediate(r));
    expect(opened).toEqual(['a', 'b']);
    const b = await ahead.tables[1].open();
    const c = await ahead.tables[2].open();
    expect(opened).toEqual(['a', 'b', 'c']);
    for (const [s, want] of [
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
    ] as const)
      expect(Buffer.concat(await s.toArray()).toString()).toBe(want);
    ahead.close();
  });

  it('reports a failed open when its table is taken, and close destroys what was opened ahead', async () => {
    const opened: string[] = [];
    const streams = new Map<string, Readable>();
    const ahead = readAhead(tables(['a', 'bad', 'c'], opened, streams));
    await ahead.tables[0].open();
    await expect(ahead.tables[1].open()).rejects.toThrow('part bad is missing');
    await new Promise((r) => setImmediate(r));
    expect(streams.get('c')?.destroyed).toBe(false);
    ahead.close();
    await new Promise((r) => setImmediate(r));
    expect(streams.get('c')?.destroyed).toBe(true);
    expect(streams.get('a')?.destroyed).toBe(false);
  });
});

describe('readAhead with tables opened out of order', () => {
  it('opens each table once when a later table is opened before an earlier one', async () => {
    const opened: string[] = [];
    const streams = new Map<string, Readable>();
    const ahead = readAhead(tables(['a', 'b', 'c', 'd'], opened, streams));
    // Two loaders took a and b; the one with b opened it first.
    const b = await ahead.tables[1].open();
    const a = await ahead.tables[0].open();
    await new Promise((r) => setImmediate(r));
    expect(opened).toEqual(['b', 'c', 'a']);
    const c = await ahead.tables[2].open();
    const d = await ahead.tables[3].open();
    await new Promise((r) => setImmediate(r));
    expect([...opened].sort()).toEqual(['a', 'b', 'c', 'd']);
    for (const [s, want] of [
      [a, 'a'],
      [b, 'b'],
      [c, 'c'],
      [d, 'd'],
    ] as const)
      expect(Buffer.concat(await s.toArray()).toString()).toBe(want);
    ahead.close();
  });
});
