import { createHmac, randomUUID } from 'node:crypto';
import { buildPayload, NotificationEvent, WebhookFormat } from './webhook-payload';

export type { NotificationEvent, NotificationEventType, NotificationSeverity, WebhookFormat } from './webhook-payload';

export interface NotifierLogger {
  warn(message: string): void;
  error(message: string): void;
}

export interface WebhookNotifierOptions {
  urls: string[];
  format: WebhookFormat;
  /** Per attempt, until the response headers arrive. */
  timeoutMs: number;
  maxAttempts: number;
  baseDelayMs: number;
  /** Cap on the exponential backoff. Default 60 s. */
  maxDelayMs?: number;
  /** Cap on a server's Retry-After. Default 5 min. */
  maxRetryAfterMs?: number;
  /** Deliveries in flight (one per URL per event) beyond which new events are dropped. Default 1000. */
  maxPending?: number;
  /** When set, each request carries X-Strongroom-Signature: sha256=HMAC(timestamp + "." + body). */
  signingSecret?: string;
  logger?: NotifierLogger;
}

export interface WebhookCounters {
  sent: number;
  failed: number;
  retries: number;
  dropped: number;
}

interface Target {
  /** The URL without user info: fetch refuses credentials in URLs, and logs must not see them. */
  url: string;
  label: string;
  authorization: string | null;
}

type AttemptOutcome = { ok: true } | { ok: false; retryable: boolean; reason: string; retryAfterMs: number | null };

const DEFAULT_MAX_DELAY_MS = 60_000;
const DEFAULT_MAX_RETRY_AFTER_MS = 300_000;
const DEFAULT_MAX_PENDING = 1000;

const consoleLogger: NotifierLogger = {
  warn: (message) => console.warn(message),
  error: (message) => console.error(message),
};

/**
 * Sends operational events to webhooks without ever holding up the caller: notify() queues
 * the delivery and returns; failures are retried with backoff, then counted and logged.
 */
export class WebhookNotifier {
  private readonly targets: Target[];
  private readonly inFlight = new Set<Promise<void>>();
  private readonly counts: WebhookCounters = { sent: 0, failed: 0, retries: 0, dropped: 0 };
  private readonly logger: NotifierLogger;
  private readonly maxDelayMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxPending: number;

  constructor(private readonly options: WebhookNotifierOptions) {
    assertPositiveInteger(options.maxAttempts, 'maxAttempts');
    assertPositive(options.timeoutMs, 'timeoutMs');
    assertNonNegative(options.baseDelayMs, 'baseDelayMs');
    if (options.format !== 'json' && options.format !== 'slack') {
      throw new Error(`webhook format must be 'json' or 'slack', got '${String(options.format)}'`);
    }
    this.targets = options.urls.map((url, i) => parseTarget(url, i));
    this.logger = options.logger ?? consoleLogger;
    this.maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? DEFAULT_MAX_RETRY_AFTER_MS;
    this.maxPending = options.maxPending ?? DEFAULT_MAX_PENDING;
  }

  get sent(): number {
    return this.counts.sent;
  }

  get failed(): number {
    return this.counts.failed;
  }

  get counters(): WebhookCounters {
    return { ...this.counts };
  }

  /** Returns at once; delivery happens in the background. Never throws. */
  notify(event: NotificationEvent): void {
    if (this.targets.length === 0) return;
    try {
      if (this.inFlight.size + this.targets.length > this.maxPending) {
        this.counts.dropped += this.targets.length;
        this.logger.warn(`webhook: dropped ${event.type} event, ${this.inFlight.size} deliveries already pending`);
        return;
      }
      const id = randomUUID();
      const body = buildPayload(event, id, this.options.format);
      for (const target of this.targets) this.track(this.deliver(target, body, id, event.type));
    } catch (err) {
      this.counts.failed += this.targets.length;
      this.logger.error(`webhook: could not build the ${String(event?.type)} notification: ${errorText(err)}`);
    }
  }

  /** Resolves once every delivery started so far has succeeded or given up. */
  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private track(delivery: Promise<void>): void {
    const tracked = delivery.catch((err: unknown) => {
      // deliver() handles its own errors; this guards against a bug turning into an unhandled rejection.
      this.logger.error(`webhook: delivery crashed: ${errorText(err)}`);
    });
    this.inFlight.add(tracked);
    void tracked.finally(() => this.inFlight.delete(tracked));
  }

  private async deliver(target: Target, body: string, eventId: string, type: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.attempt(target, body, eventId, type, attempt);
      if (outcome.ok) {
        this.counts.sent++;
        return;
      }
      if (!outcome.retryable || attempt >= this.options.maxAttempts) {
        this.counts.failed++;
        this.logger.warn(
          `webhook: giving up on ${type} event ${eventId} to ${target.label} after ${attempt} attempt(s): ${outcome.reason}`,
        );
        return;
      }
      this.counts.retries++;
      await sleep(this.retryDelay(attempt, outcome.retryAfterMs));
    }
  }

  private async attempt(
    target: Target,
    body: string,
    eventId: string,
    type: string,
    attempt: number,
  ): Promise<AttemptOutcome> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'strongroom-webhook/1',
      'x-strongroom-event': type,
      'x-strongroom-event-id': eventId,
      'x-strongroom-attempt': String(attempt),
    };
    if (target.authorization) headers.authorization = target.authorization;
    if (this.options.signingSecret) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const signature = createHmac('sha256', this.options.signingSecret).update(`${timestamp}.${body}`).digest('hex');
      headers['x-strongroom-timestamp'] = timestamp;
      headers['x-strongroom-signature'] = `sha256=${signature}`;
    }
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers,
        body,
        // A redirect would replay the payload somewhere nobody configured.
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      if (response.status >= 200 && response.status < 300) return { ok: true };
      const retryable = response.status >= 500 || response.status === 429 || response.status === 408;
      return {
        ok: false,
        retryable,
        reason: `HTTP ${response.status}`,
        retryAfterMs: parseRetryAfter(response.headers.get('retry-after'), Date.now()),
      };
    } catch (err) {
      return { ok: false, retryable: true, reason: this.describeFailure(err, target), retryAfterMs: null };
    }
  }

  private retryDelay(failedAttempt: number, retryAfterMs: number | null): number {
    if (retryAfterMs !== null) return Math.min(retryAfterMs, this.maxRetryAfterMs);
    const exponential = Math.min(this.maxDelayMs, this.options.baseDelayMs * 2 ** (failedAttempt - 1));
    // Equal jitter: spread retries from many events without ever retrying at once.
    return Math.round(exponential / 2 + Math.random() * (exponential / 2));
  }

  private describeFailure(err: unknown, target: Target): string {
    const name = field(err, 'name');
    if (name === 'TimeoutError' || name === 'AbortError') return `timed out after ${this.options.timeoutMs}ms`;
    const code = field(field(err, 'cause'), 'code');
    const text = code !== undefined ? `network error (${String(code)})` : `network error: ${errorText(err)}`;
    return text.split(target.url).join(target.label);
  }
}

/** Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, nowMs: number): number | null {
  if (value === null) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return null;
  return Math.max(0, date - nowMs);
}

function parseTarget(raw: string, index: number): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // The URL itself is not quoted: webhook URLs often embed their secret.
    throw new Error(`webhook url #${index + 1} is not a valid URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`webhook url #${index + 1} must use http or https, not ${url.protocol.replace(':', '')}`);
  }
  let authorization: string | null = null;
  if (url.username || url.password) {
    const user = decodeURIComponent(url.username);
    const password = decodeURIComponent(url.password);
    authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  // Only the origin is named in logs: paths and queries of webhook URLs (Slack's included) are secrets.
  return { url: url.toString(), label: `webhook #${index + 1} (${url.origin})`, authorization };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Duck-typed rather than instanceof: fetch's errors may come from another realm (vm contexts, jest).
function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && key in value
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

function errorText(err: unknown): string {
  const message = field(err, 'message');
  return typeof message === 'string' ? message : String(err);
}

function assertPositiveInteger(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 1)
    throw new Error(`webhook ${name} must be a positive integer, got ${String(value)}`);
}

function assertPositive(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new Error(`webhook ${name} must be a positive number, got ${String(value)}`);
  }
}

function assertNonNegative(value: number, name: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new Error(`webhook ${name} must be a non-negative number, got ${String(value)}`);
  }
}
