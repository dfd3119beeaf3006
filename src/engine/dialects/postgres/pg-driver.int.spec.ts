import { execFileSync } from 'node:child_process';
import { builtPath, ROOT } from '../../../../test/support/transpile';

/**
 * Runs in a fresh Node process: jest's own environment has long since loaded undici, so
 * only a clean process shows whether loading the driver pulls it in.
 */
function probe(script: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out) as Record<string, unknown>;
}

describe('pg-driver', () => {
  const driver = JSON.stringify(builtPath('src/engine/dialects/postgres/pg-driver.ts'));
  const undiciLoaded = "process.moduleLoadList.some((m) => m.includes('undici'))";

  it('loads pg without loading fetch (undici) and leaves no navigator behind', () => {
    const result = probe(`
      const { pg } = require(${driver});
      console.log(JSON.stringify({
        undici: ${undiciLoaded},
        navigator: typeof globalThis.navigator,
        client: typeof pg.Client,
      }));`);
    expect(result).toEqual({ undici: false, navigator: 'undefined', client: 'function' });
  });

  it('loading pg plainly does load undici (the cost the driver module avoids)', () => {
    const result = probe(`require('pg'); console.log(JSON.stringify({ undici: ${undiciLoaded} }));`);
    expect(result).toEqual({ undici: true });
  });

  it('leaves a navigator that was already there untouched', () => {
    const result = probe(`
      globalThis.navigator = { userAgent: 'custom' };
      const { pg } = require(${driver});
      console.log(JSON.stringify({ agent: globalThis.navigator.userAgent, client: typeof pg.Client }));`);
    expect(result).toEqual({ agent: 'custom', client: 'function' });
  });
});
