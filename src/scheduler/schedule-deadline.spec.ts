import { scheduleDeadline } from './schedule-deadline';

describe('scheduleDeadline', () => {
  it('is the next fire time after the last success plus the grace', () => {
    const since = new Date('2026-11-20T02:05:00Z');
    expect(scheduleDeadline('0 2 * * *', 'UTC', since, 60).toISOString()).toBe('2026-11-21T03:00:00.000Z');
  });

  it('reads the cron in the schedule time zone, across a DST change', () => {
    // Berlin leaves summer time on 2026-10-25: 02:00 local was 00:00Z that day, 01:00Z the next.
    const since = new Date('2026-10-25T00:05:00Z');
    expect(scheduleDeadline('0 2 * * *', 'Europe/Berlin', since, 30).toISOString()).toBe('2026-10-26T01:30:00.000Z');
  });
});
