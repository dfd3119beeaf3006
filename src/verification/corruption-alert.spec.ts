import type { NotificationsService } from '../notifications/notifications.service';
import { alertCorrupt, corruptKey, failedChecks, failedParts } from './corruption-alert';

const checks = [
  { name: 'manifest', ok: true, detail: 'checksum abc' },
  { name: 'part 0001.rows', ok: false, detail: '0001.rows: SHA-256 differs from the manifest' },
  { name: 'part 0002.rows', ok: true },
  { name: 'part files.tar', ok: false },
];

describe('corruption alerts', () => {
  it('names the failed checks and the parts they are about', () => {
    expect(failedChecks(checks)).toEqual([
      'part 0001.rows: 0001.rows: SHA-256 differs from the manifest',
      'part files.tar: failed',
    ]);
    expect(failedParts(checks)).toEqual(['0001.rows', 'files.tar']);
    expect(failedParts([{ name: 'manifest', ok: false, detail: 'missing' }])).toEqual(['manifest']);
    expect(failedParts([{ name: 'verify', ok: false, detail: 'storage unreachable' }])).toEqual([]);
  });

  it('raises one keyed alert per backup and copy, naming backup, copy and parts', () => {
    const sent: unknown[] = [];
    const notifications = { notify: (e: unknown) => sent.push(e) } as unknown as NotificationsService;
    alertCorrupt(notifications, 'b-1', 'offsite', failedChecks(checks), failedParts(checks), 'rolling verification');
    expect(sent).toEqual([
      expect.objectContaining({
        type: 'verify.corrupt',
        severity: 'critical',
        key: 'backup:b-1:corrupt:offsite',
        details: expect.objectContaining({ backupId: 'b-1', copy: 'offsite', parts: ['0001.rows', 'files.tar'] }),
      }),
    ]);
    expect((sent[0] as { message: string }).message).toMatch(
      /^Backup b-1: its offsite copy failed rolling verification \(parts 0001\.rows, files\.tar\): /,
    );
    expect(corruptKey('b-1', 'primary')).toBe('backup:b-1:corrupt:primary');
  });
});
