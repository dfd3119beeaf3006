import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import type { AlertEntity } from './alert.entity';
import { AlertInput, AlertStore, Announcement } from './alert-store';
import { NotificationEvent, WebhookCounters, WebhookNotifier } from './webhook-notifier';

export type { NotificationEvent, NotificationEventType, NotificationSeverity } from './webhook-notifier';

const TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 5;
const BASE_DELAY_MS = 1000;
/**
 * A condition re-reported with the same message within this long does not touch its row:
 * /api/status re-checks its conditions on every request, and monitors poll it.
 */
const TOUCH_EVERY_MS = 60_000;

export type NotifyInput = Omit<NotificationEvent, 'at' | 'alert'> & { at?: Date };
/** A condition that is wrong now: an alert to keep open under its key. */
export type AlertCondition = Omit<NotificationEvent, 'at' | 'alert' | 'key' | 'details'> & {
  key: string;
  details?: Record<string, unknown>;
};

/**
 * The one place the service tells people (webhooks) that something happened or is wrong.
 * notify() never blocks and never throws. An event without a key is a plain notification,
 * sent once. An event with a key is an alert: stored in the catalog (strongroom_alerts),
 * announced when it opens, and then only updated while it stays open (a reminder after
 * ALERT_RENOTIFY_HOURS), until resolve(key) closes it with one "alert.recovered"
 * notification. State lives in the database, so a restart neither repeats nor forgets an
 * open alert, and instances sharing the catalog raise each key once.
 */
@Injectable()
export class NotificationsService {
  private readonly notifier: WebhookNotifier;
  private readonly logger = new Logger('Notifications');
  private readonly pending = new Set<Promise<unknown>>();
  private readonly renotifyMs: number | null;

  constructor(
    config: AppConfig,
    private readonly store: AlertStore,
  ) {
    this.notifier = new WebhookNotifier({
      urls: config.NOTIFY_WEBHOOK_URLS,
      format: config.NOTIFY_WEBHOOK_FORMAT as 'json' | 'slack',
      timeoutMs: TIMEOUT_MS,
      maxAttempts: MAX_ATTEMPTS,
      baseDelayMs: BASE_DELAY_MS,
      logger: { warn: (m) => this.logger.warn(m), error: (m) => this.logger.error(m) },
    });
    this.renotifyMs = config.ALERT_RENOTIFY_HOURS > 0 ? config.ALERT_RENOTIFY_HOURS * 3_600_000 : null;
  }

  /** Returns at once. With `key`, the event is an alert (see the class comment). */
  notify(event: NotifyInput): void {
    if (event.key) {
      this.track(this.raise({ ...event, key: event.key }));
      return;
    }
    this.notifier.notify({ ...event, at: event.at ?? new Date() });
  }

  /**
   * Raises the alert `event.key` and resolves once it is stored and, if it opened now (or is
   * due a reminder), its webhook is queued; what was announced. Never throws: when the catalog
   * cannot store it, the webhook is sent anyway (a repeat beats silence).
   */
  async raise(event: AlertCondition & { at?: Date }): Promise<Announcement> {
    const at = event.at ?? new Date();
    const input: AlertInput = {
      key: event.key,
      type: event.type,
      severity: event.severity,
      message: event.message,
      details: event.details ?? {},
    };
    try {
      const { row, announce } = await this.store.raise(input, new Date(), this.renotifyMs);
      if (announce)
        this.notifier.notify({
          ...input,
          type: event.type,
          severity: event.severity,
          at,
          alert: {
            key: row.key,
            state: 'open',
            firstSeenAt: row.createdAt,
            occurrences: row.occurrences,
            ...(announce === 'reminder' ? { reminder: true } : {}),
          },
        });
      return announce;
    } catch (e) {
      this.logger.error(`alert ${event.key} could not be stored, sent without de-duplication: ${errorText(e)}`);
      this.notifier.notify({ ...input, type: event.type, severity: event.severity, at });
      return 'new';
    }
  }

  /**
   * Resolves the open alert `key` (nothing happens when none is open) and sends one
   * "alert.recovered" notification; true when this call resolved it. Never throws.
   */
  async resolve(key: string, resolution: string): Promise<boolean> {
    let row: AlertEntity | null;
    try {
      row = await this.store.resolve(key, resolution, new Date());
    } catch (e) {
      this.logger.error(`alert ${key} could not be resolved: ${errorText(e)}`);
      return false;
    }
    if (!row) return false;
    this.notifier.notify({
      type: 'alert.recovered',
      severity: 'info',
      message: `Recovered: ${resolution}`,
      details: {
        alertType: row.type,
        alertSeverity: row.severity,
        alertMessage: row.message,
        firstSeenAt: row.createdAt,
        lastSeenAt: row.lastSeenAt,
        occurrences: row.occurrences,
      },
      at: new Date(row.resolvedAt!),
      alert: { key, state: 'resolved', firstSeenAt: row.createdAt, occurrences: row.occurrences },
    });
    return true;
  }

  /**
   * Makes the open alerts of one owner match its conditions now: each condition raised (a
   * repeat with the same message touches its row at most once a minute), and each open alert
   * the owner `owns` but no longer reports resolved, with `resolution(alert)` as the reason.
   * Answers the open alerts afterwards.
   */
  async sync(
    conditions: AlertCondition[],
    owns: (key: string) => boolean,
    resolution: (alert: AlertEntity) => string,
  ): Promise<AlertEntity[]> {
    const now = Date.now();
    const open = new Map((await this.store.open()).map((a) => [a.key, a]));
    const wanted = new Set(conditions.map((c) => c.key));
    let changed = false;
    for (const c of conditions) {
      const row = open.get(c.key);
      const fresh = row && row.message === c.message && now - Date.parse(row.lastSeenAt) < TOUCH_EVERY_MS;
      const reminderDue = row && this.renotifyMs !== null && now - Date.parse(row.notifiedAt) >= this.renotifyMs;
      if (fresh && !reminderDue) continue;
      await this.raise(c);
      changed = true;
    }
    for (const a of open.values()) {
      if (!owns(a.key) || wanted.has(a.key)) continue;
      await this.resolve(a.key, resolution(a));
      changed = true;
    }
    return changed ? this.store.open() : [...open.values()];
  }

  /** The alerts open now, newest first. */
  openAlerts(): Promise<AlertEntity[]> {
    return this.store.open();
  }

  /** Resolves once every alert write and delivery started so far has finished. */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    await this.notifier.drain();
  }

  get counters(): WebhookCounters {
    return this.notifier.counters;
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.catch((e: unknown) => this.logger.error(`alert failed: ${errorText(e)}`));
    this.pending.add(tracked);
    void tracked.finally(() => this.pending.delete(tracked));
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
