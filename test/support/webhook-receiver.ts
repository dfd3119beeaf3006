/** A webhook receiver on loopback: a real HTTP server that keeps every JSON body it is sent and answers 204. */
import http from 'node:http';
import { AddressInfo } from 'node:net';

export type WebhookBody = Record<string, unknown> & {
  type?: string;
  alert?: { key: string; state: 'open' | 'resolved'; firstSeenAt: string; occurrences: number };
};

export interface WebhookReceiver {
  url: string;
  bodies: WebhookBody[];
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const bodies: WebhookBody[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')) as WebhookBody);
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
