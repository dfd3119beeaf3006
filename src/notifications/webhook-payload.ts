/** What a notification says, and how it is rendered for plain JSON receivers and for Slack. */

export type NotificationEventType =
  | 'backup.failed'
  | 'verify.failed'
  | 'recovery.completed'
  | 'recovery.failed'
  | 'retention.deleted'
  | 'status.unhealthy'
  | 'retention.confirmation-required'
  | 'maintenance.started'
  | 'maintenance.ended'
  | 'verify.corrupt'
  | 'drill.failed'
  | 'drill.rto-regressed'
  // Alerts (keyed): a schedule past its deadline, offsite copies lagging, a primary copy
  // missing or corrupt, and the one notification that says an alert was resolved.
  | 'schedule.missed'
  | 'offsite.lagging'
  | 'backup.copy-unsound'
  | 'alert.recovered';

export type NotificationSeverity = 'info' | 'warning' | 'error' | 'critical';

export interface NotificationEvent {
  type: NotificationEventType;
  severity: NotificationSeverity;
  message: string;
  details?: Record<string, unknown>;
  at: Date;
  /**
   * An event with a key is an alert: persisted and de-duplicated by that key (one open alert
   * per key; raising it again only updates it) until resolve(key) closes it.
   */
  key?: string;
  /** Set by NotificationsService on alerts: where the alert stands, for receivers that track them. */
  alert?: AlertInfo;
}

export interface AlertInfo {
  key: string;
  state: 'open' | 'resolved';
  /** When this episode of the alert was first raised. */
  firstSeenAt: string;
  occurrences: number;
  /** True when this is a reminder of an alert still open (ALERT_RENOTIFY_HOURS). */
  reminder?: boolean;
}

export type WebhookFormat = 'json' | 'slack';

export interface JsonWebhookPayload {
  id: string;
  source: 'strongroom';
  type: NotificationEventType;
  severity: NotificationSeverity;
  message: string;
  details: Record<string, unknown>;
  at: string;
  /** Only on alerts (keyed events). */
  alert?: AlertInfo;
}

const REDACTED = '[redacted]';
// Details come from callers all over the service; a webhook leaves the trust boundary, so
// anything that looks like a credential is removed here as a last line of defence.
const SECRET_KEY =
  /pass(word|phrase)?|secret|token|authorization|credential|api[-_]?key|private[-_]?key|cookie|confirm/i;
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi;
const MAX_DEPTH = 6;
const SLACK_TEXT_LIMIT = 2900;
const SLACK_FIELD_LIMIT = 1900;
const SLACK_MAX_FIELDS = 10;
const SEVERITY_EMOJI: Record<NotificationSeverity, string> = {
  info: ':information_source:',
  warning: ':warning:',
  error: ':x:',
  critical: ':rotating_light:',
};

export function buildPayload(event: NotificationEvent, id: string, format: WebhookFormat): string {
  const json: JsonWebhookPayload = {
    id,
    source: 'strongroom',
    type: event.type,
    severity: event.severity,
    message: redactString(String(event.message)),
    details: redactDetails(event.details ?? {}),
    at: validDate(event.at).toISOString(),
    ...(event.alert ? { alert: event.alert } : {}),
  };
  return JSON.stringify(format === 'slack' ? toSlack(json) : json);
}

/** Copies `details` with secret-looking keys and URL credentials replaced; survives cycles. */
function redactDetails(details: Record<string, unknown>): Record<string, unknown> {
  return redactValue(details, 0, new WeakSet()) as Record<string, unknown>;
}

function redactValue(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Error || Object.prototype.toString.call(value) === '[object Error]') {
    return redactString(String((value as Error).message));
  }
  if (value === null || typeof value !== 'object') return typeof value === 'function' ? undefined : value;
  if (seen.has(value)) return '[circular]';
  if (depth >= MAX_DEPTH) return '[truncated]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) {
    out[key] = SECRET_KEY.test(key) ? REDACTED : redactValue(v, depth + 1, seen);
  }
  return out;
}

function redactString(value: string): string {
  return value.replace(URL_USERINFO, `$1${REDACTED}@`);
}

function toSlack(p: JsonWebhookPayload): { text: string; blocks: unknown[] } {
  const headline = `${SEVERITY_EMOJI[p.severity]} [${p.severity.toUpperCase()}] ${p.type}: ${p.message}`;
  const blocks: unknown[] = [
    {
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: truncate(`*${escapeSlack(p.type)}* (${p.severity})\n${escapeSlack(p.message)}`, SLACK_TEXT_LIMIT),
      },
    },
  ];
  const fields = Object.entries(p.details)
    .slice(0, SLACK_MAX_FIELDS)
    .map(([key, value]) => ({
      type: 'mrkdwn',
      text: truncate(
        `*${escapeSlack(key)}*\n${escapeSlack(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''))}`,
        SLACK_FIELD_LIMIT,
      ),
    }));
  if (fields.length > 0) blocks.push({ type: 'section', fields });
  blocks.push({
    type: 'context',
    elements: [
      {
        type: 'mrkdwn',
        text: `Strongroom · ${p.at} · event ${p.id}${p.alert ? ` · alert ${p.alert.key} (${p.alert.state})` : ''}`,
      },
    ],
  });
  // `text` is what notifications and clients without block support show.
  return { text: truncate(headline, SLACK_TEXT_LIMIT), blocks };
}

/** Slack treats &, < and > as control characters in mrkdwn. */
function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function truncate(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

function validDate(at: Date): Date {
  return at instanceof Date && !Number.isNaN(at.getTime()) ? at : new Date();
}
