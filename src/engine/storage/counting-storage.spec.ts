import { Readable } from 'node:stream';
import { tempDir } from '../../../test/support/databases';
import { CountingStorage } from './counting-storage';
import { LocalStorage } from './local-storage';

describe('CountingStorage', () => {
  it('passes reads through unchanged and reports every byte read', async () => {
    const dir = tempDir();
    try {
      const inner = new LocalStorage(dir.path);
      const body = Buffer.alloc(200_000, 7);
      await inner.put('a/b', Readable.from([body]));
      let counted = 0;
      const storage = new CountingStorage(inner, (n) => (counted += n));
      const chunks: Buffer[] = [];
      for await (const c of await storage.get('a/b')) chunks.push(c as Buffer);
      expect(Buffer.concat(chunks).equals(body)).toBe(true);
      expect(counted).toBe(body.length);
      expect(storage.location).toBe(inner.location);
      await expect(storage.get('a/missing')).rejects.toThrow(/not found/);
    } finally {
      dir.remove();
    }
  });
});
