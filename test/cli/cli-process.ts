/** Runs the real command line (src/cli.ts, transpiled once by the global setup) as a child process, as an operator would. */
import { ChildProcess, spawn } from 'node:child_process';
import { builtPath, ROOT } from '../support/transpile';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function spawnCli(
  args: string[],
  env: Record<string, string>,
): { child: ChildProcess; result: Promise<CliResult>; stderrSeen(pattern: RegExp): Promise<void> } {
  const child = spawn(process.execPath, [builtPath('src/cli.ts'), ...args], {
    cwd: ROOT,
    // Only what the test gives, so no developer .env or shell variable leaks in.
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', LOG_LEVEL: 'silent', SCHEDULER_ENABLED: 'false', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const waiters: { pattern: RegExp; resolve(): void }[] = [];
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString('utf8')));
  child.stderr?.on('data', (b: Buffer) => {
    stderr += b.toString('utf8');
    for (const w of [...waiters]) {
      if (w.pattern.test(stderr)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const result = new Promise<CliResult>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return {
    child,
    result,
    stderrSeen: (pattern) =>
      new Promise<void>((resolve, reject) => {
        if (pattern.test(stderr)) return resolve();
        waiters.push({ pattern, resolve });
        void result.then(() => reject(new Error(`CLI ended before printing ${pattern}: ${stderr}`)));
      }),
  };
}

export function runCli(args: string[], env: Record<string, string>): Promise<CliResult> {
  return spawnCli(args, env).result;
}
