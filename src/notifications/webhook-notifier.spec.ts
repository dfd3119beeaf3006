import { createHmac } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { NotificationEvent, parseRetryAfter, WebhookNotifier, WebhookNotifierOptions } from './webhook-notifier';

interface Received {
  headers: http.IncomingHttpHeaders;
  body: string;
  url: string;
  arrivedAt: number;
}

type Reply = (req: Received, res: http.ServerResponse, index: number) => void;

/** A real HTTP server on loopback that records each request and answers as the test says. */
async function startReceiver(
  reply: Reply,
): Promise<{ base: string; requests: Received[]; close: () => Promise<void> }> {
  const requests: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received = {
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        url: req.url ?? '',
        arrivedAt: Date.now(),
      };
      requests.push(received);
      reply(received, res, requests.length - 1);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    requests,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const answer =
  (status: number, headers: Record<string, string> = {}): Reply =>
  (_req, res) => {
    res.writeHead(status, headers).end('ok');
  };

function recordingLogger(): { lines: string[]; warn: (m: string) => void; error: (m: string) => void } {
  const lines: string[] = [];
  return { lines, warn: (m) => lines.push(m), error: (m) => lines.push(m) };
}

const EVENT: NotificationEvent = {
  type: 'backup.failed',
  severity: 'error',
  message: 'Backup 3f2a failed: table "orders" could not be read',
  details: {
    backupId: '3f2a',
    table: 'orders',
    attempts: 1,
    databasePassword: 'hunter2',
    target: 'postgres://app:hunter2@db/prod',
  },
  at: new Date('2026-11-21T02:00:05.000Z'),
};

function notifier(urls: string[], extra: Partial<WebhookNotifierOptions> = {}): WebhookNotifier {
  return new WebhookNotifier({
    urls,
    format: 'json',
    timeoutMs: 2000,
    maxAttempts: 3,
    baseDelayMs: 5,
    logger: recordingLogger(),
    ...extra,
  });
}

describe('WebhookNotifier', () => {
  const receivers: { close: () => Promise<void> }[] = [];
  afterEach(async () => {
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  async function receiver(reply: Reply) {
    const r = await startReceiver(reply);
    receivers.push(r);
    return r;
  }

  it('posts the event as JSON, with secrets in details redacted', async () => {
    const r = await receiver(answer(204));
    const n = notifier([`${r.base}/hooks/strongroom`]);
    n.notify(EVENT);
    await n.drain();

    expect(r.requests).toHaveLength(1);
    const [req] = r.requests;
    expect(req.url).toBe('/hooks/strongroom');
    expect(req.headers['content-type']).toBe('application/json');
    expect(req.headers['x-strongroom-event']).toBe('backup.failed');
    const body = JSON.parse(req.body);
    expect(body).toEqual({
      id: req.headers['x-strongroom-event-id'],
      source: 'strongroom',
      type: 'backup.failed',
      severity: 'error',
      message: 'Backup 3f2a failed: table "orders" could not be read',
      details: {
        backupId: '3f2a',
        table: 'orders',
        attempts: 1,
        databasePassword: '[redacted]',
        target: 'postgres://[redacted]@db/prod',
      },
      at: '2026-11-21T02:00:05.000Z',
    });
    expect(req.body).not.toContain('hunter2');
    expect(n.counters).toEqual({ sent: 1, failed: 0, retries: 0, dropped: 0 });
  });

  it('posts a Slack-compatible message with text and blocks', async () => {
    const r = await receiver(answer(200));
    const n = notifier([r.base], { format: 'slack' });
    n.notify({ ...EVENT, message: 'Restore of <prod> & friends failed' });
    await n.drain();

    const body = JSON.parse(r.requests[0].body);
    expect(Object.keys(body).sort()).toEqual(['blocks', 'text']);
    expect(body.text).toBe(':x: [ERROR] backup.failed: Restore of <prod> & friends failed');
    expect(body.blocks[0]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: '*backup.failed* (error)\nRestore of &lt;prod&gt; &amp; friends failed' },
    });
    expect(body.blocks[1].fields).toContainEqual({ type: 'mrkdwn', text: '*table*\norders' });
    expect(body.blocks[1].fields).toContainEqual({ type: 'mrkdwn', text: '*attempts*\n1' });
    expect(body.blocks[2].type).toBe('context');
    expect(r.requests[0].body).not.toContain('hunter2');
    expect(n.sent).toBe(1);
  });

  it('retries after two 500s and then succeeds, with the same event id', async () => {
    const r = await receiver((req, res, i) => res.writeHead(i < 2 ? 500 : 200).end());
    const n = notifier([r.base], { maxAttempts: 5 });
    n.notify(EVENT);
    await n.drain();

    expect(r.requests).toHaveLength(3);
    expect(new Set(r.requests.map((q) => q.headers['x-strongroom-event-id'])).size).toBe(1);
    expect(r.requests.map((q) => q.headers['x-strongroom-attempt'])).toEqual(['1', '2', '3']);
    expect(n.counters).toEqual({ sent: 1, failed: 0, retries: 2, dropped: 0 });
  });

  it('gives up after maxAttempts and logs without the URL credentials, path or query', async () => {
    const r = await receiver(answer(503));
    const logger = recordingLogger();
    const port = new URL(r.base).port;
    const n = notifier([`http://alice:s3cret-pw@127.0.0.1:${port}/services/T0/B0/XyZsecretPath?token=q-secret`], {
      logger,
    });
    n.notify(EVENT);
    await n.drain();

    expect(r.requests).toHaveLength(3);
    expect(r.requests[0].headers.authorization).toBe(`Basic ${Buffer.from('alice:s3cret-pw').toString('base64')}`);
    expect(r.requests[0].url).toBe('/services/T0/B0/XyZsecretPath?token=q-secret');
    expect(n.counters).toEqual({ sent: 0, failed: 1, retries: 2, dropped: 0 });
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatch(
      /giving up on backup\.failed event .* to webhook #1 \(http:\/\/127\.0\.0\.1:\d+\) after 3 attempt\(s\): HTTP 503/,
    );
    for (const secret of ['s3cret-pw', 'alice', 'XyZsecretPath', 'q-secret'])
      expect(logger.lines[0]).not.toContain(secret);
  });

  it('does not retry a client error other than 408 and 429', async () => {
    const r = await receiver(answer(400));
    const n = notifier([r.base]);
    n.notify(EVENT);
    await n.drain();
    expect(r.requests).toHaveLength(1);
    expect(n.counters).toEqual({ sent: 0, failed: 1, retries: 0, dropped: 0 });
  });

  it('honours Retry-After on 429', async () => {
    const r = await receiver((req, res, i) =>
      i === 0 ? res.writeHead(429, { 'retry-after': '1' }).end() : res.writeHead(200).end(),
    );
    const n = notifier([r.base], { baseDelayMs: 1 });
    n.notify(EVENT);
    await n.drain();
    expect(r.requests).toHaveLength(2);
    // A lower bound: without Retry-After the backoff here would be about a millisecond.
    expect(r.requests[1].arrivedAt - r.requests[0].arrivedAt).toBeGreaterThanOrEqual(950);
    expect(n.sent).toBe(1);
  });

  it('times out a server that never answers, and retries it', async () => {
    const r = await receiver(() => undefined);
    const logger = recordingLogger();
    const n = notifier([r.base], { timeoutMs: 200, maxAttempts: 2, logger });
    n.notify(EVENT);
    await n.drain();
    expect(r.requests).toHaveLength(2);
    expect(n.counters).toEqual({ sent: 0, failed: 1, retries: 1, dropped: 0 });
    expect(logger.lines[0]).toContain('timed out after 200ms');
  });

  it('retries network errors such as a refused connection', async () => {
    const r = await startReceiver(answer(200));
    await r.close(); // the port is now closed
    const logger = recordingLogger();
    const n = notifier([r.base], { maxAttempts: 2, logger });
    n.notify(EVENT);
    await n.drain();
    expect(n.counters).toEqual({ sent: 0, failed: 1, retries: 1, dropped: 0 });
    expect(logger.lines[0]).toContain('network error (ECONNREFUSED)');
  });

  it('returns from notify() before the delivery completes', async () => {
    let release: () => void = () => undefined;
    let arrived: () => void = () => undefined;
    const requestArrived = new Promise<void>((resolve) => (arrived = resolve));
    const r = await receiver((_req, res) => {
      release = () => res.writeHead(200).end();
      arrived();
    });
    const n = notifier([r.base]);

    const returned = n.notify(EVENT);
    expect(returned).toBeUndefined();
    expect(n.sent).toBe(0);
    await requestArrived;
    expect(n.sent).toBe(0); // the server has the request but has not answered: still in flight
    release();
    await n.drain();
    expect(n.sent).toBe(1);
  });

  it('delivers to each URL independently', async () => {
    const good = await receiver(answer(200));
    const bad = await receiver(answer(500));
    const n = notifier([bad.base, good.base], { maxAttempts: 2 });
    n.notify(EVENT);
    n.notify({ ...EVENT, type: 'recovery.completed', severity: 'info' });
    await n.drain();
    expect(good.requests.map((q) => JSON.parse(q.body).type).sort()).toEqual(['backup.failed', 'recovery.completed']);
    expect(bad.requests).toHaveLength(4);
    expect(n.counters).toEqual({ sent: 2, failed: 2, retries: 2, dropped: 0 });
  });

  it('drops events instead of queueing without bound', async () => {
    const held: http.ServerResponse[] = [];
    const r = await receiver((_req, res) => held.push(res));
    const n = notifier([r.base], { maxPending: 1 });
    n.notify(EVENT);
    n.notify(EVENT);
    expect(n.counters.dropped).toBe(1);
    while (r.requests.length === 0) await new Promise((resolve) => setImmediate(resolve));
    held.forEach((res) => res.writeHead(200).end());
    await n.drain();
    expect(n.counters).toEqual({ sent: 1, failed: 0, retries: 0, dropped: 1 });
  });

  it('signs the body when a signing secret is set', async () => {
    const r = await receiver(answer(200));
    const n = notifier([r.base], { signingSecret: 'sign-me' });
    n.notify(EVENT);
    await n.drain();
    const [req] = r.requests;
    const expected = createHmac('sha256', 'sign-me')
      .update(`${req.headers['x-strongroom-timestamp']}.${req.body}`)
      .digest('hex');
    expect(req.headers['x-strongroom-signature']).toBe(`sha256=${expected}`);
  });

  it.each<[string, Partial<WebhookNotifierOptions>, string]>([
    ['a malformed URL, without quoting it', { urls: ['not a url/with-secret'] }, 'webhook url #1 is not a valid URL'],
    ['a non-http URL', { urls: ['ftp://example.com/x'] }, 'webhook url #1 must use http or https, not ftp'],
    ['zero attempts', { maxAttempts: 0 }, 'webhook maxAttempts must be a positive integer, got 0'],
    ['a zero timeout', { timeoutMs: 0 }, 'webhook timeoutMs must be a positive number, got 0'],
    ['an unknown format', { format: 'xml' as 'json' }, "webhook format must be 'json' or 'slack', got 'xml'"],
  ])('rejects %s', (_name, options, message) => {
    // The whole message, so a URL (and the secret it may hold) cannot hide in it.
    expect(() => notifier(['http://127.0.0.1:9/'], options)).toThrow(new Error(message));
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-11-21T12:00:00Z');
  it.each<[string | null, number | null]>([
    [null, null],
    ['7', 7000],
    [' 0 ', 0],
    ['Sat, 21 Nov 2026 12:00:30 GMT', 30_000],
    ['Sat, 21 Nov 2026 11:00:00 GMT', 0],
    ['soon', null],
  ])('%j -> %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});
