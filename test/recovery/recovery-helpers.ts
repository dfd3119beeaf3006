import request from 'supertest';
import { RecoveriesService } from '../../src/recovery/recoveries.service';
import { jobWaiter } from '../support/backup-helpers';
import type { TestApp } from '../support/test-app';

export type Body = Record<string, unknown>;

/** Polls a recovery until it leaves pending/running (woken up at once when this app's job ends). */
export async function waitForRecovery(t: TestApp, id: string, timeoutMs = 120_000): Promise<Body> {
  const start = Date.now();
  const next = jobWaiter(t.app.get(RecoveriesService).waitFor(id));
  for (;;) {
    const res = await request(t.http).get(`/api/recoveries/${id}`).set('X-API-Key', t.adminKey);
    if (res.status !== 200) throw new Error(`GET recovery ${id} -> ${res.status}`);
    if (!['pending', 'running'].includes(res.body.status)) return res.body;
    if (Date.now() - start > timeoutMs) throw new Error(`recovery ${id} still ${res.body.status}`);
    await next();
  }
}

/** Starts a recovery as admin (confirm phrase filled in unless given) and waits for its end. */
export async function recover(t: TestApp, body: Body): Promise<Body> {
  const res = await request(t.http)
    .post('/api/recoveries')
    .set('X-API-Key', t.adminKey)
    .send({ confirm: `RESTORE ${body.backupId as string}`, ...body });
  if (res.status !== 202) throw new Error(`POST /api/recoveries -> ${res.status} ${JSON.stringify(res.body)}`);
  return waitForRecovery(t, res.body.id);
}

export async function auditActions(t: TestApp, resourceId: string): Promise<string[]> {
  const res = await request(t.http)
    .get('/api/audit')
    .query({ resourceId, limit: 200 })
    .set('X-API-Key', t.adminKey)
    .expect(200);
  return (res.body.items as { action: string }[]).map((e) => e.action).reverse();
}
