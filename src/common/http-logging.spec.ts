import express from 'express';
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import request from 'supertest';
import type { AppConfig } from '../config/app-config';
import { HttpLogging } from './http-logging';

/** The request logger on a bare Express app, its lines read from the destination. */
function appWith(level: string) {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as never);
      done();
    },
  });
  const logging = new HttpLogging({ LOG_LEVEL: level } as AppConfig, destination as never);
  const childSpy = jest.spyOn(logging.logger, 'child');
  const app = express();
  app.use(logging.middleware);
  app.get('/quiet', (_req, res) => void res.json({ ok: true }));
  app.get('/warns', (req, res) => {
    (req as unknown as { log: Logger }).log.warn('something to say');
    res.json({ ok: true });
  });
  return { app, lines, childSpy };
}

describe('request logging below info', () => {
  it('makes no per-request logger for a request that logs nothing, and writes no line', async () => {
    const { app, lines, childSpy } = appWith('warn');
    await request(app).get('/quiet').set('X-Request-Id', 'req-quiet-1').expect(200);
    expect(childSpy).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });

  it('a line logged during the request carries the request (its id, secrets redacted) as at info', async () => {
    const { app, lines, childSpy } = appWith('warn');
    await request(app)
      .get('/warns?api_key=sr_secret_in_query')
      .set('X-Request-Id', 'req-warns-1')
      .set('X-API-Key', 'sr_secret_in_header')
      .expect(200);
    expect(childSpy).toHaveBeenCalledTimes(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ msg: 'something to say', req: { id: 'req-warns-1' } });
    expect(JSON.stringify(lines[0])).not.toMatch(/sr_secret/);
  });

  it('at info, every request is logged with its id (pino-http as it is)', async () => {
    const { app, lines } = appWith('info');
    await request(app).get('/quiet').set('X-Request-Id', 'req-info-1').expect(200);
    expect(lines).toEqual([expect.objectContaining({ req: expect.objectContaining({ id: 'req-info-1' }) })]);
  });
});
