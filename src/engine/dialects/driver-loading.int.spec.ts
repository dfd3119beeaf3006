import { execFileSync } from 'node:child_process';
import { builtPath, ROOT } from '../../../test/support/transpile';
import { pgServerUrl } from '../../../test/support/databases';

/**
 * What loading our modules loads (pg-driver.ts, create-dialect.ts), each probe in a fresh Node
 * process: jest's own environment has long since loaded undici and both drivers, so only a clean
 * process shows what loading a module pulls in.
 */
function probe(script: string): Record<string, unknown> {
  const out = execFileSync(process.execPath, ['-e', script], { cwd: ROOT, encoding: 'utf8' });
  return JSON.parse(out) as Record<string, unknown>;
}

describe('loading the database drivers', () => {
  const driver = JSON.stringify(builtPath('src/engine/dialects/postgres/pg-driver.ts'));
  const undiciLoaded = "process.moduleLoadList.some((m) => m.includes('undici'))";

  it('loads pg without loading fetch (undici) and leaves no navigator behind', () => {
    const result = probe(`
      const { pgDriver } = require(${driver});
      const pg = pgDriver();
      console.log(JSON.stringify({
        undici: ${undiciLoaded},
        navigator: typeof globalThis.navigator,
        client: typeof pg.Client,
        same: pgDriver() === pg,
      }));`);
    expect(result).toEqual({ undici: false, navigator: 'undefined', client: 'function', same: true });
  });

  it('loads neither driver with the engine-neutral modules, nor the other engine with a dialect', () => {
    const loaded = (m: string) => `Object.keys(require.cache).some((k) => k.includes('/node_modules/${m}/'))`;
    const engine = JSON.stringify(builtPath('src/engine/dialects/create-dialect.ts'));
    // What a restore loads besides its dialect: the backup's reader, the restore, scope SQL.
    const common = [
      'src/engine/backup/read-backup.ts',
      'src/engine/restore/restore-backup.ts',
      'src/engine/scope/scope-sql.ts',
    ];
    const result = probe(`
      for (const m of ${JSON.stringify(common.map(builtPath))}) require(m);
      const quoting = { pg: ${loaded('pg')}, sqlite: ${loaded('better-sqlite3')} };
      const { createDialect } = require(${engine});
      createDialect('sqlite:' + require('node:os').tmpdir() + '/strongroom-never-opened.db');
      const sqlite = { pg: ${loaded('pg')} };
      createDialect('postgres://x@127.0.0.1:1/db');
      const postgres = { pg: ${loaded('pg')} };
      console.log(JSON.stringify({ quoting, sqlite, postgres }));`);
    // The PostgreSQL driver itself loads on the first connection, not with the dialect.
    expect(result).toEqual({ quoting: { pg: false, sqlite: false }, sqlite: { pg: false }, postgres: { pg: false } });
  });

  it('loads none of what only a backup or a file archive needs with a PostgreSQL restore', () => {
    // Each of these took 4-16 ms of a restore's start (about 14 ms in all, measured 2026-12-03).
    const modules = [
      'src/engine/backup/read-backup.ts',
      'src/engine/backup/backup-keys.ts',
      'src/engine/restore/restore-backup.ts',
      'src/engine/storage/local-storage.ts',
    ];
    const engine = JSON.stringify(builtPath('src/engine/dialects/create-dialect.ts'));
    const result = probe(`
      for (const m of ${JSON.stringify(modules.map(builtPath))}) require(m);
      require(${engine}).createDialect('postgres://x@127.0.0.1:1/db');
      const cached = (part) => Object.keys(require.cache).some((k) => k.includes(part));
      console.log(JSON.stringify({
        writer: cached('/backup/write-backup.'),
        snapshot: cached('/postgres/pg-snapshot.'),
        tar: cached('/node_modules/tar-stream/'),
        childProcess: process.moduleLoadList.includes('NativeModule child_process'),
      }));`);
    expect(result).toEqual({ writer: false, snapshot: false, tar: false, childProcess: false });
  });

  it("looks pg_dump up for a backup, not for a snapshot alone (a scoped restore's plan)", () => {
    const engine = JSON.stringify(builtPath('src/engine/dialects/create-dialect.ts'));
    // The lookup runs `pg_dump --version`: whether it ran shows as a process started here.
    const result = probe(`
      const cp = require('node:child_process');
      const started = [];
      const spawn = cp.ChildProcess.prototype.spawn;
      cp.ChildProcess.prototype.spawn = function (o) { started.push(o.file); return spawn.call(this, o); };
      const looked = () => started.some((f) => f.endsWith('pg_dump'));
      const settle = (ms) => new Promise((r) => setTimeout(r, ms));
      (async () => {
        const d = require(${engine}).createDialect(${JSON.stringify(pgServerUrl())});
        const snap = await d.openSnapshot([]);
        await snap.close();
        await settle(500);
        const afterSnapshot = looked();
        d.prepareBackup();
        for (let i = 0; i < 100 && !looked(); i++) await settle(50);
        await d.close();
        console.log(JSON.stringify({ afterSnapshot, afterPrepare: looked() }));
        process.exit(0);
      })();`);
    expect(result).toEqual({ afterSnapshot: false, afterPrepare: true });
  });

  it('loads tar-stream with neither a backup nor a restore until a file archive is packed or read', () => {
    const writer = JSON.stringify(builtPath('src/engine/backup/write-backup.ts'));
    const rules = JSON.stringify(builtPath('src/engine/backup/file-entry-rules.ts'));
    const result = probe(`
      const tar = () => Object.keys(require.cache).some((k) => k.includes('/node_modules/tar-stream/'));
      require(${writer});
      const withModules = tar();
      require(${rules}).tarStream().pack();
      console.log(JSON.stringify({ withModules, whenPacking: tar() }));`);
    expect(result).toEqual({ withModules: false, whenPacking: true });
  });

  it('loading pg plainly does load undici (the cost the driver module avoids)', () => {
    const result = probe(`require('pg'); console.log(JSON.stringify({ undici: ${undiciLoaded} }));`);
    expect(result).toEqual({ undici: true });
  });

  it('leaves a navigator that was already there untouched', () => {
    const result = probe(`
      globalThis.navigator = { userAgent: 'custom' };
      const { pgDriver } = require(${driver});
      console.log(JSON.stringify({ agent: globalThis.navigator.userAgent, client: typeof pgDriver().Client }));`);
    expect(result).toEqual({ agent: 'custom', client: 'function' });
  });
});
