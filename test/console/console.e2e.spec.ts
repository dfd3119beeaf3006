/**
 * The operator console in a real browser (Debian chromium via playwright-core) against the
 * real service, on SQLite and PostgreSQL: sign-in per role, a backup watched to completion,
 * deep verification, a planned restore with its typed phrase and its rollback, a schedule
 * edit, the audit chain, the error paths (wrong key, 403, 409 while a job runs), the CSP,
 * and an axe-core check of every page.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import request from 'supertest';
import { TargetDatabase } from '../../src/backup/target-database';
import { LeaseService } from '../../src/database/lease.service';
import { ENGINES } from '../support/databases';
import { execSql, seedSample } from '../support/sample-data';
import { createTestApp, type TestApp } from '../support/test-app';
import { ensureConsoleBuilt, launchChromium, screenshot, seriousA11yViolations } from './console-browser';

const KEYRING = `k1:${randomBytes(32).toString('base64')}`;

describe.each(ENGINES)('operator console on %s', (engine) => {
  let t: TestApp;
  let base: string;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const cspViolations: string[] = [];
  const a11y: Record<string, string[]> = {};

  beforeAll(async () => {
    ensureConsoleBuilt();
    t = await createTestApp(engine, { BACKUP_ENCRYPTION_KEYS: KEYRING });
    await seedSample(t.db, 200);
    await t.app.listen(0, '127.0.0.1');
    base = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}/console/`;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  async function signIn(key: string): Promise<void> {
    await page.goto(base);
    await page.evaluate('sessionStorage.clear()');
    await page.goto(base);
    await page.getByLabel('API key').fill(key);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  async function open(hash: string, heading: string): Promise<void> {
    await page.goto(`${base}#${hash}`);
    await page.getByRole('heading', { level: 1, name: heading }).waitFor();
  }
  async function checkA11y(name: string): Promise<void> {
    a11y[name] = await seriousA11yViolations(page);
    await screenshot(page, name);
  }
  const navLinks = async () =>
    (await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).sort();

  it('serves the console under a strict Content-Security-Policy, with nothing inline', async () => {
    const res = await request(t.http).get('/console/').expect(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    expect(res.headers['content-security-policy']).toContain("script-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('unsafe-inline');
    expect(res.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(res.text).not.toMatch(/<style|style="/);
    // First load: the page and every asset it references, gzip-compressed, within 200 KB.
    const assets = [...res.text.matchAll(/(?:src|href)="\/console\/([^"]+)"/g)].map((m) => m[1]);
    expect(assets.length).toBeGreaterThanOrEqual(2);
    let compressed = gzipSync(res.text).length;
    for (const a of assets) {
      const asset = await request(t.http)
        .get(`/console/${a}`)
        .buffer(true)
        .parse((r, cb) => {
          const chunks: Buffer[] = [];
          r.on('data', (c: Buffer) => chunks.push(c));
          r.on('end', () => cb(null, Buffer.concat(chunks)));
        });
      expect(asset.status).toBe(200);
      expect(asset.headers['content-security-policy']).toContain("default-src 'self'");
      compressed += gzipSync(asset.body as Buffer).length;
    }
    expect(compressed).toBeLessThanOrEqual(200 * 1024);
  });

  it('refuses a wrong key with the API’s message, and keeps no key anywhere but the tab session', async () => {
    await signIn('not-a-real-key-000000000000000');
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/401.*unknown or revoked API key/s);
    await checkA11y('sign-in');
    await signIn(t.keys.auditor);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    expect(await page.evaluate('localStorage.length')).toBe(0);
    expect(page.url()).not.toContain(t.keys.auditor);
    expect(await page.evaluate("sessionStorage.getItem('strongroom.apiKey')")).toBe(t.keys.auditor);
  });

  it('offers an auditor status, backups, schedules and audit, and no action', async () => {
    expect(await navLinks()).toEqual(['Audit', 'Backups', 'Dashboard', 'Schedules']);
    await open('/backups', 'Backups');
    expect(await page.getByRole('button', { name: 'Start backup' }).count()).toBe(0);
    await open('/keys', 'Not available');
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/may not open this page/);
  });

  it('lets an operator take a backup, watch it complete, deep-verify it and plan (not run) a restore', async () => {
    await signIn(t.keys.operator);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    expect(await navLinks()).toEqual(['Audit', 'Backups', 'Dashboard', 'Restore', 'Schedules']);
    await open('/backups', 'Backups');
    await page.getByLabel('Description').fill('from the console');
    await page.getByLabel('Tags (comma-separated)').fill('console, e2e');
    await page.getByRole('button', { name: 'Start backup' }).click();
    await page.getByRole('heading', { level: 1, name: /^Backup / }).waitFor();
    await page.locator('.badge-completed').first().waitFor();
    expect(await page.getByText('from the console').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Deep verify' }).click();
    const result = page.getByTestId('verify-result');
    await result.waitFor();
    expect(await result.textContent()).toMatch(/Sound/);
    expect(await page.getByRole('cell', { name: /✖/ }).count()).toBe(0);
    expect(
      await page
        .getByRole('row')
        .filter({ hasText: /deep|restore|scratch/i })
        .count(),
    ).toBeGreaterThan(0);
    await checkA11y('backup-detail');
    expect(await page.getByRole('button', { name: 'Download' }).count()).toBe(0);

    await page.getByRole('button', { name: 'Restore…' }).click();
    await page.getByRole('heading', { level: 1, name: 'Restore' }).waitFor();
    await page.getByRole('button', { name: 'Plan (dry run)' }).click();
    await page.getByTestId('plan').waitFor();
    await expect(page.getByText('needs an admin key').textContent()).resolves.toBeTruthy();
    expect(await page.getByRole('button', { name: 'Restore now' }).count()).toBe(0);
  });

  it('shows a 403 from the API when the key’s role no longer allows an action', async () => {
    await signIn(t.adminKey);
    await open('/backups', 'Backups');
    await page
      .getByRole('link', { name: /^[0-9a-f]{8}$/ })
      .first()
      .click();
    await page.getByRole('button', { name: 'Pin' }).waitFor();
    // The console offered Pin to the admin; the key in this tab is now an operator's.
    await page.evaluate(`sessionStorage.setItem('strongroom.apiKey', ${JSON.stringify(t.keys.operator)})`);
    await page.getByRole('button', { name: 'Pin' }).click();
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/403.*role may not do this/s);
    await page.evaluate(`sessionStorage.setItem('strongroom.apiKey', ${JSON.stringify(t.adminKey)})`);
  });

  it('shows a 409 while another job holds the database', async () => {
    const leases = t.app.get(LeaseService);
    const held = await leases.acquire(t.app.get(TargetDatabase).leaseName, 'other-host:1:console');
    expect(held).not.toBeNull();
    try {
      await open('/backups', 'Backups');
      await page.getByRole('button', { name: 'Start backup' }).click();
      await expect(page.getByRole('alert').first().textContent()).resolves.toMatch(/409.*another backup or restore/s);
    } finally {
      if (held) await leases.release(held);
    }
  });

  it('lets an admin restore from the plan after the typed phrase', async () => {
    await open('/backups', 'Backups');
    await checkA11y('backups');
    const link = page.getByRole('link', { name: /^[0-9a-f]{8}$/ }).first();
    await link.click();
    const backupId = (await page.locator('dd code').first().textContent())!;
    // Data changes after the backup: the plan shows what the restore puts back.
    await execSql(t.db, ['DELETE FROM tasks WHERE id <= 10']);
    await page.getByRole('button', { name: 'Restore…' }).click();
    await page.getByRole('heading', { level: 1, name: 'Restore' }).waitFor();
    await page.getByRole('button', { name: 'Plan (dry run)' }).click();
    const tasksRow = page
      .getByTestId('plan')
      .getByRole('row')
      .filter({ hasText: /^tasks/ });
    await tasksRow.waitFor();
    expect(await tasksRow.getByRole('cell').nth(1).textContent()).toBe('10');
    const restoreNow = page.getByRole('button', { name: 'Restore now' });
    expect(await restoreNow.isDisabled()).toBe(true);
    await page.getByLabel(/Type RESTORE/).fill(`RESTORE ${backupId.slice(0, 8)}`);
    expect(await restoreNow.isDisabled()).toBe(true);
    await page.getByLabel(/Type RESTORE/).fill(`RESTORE ${backupId}`);
    await checkA11y('restore-plan');
    await restoreNow.click();
    await page.getByRole('heading', { level: 1, name: /^Recovery / }).waitFor();
    await page.locator('.badge-completed').waitFor();
    expect(await page.getByText('Safety backup').count()).toBe(1);
    await checkA11y('recovery');
  });

  it('rolls that restore back after its own typed phrase', async () => {
    const recoveryId = page.url().split('/recoveries/')[1];
    expect(recoveryId).toMatch(/^[0-9a-f-]{36}$/);
    await page.getByRole('button', { name: 'Roll back…' }).click();
    await page.getByLabel(/Type ROLLBACK/).fill(`ROLLBACK ${recoveryId}`);
    await page.getByRole('button', { name: 'Roll back now' }).click();
    await page.getByRole('heading', { level: 1, name: /^Rollback / }).waitFor();
    await page.locator('.badge-completed').waitFor();
    const original = await request(t.http)
      .get(`/api/recoveries/${recoveryId}`)
      .set('X-API-Key', t.adminKey)
      .expect(200);
    expect(original.body.status).toBe('rolled_back');
  });

  it('edits a schedule and previews its cron in words and its next runs as it is typed', async () => {
    await request(t.http)
      .post('/api/schedules')
      .set('X-API-Key', t.adminKey)
      .send({ name: 'console-nightly', cron: '0 2 * * *', timezone: 'Europe/Paris', type: 'full', enabled: false })
      .expect(201);
    await open('/schedules', 'Schedules and retention');
    const card = page.getByRole('region', { name: 'console-nightly' });
    await expect(card.getByTestId('cron-preview').textContent()).resolves.toMatch(
      /At 02:00, every day \(Europe\/Paris\)/,
    );
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('region', { name: 'Edit console-nightly' });
    await form.getByLabel('Cron expression').fill('30 4 * * 1');
    await expect(form.getByTestId('cron-preview').textContent()).resolves.toMatch(/At 04:30, on Monday/);
    expect(await form.getByTestId('cron-preview').getByRole('listitem').count()).toBe(5);
    await checkA11y('schedules');
    await form.getByRole('button', { name: 'Save' }).click();
    // exact: the edit form's region ("Edit console-nightly") would match the name too, and show the new text before the save.
    await page
      .getByRole('region', { name: 'console-nightly', exact: true })
      .getByText(/At 04:30, on Monday/)
      .waitFor();
    const saved = await request(t.http).get('/api/schedules').set('X-API-Key', t.adminKey).expect(200);
    expect(saved.body.items.find((s: { name: string }) => s.name === 'console-nightly').cron).toBe('30 4 * * 1');
  });

  it('verifies the audit chain and lists the console’s own actions', async () => {
    await open('/audit', 'Audit trail');
    await page.getByRole('button', { name: 'Verify the chain' }).click();
    await expect(page.getByTestId('chain-result').textContent()).resolves.toMatch(/Chain intact/);
    await page.getByLabel('Action').fill('recovery.rollback');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('cell', { name: 'recovery.rollback' }).first().waitFor();
    await checkA11y('audit');
  });

  it('creates an API key showing its secret once, and revokes it', async () => {
    await open('/keys', 'API keys');
    await page.getByLabel('Name (who or what uses it)').fill('console-e2e');
    await page.getByRole('button', { name: 'Create key' }).click();
    const secret = await page.getByLabel('New API key').inputValue();
    const me = await request(t.http).get('/api/keys/me').set('X-API-Key', secret).expect(200);
    expect(me.body).toMatchObject({ name: 'console-e2e', role: 'operator' });
    await page.getByRole('button', { name: 'Done, I copied it' }).click();
    await checkA11y('keys');
    await page.getByRole('button', { name: 'Revoke console-e2e' }).click();
    await page.getByLabel(/Type REVOKE/).fill('REVOKE console-e2e');
    await page.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByRole('row').filter({ hasText: 'console-e2e' }).getByText('revoked').waitFor();
    await request(t.http).get('/api/keys/me').set('X-API-Key', secret).expect(401);
  });

  it('shows the dashboard healthy, with the chart, on a desktop and on a phone', async () => {
    await open('/', 'Dashboard');
    await page.getByTestId('health').waitFor();
    await page.locator('.chart canvas').waitFor();
    await checkA11y('dashboard');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.reload();
    await page.getByTestId('health').waitFor();
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await screenshot(page, 'dashboard-phone');
  });

  it('met no CSP violation and no serious or critical accessibility violation on any page', () => {
    expect(cspViolations).toEqual([]);
    expect(Object.keys(a11y).sort()).toEqual(
      [
        'audit',
        'backup-detail',
        'backups',
        'dashboard',
        'keys',
        'recovery',
        'restore-plan',
        'schedules',
        'sign-in',
      ].sort(),
    );
    expect(Object.entries(a11y).filter(([, v]) => v.length > 0)).toEqual([]);
  });
});
