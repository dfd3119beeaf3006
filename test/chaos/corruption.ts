/**
 * Corruption trials: one stored part of a backup (its manifest, a table part or a file part)
 * gets a byte flipped, is truncated, emptied, extended, deleted or replaced by another part;
 * verify must say the backup is not sound and a restore must refuse it (or fail with the
 * target unchanged). Every few trials the same is asked of the CLI, and of the import route
 * with a corrupted downloaded archive. The stored bytes are put back after each trial.
 */
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Prng } from '../../bench/prng';
import type { Engine } from '../support/databases';
import { createInstance, Instance } from './instance';
import { FamilyResult, newResult, outOfTime } from './report';
import { Server, sleep, spawnCli } from './service';
import { dbFingerprint, editTarget, filesFingerprint, seedTarget } from './target';

export interface CorruptionOptions {
  trials: number;
  stopAt: number;
  prng: Prng;
  log(line: string): void;
  logCopy(label: string): string;
}

const VARIANTS = [
  { name: 'encrypted, zstd', body: {} },
  { name: 'plain, gzip', body: { encrypt: false, compression: 'gzip' } },
  { name: 'plain, uncompressed', body: { encrypt: false, compression: 'none' } },
  { name: 'encrypted, uncompressed', body: { compression: 'none' } },
];

const OPS = ['flip', 'flip', 'flip', 'truncate', 'empty', 'extend', 'delete', 'swap'] as const;
type Op = (typeof OPS)[number];

function walk(dir: string, prefix = ''): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out.push(...walk(full, `${prefix}${name}/`));
    else out.push(`${prefix}${name}`);
  }
  return out;
}

function kindOf(part: string): string {
  if (part === 'manifest.json') return 'manifest';
  if (/schema/i.test(part)) return 'schema part';
  return /file/i.test(part) ? 'file part' : 'table part';
}

/** Applies `op` to `file` (inside `dir`); answers what was done, for the report. */
function corrupt(op: Op, dir: string, file: string, others: string[], prng: Prng): string {
  const full = join(dir, file);
  const size = statSync(full).size;
  switch (op) {
    case 'flip': {
      if (size === 0) {
        writeFileSync(full, Buffer.from([0x2a]));
        return 'wrote one byte into an empty part';
      }
      const bytes = readFileSync(full);
      const at = prng.int(0, size - 1);
      const mask = prng.int(1, 255);
      bytes[at] ^= mask;
      writeFileSync(full, bytes);
      return `flipped byte ${at} of ${size} (xor 0x${mask.toString(16)})`;
    }
    case 'truncate': {
      const to = size > 1 ? prng.int(1, size - 1) : 0;
      truncateSync(full, to);
      return `truncated from ${size} to ${to} bytes`;
    }
    case 'empty':
      truncateSync(full, 0);
      return `emptied (${size} bytes)`;
    case 'extend': {
      const n = prng.int(1, 64);
      writeFileSync(full, Buffer.concat([readFileSync(full), randomBytes(n)]));
      return `appended ${n} random bytes`;
    }
    case 'delete':
      unlinkSync(full);
      return 'deleted';
    case 'swap': {
      const other = others.filter((o) => o !== file && o !== 'manifest.json');
      if (!other.length) {
        unlinkSync(full);
        return 'deleted (no other part to swap in)';
      }
      const pick = other[prng.int(0, other.length - 1)];
      writeFileSync(full, readFileSync(join(dir, pick)));
      return `replaced by the bytes of ${pick}`;
    }
  }
}

async function verifyVerdict(
  inst: Instance,
  server: Server,
  id: string,
): Promise<{ detected: boolean; answer: string }> {
  const v = await inst.api(server, 'POST', `/api/backups/${id}/verify`, { body: {}, timeoutMs: 300_000 });
  if (v.status === 200) {
    const body = v.json();
    const bad =
      body.checks
        ?.filter((c: { ok: boolean }) => !c.ok)
        .map((c: { name: string; detail?: string }) => `${c.name}${c.detail ? `: ${c.detail}` : ''}`) ?? [];
    return {
      detected: body.ok === false,
      answer: body.ok === false ? `200 ok:false (${bad.join('; ').slice(0, 160)})` : '200 ok:true',
    };
  }
  return { detected: v.status >= 400 && v.status < 500, answer: `${v.status} ${v.body.toString().slice(0, 160)}` };
}

/** A restore of the corrupted backup: refused at once, or failed with the target as it was. */
async function restoreVerdict(
  inst: Instance,
  server: Server,
  id: string,
): Promise<{ ok: boolean; answer: string; changed?: boolean }> {
  const before = { db: await dbFingerprint(inst.db), files: filesFingerprint(inst.roots) };
  const r = await inst.api(server, 'POST', '/api/recoveries', {
    body: { backupId: id, mode: 'replace', confirm: `RESTORE ${id}`, safetyBackup: false },
  });
  if (r.status >= 400 && r.status < 500) return { ok: true, answer: `refused: ${r.status}` };
  if (r.status !== 202) return { ok: false, answer: `${r.status} ${r.body.toString().slice(0, 200)}` };
  const rid = r.json().id as string;
  let status = 'running';
  let error = '';
  for (let i = 0; i < 1500 && (status === 'running' || status === 'pending'); i++) {
    await sleep(200);
    const g = await inst.api(server, 'GET', `/api/recoveries/${rid}`);
    if (g.status === 200) ({ status, error } = g.json());
  }
  const after = { db: await dbFingerprint(inst.db), files: filesFingerprint(inst.roots) };
  const unchanged = JSON.stringify(after) === JSON.stringify(before);
  if (status === 'failed' && unchanged) return { ok: true, answer: `202, then failed: ${String(error).slice(0, 120)}` };
  return {
    ok: false,
    answer: `202, then ${status}${error ? ` (${String(error).slice(0, 120)})` : ''}; the target ${unchanged ? 'is unchanged' : 'changed'}`,
    changed: !unchanged,
  };
}

function multipart(file: Buffer): { body: Buffer; type: string } {
  const boundary = `chaos${randomBytes(8).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="backup.tar"\r\nContent-Type: application/x-tar\r\n\r\n`,
  );
  return {
    body: Buffer.concat([head, file, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

export async function corruptionCampaign(engine: Engine, o: CorruptionOptions): Promise<FamilyResult> {
  const result = newResult('Corrupted backups', engine);
  const inst = await createInstance(engine, 'corruption');
  let server: Server | null = null;
  try {
    await seedTarget(inst.db, 2000);
    server = await inst.start();
    const backups: { id: string; variant: string; dir: string; archive: Buffer }[] = [];
    for (const v of VARIANTS) {
      const r = await inst.api(server, 'POST', '/api/backups', { body: v.body });
      if (r.status !== 202) throw new Error(`backup (${v.name}) answered ${r.status}: ${r.body.toString()}`);
      const id = r.json().id as string;
      let status = 'pending';
      for (let i = 0; i < 1500 && status !== 'completed' && status !== 'failed'; i++) {
        await sleep(200);
        status = (await inst.api(server, 'GET', `/api/backups/${id}`)).json().status;
      }
      if (status !== 'completed') throw new Error(`backup (${v.name}) ended ${status}`);
      const dl = await inst.api(server, 'GET', `/api/backups/${id}/download`);
      if (dl.status !== 200) throw new Error(`download of ${id} answered ${dl.status}`);
      backups.push({ id, variant: v.name, dir: join(inst.backupDir, 'backups', id), archive: dl.body });
    }
    // The target then differs from every backup, so a restore that goes through shows in the target.
    await editTarget(inst.db, inst.roots);
    const kinds = new Map<string, number>();
    for (let i = 0; i < o.trials; i++) {
      if (outOfTime(result, o.stopAt, i, o.trials, 'corruption trials')) break;
      if (i && i % 20 === 0) o.log(`  ${engine}: ${i}/${o.trials} corruption trials`);
      const b = backups[i % backups.length];
      result.trials++;
      if (i % 10 === 9) {
        // A downloaded archive, corrupted, offered to the import route and (every other time) to the CLI.
        const bytes = Buffer.from(b.archive);
        const op = o.prng.pick(['flip', 'truncate'] as const);
        let what: string;
        let corrupted: Buffer;
        if (op === 'flip') {
          const at = o.prng.int(0, bytes.length - 1);
          bytes[at] ^= o.prng.int(1, 255);
          corrupted = bytes;
          what = `flipped byte ${at} of ${bytes.length}`;
        } else {
          const to = o.prng.int(1, bytes.length - 1);
          corrupted = bytes.subarray(0, to);
          what = `truncated to ${to} of ${bytes.length} bytes`;
        }
        const trial = `#${i + 1} archive of ${b.variant} backup: ${what}`;
        kinds.set('downloaded archive', (kinds.get('downloaded archive') ?? 0) + 1);
        const m = multipart(corrupted);
        const imp = await inst.api(server, 'POST', '/api/backups/import', {
          raw: m.body,
          headers: { 'content-type': m.type },
          timeoutMs: 300_000,
        });
        if (imp.status < 400 || imp.status >= 500)
          result.failures.push({
            trial,
            check: 'import refuses it',
            detail: `POST /api/backups/import answered ${imp.status}: ${imp.body.toString().slice(0, 200)}`,
          });
        if (imp.status === 201) {
          const id = imp.json().id as string;
          await inst.api(server, 'DELETE', `/api/backups/${id}`);
        }
        if (i % 20 === 19) {
          const file = join(inst.dir, `corrupt-${i}.tar`);
          writeFileSync(file, corrupted);
          const cli = await spawnCli(['verify', file], inst.env, inst.dir).result;
          if (cli.code === 0)
            result.failures.push({
              trial,
              check: 'CLI verify detects it',
              detail: `node dist/cli.js verify <archive> exited 0: ${cli.stdout.slice(-200)}`,
            });
          rmSync(file, { force: true });
        }
        continue;
      }
      const parts = walk(b.dir);
      const part = parts[o.prng.int(0, parts.length - 1)];
      const op = o.prng.pick(OPS);
      const full = join(b.dir, part);
      const original = readFileSync(full);
      const what = corrupt(op, b.dir, part, parts, o.prng);
      const kind = kindOf(part);
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
      const trial = `#${i + 1} ${b.variant} backup, ${kind} ${part}: ${what}`;
      try {
        const v = await verifyVerdict(inst, server, b.id);
        if (!v.detected)
          result.failures.push({
            trial,
            check: 'verify detects it',
            detail: `POST /api/backups/:id/verify answered ${v.answer}`,
          });
        const r = await restoreVerdict(inst, server, b.id);
        if (!r.ok) result.failures.push({ trial, check: 'restore refuses it', detail: r.answer });
        // A restore that went through leaves the backup's content: edit it again, as every trial expects.
        if (r.changed) await editTarget(inst.db, inst.roots);
        if (i % 10 === 4) {
          const cli = await spawnCli(['verify', b.id], inst.env, inst.dir).result;
          if (cli.code === 0)
            result.failures.push({
              trial,
              check: 'CLI verify detects it',
              detail: `node dist/cli.js verify ${b.id} exited 0`,
            });
        }
      } finally {
        writeFileSync(full, original);
      }
      // The harness must put back exactly what it broke, or later trials would measure its own damage.
      if (i % 10 === 0) {
        const v = await verifyVerdict(inst, server, b.id);
        if (v.detected) throw new Error(`backup ${b.id} does not verify after its bytes were put back: ${v.answer}`);
      }
    }
    result.notes.push(
      `Backups corrupted: ${VARIANTS.map((v) => v.name).join('; ')} (full backups with tables and two file roots). Trials per target: ${[...kinds].map(([k, n]) => `${k} × ${n}`).join(', ')}.`,
    );
    result.notes.push(
      'Each stored-part trial asks the API to verify and to restore (replace, no safety backup, into a target edited since the backups); every tenth also the CLI. Every tenth trial instead corrupts a downloaded archive and imports it (every other one also through `dist/cli.js verify <archive>`).',
    );
    if (!existsSync(inst.backupDir)) throw new Error('storage directory vanished');
  } catch (e) {
    result.failures.push({
      trial: 'campaign',
      check: 'harness could not continue',
      detail: (e as Error).stack ?? String(e),
    });
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await inst.dispose(o.logCopy(`corruption-${engine}`));
  }
  return result;
}
