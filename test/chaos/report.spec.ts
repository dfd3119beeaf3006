/** The campaign's report: a failed trial counts once however many checks it failed, and a cut-short family says so. */
import { detailSection, failedTrials, newResult, outOfTime, summaryTable } from './report';

describe('chaos campaign report', () => {
  it('counts failed trials once and lists each failed check with its count', () => {
    const r = newResult('Corrupted backups', 'sqlite');
    r.trials = 10;
    r.failures.push(
      { trial: '#1', check: 'verify detects it', detail: 'ok:true' },
      { trial: '#1', check: 'restore refuses it', detail: 'completed' },
      { trial: '#4', check: 'verify detects it', detail: 'ok:true' },
    );
    expect(failedTrials(r)).toBe(2);
    expect(summaryTable([r])).toContain(
      '| Corrupted backups | sqlite | 10 | 2 | verify detects it × 2; restore refuses it × 1 |',
    );
    expect(detailSection(r)).toContain('| #1 | restore refuses it | completed |');
  });

  it('keeps table cells on one line whatever a failure detail holds', () => {
    const r = newResult('Hostile requests', 'postgres');
    r.failures.push({ trial: 'a|b', check: 'no 5xx', detail: 'line1\nline2\u0000' });
    expect(detailSection(r)).toContain('| a\\|b | no 5xx | line1 line2  |');
  });

  it('stops a family when its time is up and reports how many of the planned trials ran', () => {
    const r = newResult('SIGKILL during backups', 'sqlite');
    expect(outOfTime(r, Date.now() + 60_000, 0, 50, 'backup kills')).toBe(false);
    expect(r.planned).toBe(0);
    r.trials = 7;
    expect(outOfTime(r, Date.now() - 1, 7, 50, 'backup kills')).toBe(true);
    expect(r.notes).toEqual(['Stopped after 7 of 50 planned backup kills: the time budget (--minutes) ran out.']);
    expect(summaryTable([r])).toContain('| 7 (of 50 planned) |');
  });
});
