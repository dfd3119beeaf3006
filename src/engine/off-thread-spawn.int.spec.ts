import { execFileSync } from 'node:child_process';
import { builtPath, ROOT } from '../../test/support/transpile';

/**
 * warmOffThreadSpawn in a fresh process (a backup's CLI run is one): the launcher thread starts
 * early, runs the programs asked of it, and never keeps the process alive on its own.
 */
describe('warming the process launcher thread', () => {
  const launcher = JSON.stringify(builtPath('src/engine/off-thread-spawn.ts'));
  // A process that does not exit on its own fails here instead of hanging the suite.
  const run = (script: string) =>
    execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });

  it('lets a process that only warmed it exit by itself', () => {
    const out = run(`
      const { warmOffThreadSpawn } = require(${launcher});
      warmOffThreadSpawn();
      warmOffThreadSpawn();
      process.on('exit', () => console.log('exited'));`);
    expect(out.trim()).toBe('exited');
  });

  it('runs a program asked for after the warm, then lets the process exit', () => {
    const out = run(`
      const { spawnOffThread, warmOffThreadSpawn } = require(${launcher});
      warmOffThreadSpawn();
      setTimeout(() => spawnOffThread('/bin/echo', ['ran'], {}).then((r) => console.log(r.stdout.toString().trim())), 50);`);
    expect(out.trim()).toBe('ran');
  });
});
