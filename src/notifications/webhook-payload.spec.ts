import { buildPayload, NotificationEvent } from './webhook-payload';

const ALERT: NotificationEvent = {
  type: 'offsite.lagging',
  severity: 'error',
  message: 'offsite copy lags more than OFFSITE_MAX_LAG_HOURS (24h)',
  details: { lagSeconds: 90_000 },
  at: new Date('2026-11-30T02:00:00.000Z'),
  key: 'offsite:lag',
  alert: { key: 'offsite:lag', state: 'open', firstSeenAt: '2026-11-30T01:00:00.000Z', occurrences: 3 },
};

describe('webhook payload of an alert', () => {
  it('carries where the alert stands, and no key field of its own', () => {
    const body = JSON.parse(buildPayload(ALERT, 'id-1', 'json'));
    expect(body.alert).toEqual({
      key: 'offsite:lag',
      state: 'open',
      firstSeenAt: '2026-11-30T01:00:00.000Z',
      occurrences: 3,
    });
    expect(Object.keys(body).sort()).toEqual(['alert', 'at', 'details', 'id', 'message', 'severity', 'source', 'type']);
  });

  it('leaves a plain notification exactly as before (no alert field)', () => {
    const { key: _key, alert: _alert, ...plain } = ALERT;
    expect(JSON.parse(buildPayload(plain, 'id-2', 'json'))).not.toHaveProperty('alert');
  });

  it('names the key and its state in the Slack footer', () => {
    const body = JSON.parse(buildPayload({ ...ALERT, alert: { ...ALERT.alert!, state: 'resolved' } }, 'id-3', 'slack'));
    expect(body.blocks[body.blocks.length - 1].elements[0].text).toContain('alert offsite:lag (resolved)');
  });
});
