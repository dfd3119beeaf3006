/**
 * A second Strongroom instance as its own process (the real server entry point), for tests
 * of several instances on one catalog: two processes, as in production, also on SQLite
 * (whose locks would stall one event loop shared by two instances).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { builtPath, ROOT } from './transpile';

export interface ServerChild {
  url: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts `src/main.ts` (transpiled) with `env` and resolves once it listens and answers /health.
 * A port taken by another process between freePort and the child's listen is tried again on a new one.
 */
export async function startServerChild(env: Record<string, string>): Promise<ServerChild> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(env);
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startOnce(env: Record<string, string>): Promise<ServerChild> {
  const port = await freePort();
  const child = spawn(process.execPath, [builtPath('src/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: 'silent',
      SCHEDULER_ENABLED: 'false',
      DEFAULT_SCHEDULE_ENABLED: 'false',
      THROTTLE_LIMIT: '100000',
      THROTTLE_EXPENSIVE_LIMIT: '100000',
      ...env,
      HOST: '127.0.0.1',
      PORT: String(port),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  let stopping = false;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      // A child that fails on its own (not stopped, not killed by a signal) says why in CI's log:
      // its LOG_LEVEL is silent, so stderr holds its banner and what crashed it.
      if (!stopping && signal === null && code !== 0) {
        process.stderr.write(`server child on port ${port} exited by itself (${signal ?? code}):\n${stderr}\n`);
      }
      resolve();
    }),
  );
  const url = `http://127.0.0.1:${port}`;
  // Up means: this child printed its banner for this port (so it, not some other process that
  // took the port after freePort let go of it, is the one listening), and /health answers.
  const banner = `is listening on 127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server child exited (${child.exitCode}): ${stderr}`);
    const up = await (stderr.includes(banner) ? fetch(`${url}/health`) : Promise.reject(new Error('not yet'))).then(
      (r) => r.status > 0,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    async stop() {
      stopping = true;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
