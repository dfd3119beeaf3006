import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config';
import { NotificationEvent, WebhookCounters, WebhookNotifier } from './webhook-notifier';

export type { NotificationEvent, NotificationEventType, NotificationSeverity } from './webhook-notifier';

const TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 5;
const BASE_DELAY_MS = 1000;

/**
 * The one place the service raises alerts (backup or verification failed, restore finished
 * or failed, retention deleted backups, status turned unhealthy). notify() never blocks and
 * never throws: delivery runs in the background with retries.
 */
@Injectable()
export class NotificationsService {
  private readonly notifier: WebhookNotifier;
  private readonly logger = new Logger('Notifications');

  constructor(config: AppConfig) {
    this.notifier = new WebhookNotifier({
      urls: config.NOTIFY_WEBHOOK_URLS,
      format: config.NOTIFY_WEBHOOK_FORMAT as 'json' | 'slack',
      timeoutMs: TIMEOUT_MS,
      maxAttempts: MAX_ATTEMPTS,
      baseDelayMs: BASE_DELAY_MS,
      logger: { warn: (m) => this.logger.warn(m), error: (m) => this.logger.error(m) },
    });
  }

  notify(event: Omit<NotificationEvent, 'at'> & { at?: Date }): void {
    this.notifier.notify({ ...event, at: event.at ?? new Date() });
  }

  /** Resolves once every delivery started so far has succeeded or given up. */
  drain(): Promise<void> {
    return this.notifier.drain();
  }

  get counters(): WebhookCounters {
    return this.notifier.counters;
  }
}
