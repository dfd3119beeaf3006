/**
 * Request logs, read from the logger's own output: one request id per request, the same in
 * the log line, the X-Request-Id header and the audit trail (also for a body refused before
 * any route), and no secret in any line, query strings included.
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Writable } from 'node:stream';
import request from 'supertest';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { AuditService } from '../../src/audit/audit.service';
import { LOG_DESTINATION } from '../../src/common/http-logging';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { createTestDatabase, TestDatabase, tempDir } from '../support/databases';
import { eventually } from '../support/test-app';

interface LogLine {
  msg?: string;
  req?: { id?: string; url?: string; headers?: Record<string, string>; query?: Record<string, unknown> };
  res?: { statusCode?: number; headers?: Record<string, string> };
}

describe('request logs', () => {
  const lines: string[] = [];
  const adminKey = `test-admin-${'k'.repeat(32)}`;
  let app: INestApplication;
  let db: TestDatabase;
  let dir: { path: string; remove(): void };

  beforeAll(async () => {
    db = await createTestDatabase('sqlite');
    dir = tempDir('strongroom-logs-');
    const config = loadConfig({
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: db.url,
      ADMIN_API_KEY: adminKey,
      BACKUP_DIR: `${dir.path}/backups`,
      SCHEDULER_ENABLED: 'false',
      THROTTLE_LIMIT: '100000',
    });
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        done();
      },
    });
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(AppConfig)
      .useValue(config)
      .overrideProvider(LOG_DESTINATION)
      .useValue(destination)
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    configureApp(app);
    await app.init();
  });
  afterAll(async () => {
    await app.close();
    await db.drop();
    dir.remove();
  });

  const logOf = (requestId: string) =>
    eventually(
      async () => lines.map((l) => JSON.parse(l) as LogLine).filter((l) => l.req?.id === requestId && l.res),
      (found) => found.length > 0,
    );
  const auditOf = (requestId: string) =>
    eventually(
      async () => (await app.get(AuditService).list({}, 200)).items.filter((e) => e.requestId === requestId),
      (found) => found.length > 0,
    );

  it('redacts keys in headers and secret-looking query parameters', async () => {
    const secrets = ['sr_query_key_value_1', 'sr_api_key_value_2', 'tok_value_3', 'RESTORE-phrase-4', 'pw_value_5'];
    await request(app.getHttpServer())
      .get(
        `/api/audit?key=${secrets[0]}&api_key=${secrets[1]}&Token=${secrets[2]}&confirm=${secrets[3]}&pass%77ord=${secrets[4]}&limit=1`,
      )
      .set('X-API-Key', adminKey)
      .set('X-Request-Id', 'log-redact-1');
    const [line] = await logOf('log-redact-1');
    expect(line.req?.url).toBe(
      '/api/audit?key=[REDACTED]&api_key=[REDACTED]&Token=[REDACTED]&confirm=[REDACTED]&pass%77ord=[REDACTED]&limit=1',
    );
    expect(line.req?.headers?.['x-api-key']).toBe('[REDACTED]');
    const all = lines.join('\n');
    for (const s of [...secrets, adminKey]) expect(all).not.toContain(s);
  });

  it('logs under the one id that the response header and the audit event carry', async () => {
    const res = await request(app.getHttpServer())
      .post('/api/keys')
      .set('Authorization', `Bearer ${adminKey}`)
      .send({ name: 'logged', role: 'auditor' })
      .expect(201);
    const id = res.headers['x-request-id'] as string;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const [line] = await logOf(id);
    expect(line.res?.statusCode).toBe(201);
    expect(line.req?.headers?.authorization).toBe('[REDACTED]');
    const [event] = await auditOf(id);
    expect(event).toMatchObject({ action: 'api-key.create', outcome: 'success', requestId: id });
    expect(lines.join('\n')).not.toContain(res.body.key);
    expect(lines.some((l) => /"id":"none"/.test(l))).toBe(false);
  });

  it('logs and audits a request whose body was refused before any route, under the same id', async () => {
    const res = await request(app.getHttpServer())
      .post('/api/keys')
      .set('Authorization', `Bearer ${adminKey}`)
      .set('Content-Type', 'application/json')
      .send(`{"name":${'['.repeat(100)}${']'.repeat(100)}}`)
      .expect(400);
    const id = res.headers['x-request-id'] as string;
    const [line] = await logOf(id);
    expect(line.res?.statusCode).toBe(400);
    const [event] = await auditOf(id);
    expect(event).toMatchObject({ outcome: 'failure', details: { status: 400, path: '/api/keys' } });
  });
});
