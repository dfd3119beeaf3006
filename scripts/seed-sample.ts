/**
 * `npm run seed:sample -- [--url sqlite:./data/sample-app.db] [--files ./data/sample-files]
 *  [--scale 0.002] [--force]`
 *
 * Seeds a small sample application database (the benchmark's generator, a few thousand rows)
 * and a few artefact files, so the README walkthrough has something real to back up and
 * restore; beside it, the engagement application of the scoped-protection walkthrough
 * (scripts/sample-app.ts: `--engagements` of them, 20 by default, with their artefact files).
 * SQLite by default; a postgres:// URL must name an existing, empty database.
 * Prints the two environment lines that point Strongroom at them.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs, runMain } from '../bench/cli-args';
import { datasetCounts, datasetRows, DEFAULT_SEED, seedPostgres, seedSqlite } from '../bench/dataset';
import { deriveSeed, Prng } from '../bench/prng';
import Database from 'better-sqlite3';
import { Client } from 'pg';
import { sqlitePathFromUrl } from '../src/engine/dialects/sqlite/sqlite-connection';
import { sampleData, sampleSchemaSql, writeSampleFiles } from './sample-app';

const DEFAULT_URL = 'sqlite:./data/sample-app.db';
const DEFAULT_FILES = './data/sample-files';

/** Same bytes on every run, so a restored artefact can be compared with a fresh seed. */
function pseudoRandomBytes(seed: number, label: string, size: number): Buffer {
  const rng = new Prng(deriveSeed(seed, label));
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = Math.floor(rng.next() * 256);
  return buf;
}

function csvField(v: unknown): string {
  const s = Array.isArray(v) ? v.join(' ') : v === null ? '' : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function writeArtefacts(root: string, scale: number, seed: number): string[] {
  const files: Array<[string, Buffer | string]> = [
    ['README.txt', 'Sample artefacts of the Strongroom walkthrough app: uploads, exported reports and invoices.\n'],
    ['uploads/avatars/ada.png', pseudoRandomBytes(seed, 'avatar-ada', 48 * 1024)],
    ['uploads/avatars/grace.png', pseudoRandomBytes(seed, 'avatar-grace', 32 * 1024)],
    ['invoices/2024/INV-0001.pdf', pseudoRandomBytes(seed, 'invoice-1', 120 * 1024)],
    ['invoices/2024/INV-0002.pdf', pseudoRandomBytes(seed, 'invoice-2', 95 * 1024)],
  ];
  const header = ['id', 'project_id', 'title', 'status', 'priority', 'due_date', 'tags'];
  const lines = [header.join(',')];
  for (const r of datasetRows('tasks', scale, seed))
    lines.push([r[0], r[1], r[2], r[4], r[5], r[6], r[7]].map(csvField).join(','));
  files.push(['reports/tasks-export.csv', `${lines.join('\n')}\n`]);
  for (const [name, content] of files) {
    const path = join(root, name);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return files.map(([name]) => name);
}

runMain(async () => {
  const args = parseArgs(process.argv.slice(2));
  const url = args.get('url') ?? DEFAULT_URL;
  const filesDir = args.get('files') ?? DEFAULT_FILES;
  const scale = Number(args.get('scale') ?? '0.002');
  const seed = Number(args.get('seed') ?? DEFAULT_SEED);
  const engagements = Number(args.get('engagements') ?? '20');
  if (!Number.isInteger(engagements) || engagements < 1 || engagements > 100_000)
    throw new Error('--engagements must be an integer from 1 to 100000');
  const force = args.get('force') === 'true';
  datasetCounts(scale); // rejects a bad --scale before anything is written

  let counts;
  if (url.startsWith('sqlite:')) {
    const path = resolve(sqlitePathFromUrl(url));
    if (existsSync(path)) {
      if (!force) throw new Error(`${sqlitePathFromUrl(url)} already exists: remove it or pass --force to recreate it`);
      for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(path + suffix, { force: true });
    }
    mkdirSync(dirname(path), { recursive: true });
    counts = seedSqlite(path, { scale, seed });
    const app = sampleData('sqlite', { engagements });
    const db = new Database(path);
    try {
      db.exec(`BEGIN; ${sampleSchemaSql('sqlite')} ${app.sql} COMMIT;`);
    } finally {
      db.close();
    }
  } else if (/^postgres(ql)?:\/\//.test(url)) {
    counts = await seedPostgres(url, { scale, seed });
    const app = sampleData('postgres', { engagements });
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(`BEGIN; ${sampleSchemaSql('postgres')} ${app.sql} COMMIT;`);
    } finally {
      await client.end();
    }
  } else {
    throw new Error('--url must be sqlite:<path> or postgres://…');
  }

  const root = resolve(filesDir);
  if (existsSync(root) && force) rmSync(root, { recursive: true, force: true });
  const written = writeArtefacts(root, scale, seed);
  const appFiles = sampleData('sqlite', { engagements }).files;
  writeSampleFiles(root, appFiles);
  counts = { ...counts, engagements };

  // A password never goes to the terminal (scrollback, CI logs): the user knows the one they passed.
  const safeUrl = url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
  process.stderr.write(
    `Seeded ${safeUrl}: ${Object.entries(counts)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')}\n` +
      `Wrote ${written.length + appFiles.length} artefact files under ${filesDir}\n\nUse them with` +
      `${safeUrl === url ? '' : ' (put your password back in place of ***)'}:\n`,
  );
  // stdout carries only the env lines, so `npm run -s seed:sample >> .env` works.
  process.stdout.write(`TARGET_DATABASE_URL=${safeUrl}\nBACKUP_FILE_PATHS=${filesDir}\n`);
});
