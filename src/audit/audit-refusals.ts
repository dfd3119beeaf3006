import { BeforeApplicationShutdown, Injectable, Logger, OnModuleInit } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { AuditInput, AuditService } from './audit.service';

/** Buckets kept at once; past it, new clients share one bucket per status, so memory stays bounded. */
const MAX_BUCKETS = 10_000;
const OVERFLOW = '(overflow)';

interface Bucket {
  /** The event the first refusal of the window was recorded as; the summary repeats its names. */
  first: AuditInput;
  count: number;
  /** Times of the first and last counted repeat. */
  firstAt: string | null;
  lastAt: string | null;
  lastRequestId: string | null;
}

/**
 * Refusals that anyone can cause at any rate (every 429, and any 4xx of a client that
 * presented no valid key) are recorded per window of AUDIT_AGGREGATE_SECONDS and per client
 * address, method, route, status and key: the first one as its own event at once, the others
 * only counted, and written as one event with the count (`details.repeats`) when the window
 * ends or the process shuts down. A flood thus adds at most two events per client, route and
 * status per window, whatever its rate, while the first attempt stays visible at once.
 */
@Injectable()
export class AuditRefusals implements OnModuleInit, BeforeApplicationShutdown {
  private readonly logger = new Logger('AuditRefusals');
  private buckets = new Map<string, Bucket>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly audit: AuditService,
    private readonly config: AppConfig,
  ) {}

  onModuleInit(): void {
    this.timer = setInterval(() => void this.flush(), this.config.AUDIT_AGGREGATE_SECONDS * 1000);
    this.timer.unref();
  }

  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.flush();
  }

  /**
   * Takes a refusal. Answers true when it was counted into an open window (the caller records
   * nothing), false when it opened one (the caller records it as its own event).
   */
  take(input: AuditInput, status: number, route: string | null, method: string): boolean {
    const at = new Date().toISOString();
    let key = [input.ip ?? '', method, route ?? '(no route)', status, input.actor?.keyId ?? ''].join('\u0000');
    if (!this.buckets.has(key) && this.buckets.size >= MAX_BUCKETS) key = `${OVERFLOW}\u0000${status}`;
    const open = this.buckets.get(key);
    if (open) {
      open.count++;
      open.firstAt ??= at;
      open.lastAt = at;
      open.lastRequestId = input.requestId ?? null;
      return true;
    }
    const first = key.startsWith(OVERFLOW)
      ? { ...input, ip: null, resourceId: null, details: { status, overflow: true } }
      : input;
    this.buckets.set(key, { first, count: 0, firstAt: null, lastAt: null, lastRequestId: null });
    return false;
  }

  /** Closes the window: one event per bucket that counted repeats. */
  async flush(): Promise<void> {
    const closed = this.buckets;
    this.buckets = new Map();
    for (const b of closed.values()) {
      if (b.count === 0) continue;
      // The route's names, not the first request's path, query or body digest: those varied.
      const { method, route, status, overflow } = b.first.details ?? {};
      await this.audit.recordQuietly({
        ...b.first,
        requestId: null,
        details: {
          method,
          route,
          status,
          overflow,
          repeats: b.count,
          firstAt: b.firstAt,
          lastAt: b.lastAt,
          lastRequestId: b.lastRequestId,
          windowSeconds: this.config.AUDIT_AGGREGATE_SECONDS,
        },
      });
    }
    if (closed.size >= MAX_BUCKETS)
      this.logger.warn(`more than ${MAX_BUCKETS} clients refused in one window; the rest were counted together`);
  }
}
