/** A webhook receiver on loopback: a real HTTP server that keeps every JSON body it is sent and answers 204. */
import http from 'node:http';
import { AddressInfo } from 'node:net';

export type WebhookBody = Record<string, unknown> & {
  type?: string;
  alert?: { key: string; state: 'open' | 'resolved'; firstSeenAt: string; occurrences: number };
};

export interface WebhookReceiver<T = WebhookBody> {
  url: string;
  bodies: T[];
  close(): Promise<void>;
}

/** `T`: the shape a test reads the bodies as (they are whatever the service sent). */
export async function startWebhookReceiver<T = WebhookBody>(): Promise<WebhookReceiver<T>> {
  const bodies: T[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    bodies,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
