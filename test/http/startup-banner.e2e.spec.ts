/** The real server process prints where it listens and a generated key once, on stderr, apart from the JSON logs. */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../support/databases';
import { builtPath } from '../support/transpile';

interface Server {
  child: ChildProcess;
  stdout: () => string;
  banner: string;
}

function start(dir: string): Promise<Server> {
  const child = spawn(process.execPath, [builtPath('src/main.ts')], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '',
      NODE_ENV: 'production',
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: `sqlite:${join(dir, 'strongroom.db')}`,
      BACKUP_DIR: join(dir, 'backups'),
      SCHEDULER_ENABLED: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (b: Buffer) => {
      stderr += b.toString('utf8');
      // The banner is written in one piece and ends with a blank line.
      if (/listening on[\s\S]*\n\n/.test(stderr)) resolve({ child, stdout: () => stdout, banner: stderr });
    });
    child.on('close', (code) => reject(new Error(`server exited (${code}) before its banner: ${stderr}`)));
  });
}

async function stop(s: Server): Promise<void> {
  if (s.child.exitCode !== null || s.child.signalCode !== null) return;
  const closed = new Promise((r) => s.child.on('close', r));
  s.child.kill('SIGTERM');
  await closed;
}

describe('start-up banner of the server process', () => {
  const dir = tempDir('strongroom-banner-');
  const running: Server[] = [];
  afterAll(async () => {
    await Promise.all(running.map(stop));
    dir.remove();
  });

  it('names the address, the docs and a generated key once, and keeps the key out of the JSON logs', async () => {
    const first = await start(dir.path);
    running.push(first);
    const listen = /listening on 127\.0\.0\.1:(\d+)/.exec(first.banner);
    expect(listen).not.toBeNull();
    const base = `http://127.0.0.1:${listen?.[1]}`;
    expect(first.banner).toContain(`${base}/docs`);
    const key = /Admin key:\s+(sr_\S+)/.exec(first.banner)?.[1];
    expect(key).toBeDefined();

    const keys = await fetch(`${base}/api/keys`, { headers: { Authorization: `Bearer ${key}` } });
    expect(keys.status).toBe(200);
    expect((await fetch(`${base}/docs`)).status).toBe(200);
    // The logs on stdout stay JSON, and never carry the key.
    const lines = first.stdout().trim().split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(first.stdout()).not.toContain(key);
    await stop(first);

    // Second start on the same database: an admin exists, so no key is generated or shown.
    const second = await start(dir.path);
    running.push(second);
    expect(second.banner).toMatch(/listening on 127\.0\.0\.1:\d+/);
    expect(second.banner).not.toMatch(/sr_/);
    await stop(second);
  });
});
