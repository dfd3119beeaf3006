/**
 * The README's walkthrough runs as written: every bash block marked `<!-- runnable -->` is
 * run, in order, in one bash session, in a fresh copy of the repository, against the real
 * service on SQLite. Only what would take minutes or touch the network is stood in for:
 * `npm install` (node_modules is linked), `npm run build` (dist/ is transpiled beforehand)
 * and `npm run cli --` (runs dist/cli.js instead of ts-node); and the port, so a busy 3000
 * on this machine cannot fail the test.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { ROOT, transpileTree } from '../support/transpile';

const PREAMBLE = `set -euo pipefail
npm() {
  case "$1 \${2:-}" in
    "install "*|"ci "*) echo "(docs test: node_modules is linked)";;
    "run build") echo "(docs test: dist/ is built)";;
    "run cli") shift 2; if [ "\${1:-}" = "--" ]; then shift; fi; node dist/cli.js "$@";;
    *) command npm "$@";;
  esac
}
# Whatever happens, no server is left running.
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT
`;

function runnableBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/<!-- runnable -->\s*\n```bash\n([\s\S]*?)\n```/g)].map((m) => m[1]);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The files a clone would have (tracked, plus new ones not ignored), copied as they are now. */
function copyRepository(to: string): void {
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: ROOT, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue; // deleted but not yet committed
    mkdirSync(dirname(join(to, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(to, f));
  }
  symlinkSync(join(ROOT, 'node_modules'), join(to, 'node_modules'));
}

describe('README walkthrough', () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const blocks = runnableBlocks(readme);
  const dir = mkdtempSync(join(tmpdir(), 'strongroom-readme-'));
  let pid: number | undefined;

  afterAll(() => {
    // The shell's own trap stops the server; this is the net under it (the whole process group).
    if (pid) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('marks the quick start, first backup, restore and disaster recovery blocks runnable', () => {
    expect(blocks.length).toBe(4);
    expect(blocks[0]).toContain('node dist/main.js');
    expect(blocks[1]).toContain('/api/backups');
    expect(blocks[2]).toContain('/api/recoveries');
    expect(blocks[3]).toContain('--create-schema');
    // Nothing a user would have to fill in by hand.
    for (const b of blocks) expect(b).not.toMatch(/<[a-z-]+>/i);
  });

  it('runs them in order in a fresh copy of the repository', async () => {
    copyRepository(dir);
    transpileTree(['src', 'migrations'], join(dir, 'dist'));
    writeFileSync(join(dir, 'dist/main.js'), "require('./src/main');\n");
    writeFileSync(join(dir, 'dist/cli.js'), "require('./src/cli').run();\n");
    const port = await freePort();
    const script = [
      PREAMBLE,
      `export PORT=${port}`,
      ...blocks.map((b, i) => `echo "=== README block ${i + 1} ==="\n${b}`),
    ]
      .join('\n')
      .replace(/localhost:3000/g, `localhost:${port}`);
    writeFileSync(join(dir, 'readme.sh'), script);

    const child = spawn('bash', ['readme.sh'], {
      cwd: dir,
      detached: true,
      // A new user's shell: none of this machine's Strongroom settings.
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? dir, npm_config_update_notifier: 'false' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    pid = child.pid;
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString('utf8')));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    const tail = output
      .split('\n')
      .filter((l) => !l.startsWith('{"level"'))
      .slice(-60)
      .join('\n');
    expect({ code, tail }).toEqual({ code: 0, tail: expect.any(String) });

    expect(output).toContain('=== README block 4 ===');
    expect(output).toMatch(/Strongroom .* is listening on/);
    expect(output).toMatch(/is sound/);
    expect(output).toMatch(/restored \d+ tables/);
    // The disaster restore brought back every row of the sample application.
    const source = new Database(join(dir, 'data/sample-app.db'), { readonly: true });
    const restored = new Database(join(dir, 'recovered/app.db'), { readonly: true });
    try {
      const tables = source
        .prepare(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'strongroom_%' ORDER BY name",
        )
        .all() as { name: string }[];
      expect(tables.length).toBeGreaterThan(0);
      for (const { name } of tables) {
        const count = (db: Database.Database) =>
          (db.prepare(`SELECT count(*) AS n FROM "${name}"`).get() as { n: number }).n;
        expect({ name, rows: count(restored) }).toEqual({ name, rows: count(source) });
      }
    } finally {
      source.close();
      restored.close();
    }
  }, 900_000);
});
