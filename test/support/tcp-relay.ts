/**
 * A loopback TCP relay to a local port that can refuse and cut every connection: a server
 * (an S3 storage, a PostgreSQL database) going "down" and coming back, without touching it.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type TcpRelay = Awaited<ReturnType<typeof startRelay>>;

/** A loopback TCP relay to `port` that can refuse and cut every connection (the offsite storage "down"). */
export async function startRelay(
  port: number,
): Promise<{ port: number; down(): void; up(): void; close(): Promise<void> }> {
  let isDown = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    if (isDown) return void client.destroy();
    const upstream = connect(port, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    down() {
      isDown = true;
      for (const s of sockets) s.destroy();
    },
    up() {
      isDown = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
