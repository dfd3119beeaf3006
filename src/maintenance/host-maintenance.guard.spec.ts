import { ExecutionContext, HttpException } from '@nestjs/common';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HostMaintenanceGuard } from './host-maintenance.guard';

/** The host guard against a real HTTP server on loopback answering as GET /api/maintenance does. */
describe('HostMaintenanceGuard', () => {
  let server: http.Server;
  let url: string;
  let answer: { status: number; body: unknown };
  const seenKeys: (string | undefined)[] = [];
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      seenKeys.push(req.headers['x-api-key'] as string | undefined);
      res.writeHead(answer.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(answer.body));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/maintenance`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  function context(method: string): { ctx: ExecutionContext; headers: Record<string, string> } {
    const headers: Record<string, string> = {};
    const res = { setHeader: (k: string, v: string) => void (headers[k] = v) };
    const ctx = { switchToHttp: () => ({ getRequest: () => ({ method }), getResponse: () => res }) };
    return { ctx: ctx as unknown as ExecutionContext, headers };
  }

  it('answers 503 with Retry-After and the reason to unsafe methods while active, and lets reads through', async () => {
    answer = { status: 200, body: { active: true, reason: 'restore of backup x', by: 'restore', since: null } };
    const guard = new HostMaintenanceGuard({ url, apiKey: 'auditor-key', cacheMs: 0 });
    await expect(guard.canActivate(context('GET').ctx)).resolves.toBe(true);
    const post = context('POST');
    const refused = await guard.canActivate(post.ctx).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(HttpException);
    expect((refused as HttpException).getStatus()).toBe(503);
    expect((refused as HttpException).message).toContain('restore of backup x');
    expect(post.headers['Retry-After']).toBe('30');
    expect(seenKeys).toContain('auditor-key');

    answer = { status: 200, body: { active: false, reason: null, by: null, since: null } };
    await expect(guard.canActivate(context('DELETE').ctx)).resolves.toBe(true);
  });

  it('when Strongroom cannot be asked: lets writes through by default, refuses them with failClosed', async () => {
    answer = { status: 500, body: {} };
    await expect(new HostMaintenanceGuard({ url, cacheMs: 0 }).canActivate(context('PUT').ctx)).resolves.toBe(true);
    await expect(
      new HostMaintenanceGuard({ url, cacheMs: 0, failClosed: true }).canActivate(context('PUT').ctx),
    ).rejects.toThrow(/maintenance state unknown/);
  });
});
