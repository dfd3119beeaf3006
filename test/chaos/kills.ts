/**
 * SIGKILL trials: a backup or a restore (through the server's API or the CLI) is killed at a
 * random moment of its run, the server is started again, and the invariants are checked:
 * no phantom backup, no lease held, the target all-old or all-new, statuses true.
 */
import type { Prng } from '../../bench/prng';
import type { Engine } from '../support/databases';
import { queryRows } from '../support/sample-data';
import { createInstance, Instance } from './instance';
import { FamilyResult, newResult, outOfTime } from './report';
import { poll, Server, sleep, spawnCli } from './service';
import {
  dbFingerprint,
  editTarget,
  filesFingerprint,
  filesLeftovers,
  leftoverRestoreSchemas,
  seedTarget,
} from './target';

export interface KillOptions {
  backupKills: number;
  restoreKills: number;
  rows: number;
  /** Epoch ms after which no new trial starts (the first half of what is left for backups, the rest for restores). */
  stopAt: number;
  prng: Prng;
  log(line: string): void;
  logCopy(label: string): string;
}

interface State {
  db: string;
  files: string[];
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled', 'rolled_back']);

async function state(inst: Instance): Promise<State> {
  return { db: await dbFingerprint(inst.db), files: filesFingerprint(inst.roots) };
}

/** Polls a job resource until it ends; bounded (10 minutes). */
async function waitJob(
  inst: Instance,
  server: Server,
  path: string,
): Promise<{ status: string; error: string | null }> {
  for (let i = 0; i < 3000; i++) {
    const r = await inst.api(server, 'GET', path);
    if (r.status === 200 && TERMINAL.has(r.json().status)) return r.json();
    await sleep(200);
  }
  throw new Error(`${path} did not finish within 10 minutes`);
}

async function backupOverHttp(
  inst: Instance,
  server: Server,
): Promise<{ id: string; status: string; error: string | null }> {
  const r = await inst.api(server, 'POST', '/api/backups', { body: {} });
  if (r.status !== 202) throw new Error(`POST /api/backups answered ${r.status}: ${r.body.toString()}`);
  const id = r.json().id as string;
  return { id, ...(await waitJob(inst, server, `/api/backups/${id}`)) };
}

async function restoreOverHttp(
  inst: Instance,
  server: Server,
  backupId: string,
): Promise<{ status: string; error: string | null }> {
  const r = await inst.api(server, 'POST', '/api/recoveries', {
    body: { backupId, mode: 'replace', confirm: `RESTORE ${backupId}`, safetyBackup: false },
  });
  if (r.status !== 202) throw new Error(`POST /api/recoveries answered ${r.status}: ${r.body.toString()}`);
  return waitJob(inst, server, `/api/recoveries/${r.json().id}`);
}

/** What the checks have already reported, so a lasting defect is counted once, not once per later trial. */
interface Seen {
  rows: Set<string>;
  recoveries: Set<string>;
  reported: Set<string>;
}

/**
 * Invariant 1 after a restart: every completed backup has its manifest and verifies; every
 * stored manifest has its catalog row; no half backup is left; nothing is still running; no
 * lease is held. Returns what became of the backups this trial created.
 */
async function checkBackups(
  inst: Instance,
  server: Server,
  trial: string,
  seen: Seen,
  result: FamilyResult,
  what = '',
): Promise<string[]> {
  const fail = (check: string, key: string, detail: string) => {
    if (seen.reported.has(`${check}:${key}`)) return;
    seen.reported.add(`${check}:${key}`);
    result.failures.push({ trial, check, detail });
  };
  const rows = await inst.catalog();
  const stored = inst.storedBackups();
  const outcomes: string[] = [];
  for (const r of rows) {
    const isNew = !seen.rows.has(r.id);
    seen.rows.add(r.id);
    if (isNew) outcomes.push(`${r.trigger}:${r.status}`);
    if (r.status === 'pending' || r.status === 'running')
      fail('status true', r.id, `${what}backup ${r.id} is still ${r.status} after the restart`);
    const dir = r.storage_dir.replace(/^backups\//, '');
    if (isNew && r.status === 'completed') {
      if (!stored.get(dir))
        fail('no phantom backup', r.id, `${what}backup ${r.id} is completed but storage holds no manifest for it`);
      else {
        const v = await inst.api(server, 'POST', `/api/backups/${r.id}/verify`, { body: {}, timeoutMs: 600_000 });
        const body = v.status === 200 ? v.json() : null;
        if (!body?.ok) {
          const bad = body
            ? body.checks
                .filter((c: { ok: boolean }) => !c.ok)
                .map((c: { name: string; detail?: string }) => `${c.name}: ${c.detail ?? ''}`)
                .join('; ')
            : `${v.status} ${v.body.toString().slice(0, 200)}`;
          fail('no phantom backup', r.id, `${what}backup ${r.id} is completed but does not verify: ${bad}`);
        }
      }
    }
  }
  for (const [dir, hasManifest] of stored) {
    const row = rows.find((r) => r.storage_dir === `backups/${dir}`);
    if (!hasManifest)
      fail(
        'no half backup left',
        dir,
        `storage holds backups/${dir} without a manifest after the restart (catalog: ${row ? row.status : 'no row'})`,
      );
    else if (!row)
      fail(
        'no phantom backup',
        dir,
        `storage holds a manifest for backups/${dir} but the catalog has no row (the boot rescan did not catalogue it)`,
      );
    else if (row.status !== 'completed')
      fail(
        'no phantom backup',
        dir,
        `storage holds a whole backup backups/${dir} that the catalog calls ${row.status} (${row.error ?? ''})`,
      );
  }
  const leases = await inst.heldLeases();
  for (const l of leases)
    fail(
      'no lease held',
      `${trial}:${l.name}`,
      `lease ${l.name} held by ${l.owner} until ${l.expires_at} after the restart`,
    );
  return outcomes;
}

function describe(
  s: State,
  old: State,
  fresh: State,
): { db: string; files: string[]; overall: 'old' | 'new' | 'mixed' } {
  const db = s.db === old.db ? 'old' : s.db === fresh.db ? 'new' : 'neither';
  const files = s.files.map((f, i) =>
    f === old.files[i] ? 'old' : f === fresh.files[i] ? 'new' : f === 'absent' ? 'absent' : 'neither',
  );
  const all = [db, ...files];
  const overall = all.every((x) => x === 'old') ? 'old' : all.every((x) => x === 'new') ? 'new' : 'mixed';
  return { db, files, overall };
}

export async function killCampaign(engine: Engine, o: KillOptions): Promise<FamilyResult[]> {
  const backups = newResult('SIGKILL during backups', engine);
  const restores = newResult('SIGKILL during restores', engine);
  const inst = await createInstance(engine, 'kills');
  let server: Server | null = null;
  let active = backups;
  try {
    await seedTarget(inst.db, o.rows);
    server = await inst.start();
    // Calibration: how long each job takes undisturbed, so kill moments spread over its whole run.
    let t = Date.now();
    const source = await backupOverHttp(inst, server);
    const tBackup = Date.now() - t;
    if (source.status !== 'completed') throw new Error(`the calibration backup failed: ${source.error}`);
    const atBackup = await state(inst);
    await editTarget(inst.db, inst.roots);
    const before = await state(inst);
    t = Date.now();
    const calib = await restoreOverHttp(inst, server, source.id);
    const tRestore = Date.now() - t;
    if (calib.status !== 'completed') throw new Error(`the calibration restore failed: ${calib.error}`);
    const restored = await state(inst);
    if (JSON.stringify(restored) !== JSON.stringify(atBackup)) {
      restores.failures.push({
        trial: 'calibration',
        check: 'restore gives the backup state',
        detail: `after an undisturbed restore: ${JSON.stringify(describe(restored, before, atBackup))}`,
      });
    }
    await editTarget(inst.db, inst.roots);
    await server.kill();
    server = null;
    t = Date.now();
    const cliBackup = await spawnCli(['backup'], inst.env, inst.dir).result;
    const tCliBackup = Date.now() - t;
    if (cliBackup.code !== 0) throw new Error(`the calibration CLI backup failed: ${cliBackup.stderr}`);
    o.log(
      `  ${engine}: backup ${tBackup} ms (API), ${tCliBackup} ms (CLI, boot included); restore ${tRestore} ms (API)`,
    );
    backups.notes.push(
      `Undisturbed durations: backup ${tBackup} ms through the API, ${tCliBackup} ms through the CLI (boot included); restore ${tRestore} ms. Kill moments are uniform over 0–120 % of the job's undisturbed duration (plus the safety backup's when one is taken), counted from the moment the job exists (API: the 202; CLI: its catalog row, or its "recovery … started" line).`,
    );

    const seen: Seen = { rows: new Set(), recoveries: new Set(), reported: new Set() };
    server = await inst.start();
    await checkBackups(inst, server, 'setup', seen, backups);

    const landed = new Map<string, number>();
    const backupsStopAt = Date.now() + (o.stopAt - Date.now()) / 2;
    for (let i = 0; i < o.backupKills; i++) {
      if (outOfTime(backups, backupsStopAt, i, o.backupKills, 'backup kills')) break;
      const via = i % 5 === 1 ? 'cli' : 'api';
      const trial = `backup #${i + 1} (${via})`;
      let delay: number;
      if (via === 'api') {
        const r = await inst.api(server, 'POST', '/api/backups', { body: {} });
        if (r.status !== 202)
          backups.failures.push({
            trial,
            check: 'a fresh start accepts a backup',
            detail: `POST /api/backups answered ${r.status}: ${r.body.toString().slice(0, 200)}`,
          });
        delay = Math.floor(o.prng.next() * 1.2 * tBackup);
        await sleep(delay);
        await server.kill();
      } else {
        await server.kill();
        const rowsBefore = (await inst.catalog()).length;
        const cli = spawnCli(['backup'], inst.env, inst.dir);
        // From the moment the job is catalogued (polled, bounded): the CLI's boot is not what is under test.
        await poll(
          async () => (cli.child.exitCode === null && (await inst.catalog()).length === rowsBefore ? null : true),
          1200,
          50,
        );
        delay = Math.floor(o.prng.next() * 1.2 * tBackup);
        await sleep(delay);
        cli.child.kill('SIGKILL');
        const res = await cli.result;
        if (res.signal !== 'SIGKILL' && res.code !== 0)
          backups.failures.push({
            trial,
            check: 'a fresh start accepts a backup',
            detail: `CLI backup exited ${res.code}: ${res.stderr.slice(-300)}`,
          });
      }
      server = null;
      server = await inst.start();
      const outcomes = await checkBackups(inst, server, `${trial}, killed at ${delay} ms`, seen, backups);
      const key = outcomes.join(',') || 'no catalog row';
      landed.set(key, (landed.get(key) ?? 0) + 1);
      backups.trials++;
      if ((i + 1) % 10 === 0) o.log(`  ${engine}: ${i + 1}/${o.backupKills} backup kills`);
    }
    backups.notes.push(
      `What each killed backup became after the restart (trigger:status of its catalog row): ${[...landed].map(([k, n]) => `${k} × ${n}`).join(', ')}.`,
    );

    active = restores;
    // Restores: each trial starts from `before` and restores the backup taken at `atBackup`.
    const recs = await queryRows<{ id: string }>(inst.db, `SELECT id FROM strongroom_recoveries`);
    for (const r of recs) seen.recoveries.add(r.id);
    const outcome = new Map<string, number>();
    for (let i = 0; i < o.restoreKills; i++) {
      if (outOfTime(restores, o.stopAt, i, o.restoreKills, 'restore kills')) break;
      const via = i % 5 === 1 ? 'cli' : 'api';
      const safety = i % 3 === 0;
      const trial = `restore #${i + 1} (${via}${safety ? ', safety backup' : ''})`;
      const window = tRestore + (safety ? tBackup : 0);
      let delay: number;
      if (via === 'api') {
        const r = await inst.api(server, 'POST', '/api/recoveries', {
          body: { backupId: source.id, mode: 'replace', confirm: `RESTORE ${source.id}`, safetyBackup: safety },
        });
        if (r.status !== 202)
          restores.failures.push({
            trial,
            check: 'a fresh start accepts a restore',
            detail: `POST /api/recoveries answered ${r.status}: ${r.body.toString().slice(0, 200)}`,
          });
        delay = Math.floor(o.prng.next() * 1.2 * window);
        await sleep(delay);
        await server.kill();
      } else {
        await server.kill();
        const cli = spawnCli(
          ['restore', source.id, '--yes', ...(safety ? [] : ['--no-safety-backup'])],
          inst.env,
          inst.dir,
        );
        // From the moment the job exists: the CLI's boot is not what is under test here.
        await cli.seen(/recovery \S+ started/);
        delay = Math.floor(o.prng.next() * 1.2 * window);
        await sleep(delay);
        cli.child.kill('SIGKILL');
        const res = await cli.result;
        if (res.signal !== 'SIGKILL' && res.code !== 0)
          restores.failures.push({
            trial,
            check: 'a fresh start accepts a restore',
            detail: `CLI restore exited ${res.code}: ${res.stderr.slice(-300)}`,
          });
      }
      server = null;
      server = await inst.start();
      const label = `${trial}, killed at ${delay} ms`;
      const s = await state(inst);
      const d = describe(s, before, atBackup);
      outcome.set(d.overall, (outcome.get(d.overall) ?? 0) + 1);
      if (d.overall === 'mixed')
        restores.failures.push({
          trial: label,
          check: 'all-old or all-new',
          detail: `tables ${d.db}, file roots ${d.files.join('/')}`,
        });
      const newest = await queryRows<{ id: string; status: string; error: string | null }>(
        inst.db,
        `SELECT id, status, error FROM strongroom_recoveries ORDER BY created_at DESC`,
      );
      const fresh = newest.filter((r) => !seen.recoveries.has(r.id));
      for (const r of fresh) seen.recoveries.add(r.id);
      const rec = fresh[0];
      if (!rec) {
        if (d.db !== 'old')
          restores.failures.push({
            trial: label,
            check: 'status true',
            detail: `the tables are ${d.db} but no recovery was recorded`,
          });
      } else if (rec.status === 'pending' || rec.status === 'running') {
        restores.failures.push({
          trial: label,
          check: 'status true',
          detail: `recovery ${rec.id} is still ${rec.status} after the restart`,
        });
      } else if (d.db === 'new' && rec.status !== 'completed') {
        restores.failures.push({
          trial: label,
          check: 'status true',
          detail: `the restore committed (tables hold the backup) but recovery ${rec.id} is ${rec.status}: ${rec.error ?? ''}`,
        });
      } else if (d.db === 'old' && rec.status === 'completed') {
        restores.failures.push({
          trial: label,
          check: 'status true',
          detail: `recovery ${rec.id} is completed but the tables hold what they held before`,
        });
      }
      // Reported by the trial that left them, not again by every later one.
      const leftovers = (inst.roots.length ? filesLeftovers(inst.filesParent, inst.roots) : []).filter(
        (l) => !seen.reported.has(`staging:${l}`),
      );
      leftovers.forEach((l) => seen.reported.add(`staging:${l}`));
      if (leftovers.length)
        restores.failures.push({
          trial: label,
          check: 'no file staging left',
          detail: `next to the file roots after the restart: ${leftovers.join(', ')}`,
        });
      const schemas = (await leftoverRestoreSchemas(inst.db)).filter((x) => !seen.reported.has(`schema:${x}`));
      schemas.forEach((x) => seen.reported.add(`schema:${x}`));
      if (schemas.length)
        restores.failures.push({ trial: label, check: 'no shadow schema left', detail: schemas.join(', ') });
      // Phantoms and leases, for the safety backups these restores took.
      await checkBackups(inst, server, label, seen, restores, 'safety ');
      restores.trials++;
      // Back to `before` for the next trial: whatever the kill left, an undisturbed restore then the edit.
      if (d.overall !== 'old') {
        const fix = await restoreOverHttp(inst, server, source.id);
        if (fix.status !== 'completed') throw new Error(`could not reset the target after ${label}: ${fix.error}`);
        await editTarget(inst.db, inst.roots);
        for (const r of await queryRows<{ id: string }>(inst.db, `SELECT id FROM strongroom_recoveries`))
          seen.recoveries.add(r.id);
        await checkBackups(inst, server, `reset after ${label}`, seen, restores);
      }
      const again = await state(inst);
      if (JSON.stringify(again) !== JSON.stringify(before))
        throw new Error(
          `the target is not back to its edited state after ${label}: ${JSON.stringify(describe(again, before, atBackup))}`,
        );
      if ((i + 1) % 10 === 0) o.log(`  ${engine}: ${i + 1}/${o.restoreKills} restore kills`);
    }
    restores.notes.push(
      `Target after each killed restore and restart: ${[...outcome].map(([k, n]) => `${k === 'old' ? 'all-old' : k === 'new' ? 'all-new' : 'mixed'} × ${n}`).join(', ')}.`,
    );
  } catch (e) {
    // A broken harness step ends this family early; say so in the results rather than losing them.
    active.failures.push({
      trial: 'campaign',
      check: 'harness could not continue',
      detail: (e as Error).stack ?? String(e),
    });
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await inst.dispose(o.logCopy(`kills-${engine}`));
  }
  return [backups, restores];
}
