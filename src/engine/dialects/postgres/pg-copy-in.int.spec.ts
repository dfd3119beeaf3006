/**
 * COPY FROM as restores send it, against a real PostgreSQL: every CopyData message goes out in
 * one corked write (header and bytes together), the rows arrive whole, also when the socket
 * pushes back (a chunk larger than its buffer), and a failing source leaves nothing behind.
 */
import { Readable } from 'node:stream';
import type { Socket } from 'node:net';
import { Client } from 'pg';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { copyIn } from './pg-copy-in';

let db: TestDatabase;
let client: Client;

beforeAll(async () => {
  db = await createPgDatabase('copyin');
  client = new Client({ connectionString: db.url });
  await client.connect();
  await client.query('CREATE TABLE t (id int PRIMARY KEY, body text NOT NULL)');
});

afterAll(async () => {
  await client.end();
  await db.drop();
});

function rows(from: number, count: number, width: number): Buffer {
  let s = '';
  for (let i = from; i < from + count; i++) s += `${i}\t${'x'.repeat(width)}\n`;
  return Buffer.from(s);
}

it('sends each chunk as one corked write and loads every row, through backpressure', async () => {
  await client.query('TRUNCATE t');
  const socket = (client as unknown as { connection: { stream: Socket } }).connection.stream;
  const headers: number[] = [];
  const write = socket.write.bind(socket) as (...a: unknown[]) => boolean;
  // Records the cork state of every CopyData header ('d' and a 4-byte length) written during the COPY.
  socket.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (Buffer.isBuffer(chunk) && chunk.length === 5 && chunk[0] === 0x64) headers.push(socket.writableCorked);
    return write(chunk, ...rest);
  }) as Socket['write'];
  try {
    // Small chunks, then one far larger than the socket's buffer.
    const chunks = [rows(0, 10, 5), rows(10, 10, 50), rows(20, 20_000, 400)];
    const n = await copyIn(client, { target: 't', columns: ['id', 'body'], source: Readable.from(chunks) });
    expect(n).toBe(20_020);
  } finally {
    socket.write = write as Socket['write'];
  }
  expect(headers).toHaveLength(3);
  expect(headers.every((corked) => corked > 0)).toBe(true);
  const { rows: got } = await client.query<{ n: string; len: string }>(
    'SELECT count(*)::text AS n, sum(length(body))::text AS len FROM t',
  );
  expect(got[0]).toEqual({ n: '20020', len: String(10 * 5 + 10 * 50 + 20_000 * 400) });
});

it('a source that fails mid-COPY aborts it: no rows stay, and the connection goes on working', async () => {
  await client.query('TRUNCATE t');
  const source = Readable.from(
    (function* () {
      yield rows(0, 100, 10);
      throw new Error('storage went away');
    })(),
  );
  await expect(copyIn(client, { target: 't', columns: ['id', 'body'], source })).rejects.toThrow(/storage went away/);
  expect((await client.query('SELECT count(*)::int AS n FROM t')).rows[0]).toEqual({ n: 0 });
});
