import request from 'supertest';
import { BackupsService } from '../../src/backup/backups.service';
import type { TestApp } from './test-app';

/**
 * Until `local` resolves (the job ended in this process), or `slowMs` at most; once it has
 * resolved (or for a job this process does not run), `fastMs`. Tests wake up when the job ends
 * instead of polling the API every few milliseconds for its whole run.
 */
export function jobWaiter(local: Promise<void>, slowMs = 1000, fastMs = 50): () => Promise<void> {
  let pending = true;
  const settled = local.then(
    () => void (pending = false),
    () => void (pending = false),
  );
  return () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, pending ? slowMs : fastMs);
      // No timer left running once the job ended (it would keep the jest worker alive).
      if (pending)
        void settled.then(() => {
          clearTimeout(timer);
          resolve();
        });
    });
}

/** Polls a backup until it leaves pending/running (woken up at once when this app's job ends). */
export async function waitForBackup(t: TestApp, id: string, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  const start = Date.now();
  const next = jobWaiter(t.app.get(BackupsService).waitFor(id));
  for (;;) {
    const res = await request(t.http).get(`/api/backups/${id}`).set('X-API-Key', t.adminKey);
    if (res.status !== 200) throw new Error(`GET backup ${id} -> ${res.status}`);
    if (!['pending', 'running'].includes(res.body.status as string)) return res.body;
    if (Date.now() - start > timeoutMs) throw new Error(`backup ${id} still ${res.body.status}`);
    await next();
  }
}

export async function createBackup(t: TestApp, body: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  const res = await request(t.http).post('/api/backups').set('X-API-Key', t.keys.operator).send(body);
  if (res.status !== 202) throw new Error(`POST /api/backups -> ${res.status} ${JSON.stringify(res.body)}`);
  return waitForBackup(t, res.body.id);
}
