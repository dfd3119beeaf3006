/**
 * The sample application of the scoped-protection walkthrough: work kept per engagement
 * (engagements → sessions → chat messages, workflow runs → artefacts pointing at files →
 * approvals), users referenced by all of it, and a shared audit log that belongs to no
 * engagement. The same data on SQLite and PostgreSQL (where users live in their own schema,
 * so a scope crosses schemas). Deterministic: the same call writes the same rows and files.
 *
 * Shapes a scope has to handle: a composite key with a self-reference (a message replying to
 * another of its session), a cycle (an engagement points at its current workflow run), and
 * ON DELETE CASCADE all the way down.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export type SampleEngine = 'sqlite' | 'postgres';

/** Table names as Strongroom shows them on each engine. */
export function sampleTables(engine: SampleEngine) {
  return { users: engine === 'postgres' ? 'directory.users' : 'users', auditLog: 'app_audit_log' };
}

export function sampleSchemaSql(engine: SampleEngine): string {
  const users = engine === 'postgres' ? 'directory.users' : 'users';
  const idxAndCycle =
    engine === 'postgres'
      ? `ALTER TABLE engagements ADD CONSTRAINT engagements_current_run_fk FOREIGN KEY (current_run_id) REFERENCES workflow_runs (id) ON DELETE SET NULL;`
      : '';
  return `
${engine === 'postgres' ? 'CREATE SCHEMA directory;' : ''}
CREATE TABLE ${users} (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE engagements (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, client TEXT NOT NULL,
  owner_id INTEGER NOT NULL REFERENCES ${users} (id),
  current_run_id INTEGER${engine === 'sqlite' ? ' REFERENCES workflow_runs (id) ON DELETE SET NULL' : ''}
);
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY, engagement_id TEXT NOT NULL REFERENCES engagements (id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES ${users} (id), started_at TEXT NOT NULL
);
CREATE INDEX sessions_engagement ON sessions (engagement_id);
CREATE INDEX engagements_current_run ON engagements (current_run_id);
CREATE TABLE chat_messages (
  session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE, seq INTEGER NOT NULL,
  author_id INTEGER REFERENCES ${users} (id), body TEXT NOT NULL, reply_to INTEGER,
  PRIMARY KEY (session_id, seq),
  FOREIGN KEY (session_id, reply_to) REFERENCES chat_messages (session_id, seq) ON DELETE CASCADE
);
CREATE INDEX chat_messages_author ON chat_messages (author_id);
CREATE INDEX chat_messages_reply ON chat_messages (session_id, reply_to);
CREATE TABLE workflow_runs (
  id INTEGER PRIMARY KEY, engagement_id TEXT NOT NULL REFERENCES engagements (id) ON DELETE CASCADE,
  name TEXT NOT NULL, status TEXT NOT NULL
);
CREATE INDEX workflow_runs_engagement ON workflow_runs (engagement_id);
CREATE TABLE artefacts (
  id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
  storage_path TEXT NOT NULL, bytes INTEGER NOT NULL
);
CREATE INDEX artefacts_run ON artefacts (run_id);
CREATE TABLE approvals (
  id INTEGER PRIMARY KEY, artefact_id INTEGER NOT NULL REFERENCES artefacts (id) ON DELETE CASCADE,
  approver_id INTEGER NOT NULL REFERENCES ${users} (id), decision TEXT NOT NULL
);
CREATE INDEX approvals_artefact ON approvals (artefact_id);
CREATE TABLE app_audit_log (
  id INTEGER PRIMARY KEY, actor_id INTEGER REFERENCES ${users} (id), engagement_id TEXT, action TEXT NOT NULL
);
${idxAndCycle}
`;
}

function q(v: string | number | null): string {
  if (v === null) return 'NULL';
  return typeof v === 'number' ? String(v) : `'${v.replace(/'/g, "''")}'`;
}

function values(table: string, rows: (string | number | null)[][]): string {
  if (!rows.length) return '';
  return `INSERT INTO ${table} VALUES ${rows.map((r) => `(${r.map(q).join(', ')})`).join(',\n  ')};\n`;
}

export interface SampleSize {
  engagements: number;
  sessionsPer?: number;
  messagesPer?: number;
  runsPer?: number;
  artefactsPer?: number;
}

export function engagementId(i: number): string {
  return `eng-${String(i + 1).padStart(4, '0')}`;
}

/** The artefact files' paths, relative to the files root, with their bytes. */
export interface SampleFile {
  path: string;
  content: Buffer;
}

/** INSERT statements for the sample data (portable SQL), and the artefact files they point at. */
export function sampleData(engine: SampleEngine, size: SampleSize): { sql: string; files: SampleFile[] } {
  const { users } = sampleTables(engine);
  const sessionsPer = size.sessionsPer ?? 3;
  const messagesPer = size.messagesPer ?? 4;
  const runsPer = size.runsPer ?? 2;
  const artefactsPer = size.artefactsPer ?? 2;
  const people = ['ada', 'grace', 'alan', 'edsger', 'barbara', 'ken'];
  const userRows = people.map((p, i) => [i + 1, `${p}@example.com`, p[0].toUpperCase() + p.slice(1)]);
  const eng: (string | number | null)[][] = [];
  const sessions: (string | number | null)[][] = [];
  const messages: (string | number | null)[][] = [];
  const runs: (string | number | null)[][] = [];
  const artefacts: (string | number | null)[][] = [];
  const approvals: (string | number | null)[][] = [];
  const audit: (string | number | null)[][] = [];
  const files: SampleFile[] = [];
  let s = 0;
  let r = 0;
  let a = 0;
  for (let e = 0; e < size.engagements; e++) {
    const id = engagementId(e);
    const owner = (e % people.length) + 1;
    let lastRun: number | null = null;
    for (let k = 0; k < runsPer; k++) {
      r++;
      lastRun = r;
      runs.push([r, id, `run ${k + 1} of ${id}`, k === runsPer - 1 ? 'running' : 'done']);
      for (let f = 0; f < artefactsPer; f++) {
        a++;
        const path = `artefacts/${id}/report-${a}.txt`;
        const content = Buffer.from(`artefact ${a} of ${id}, run ${r}\n`.repeat(8), 'utf8');
        files.push({ path, content });
        artefacts.push([a, r, path, content.length]);
        approvals.push([a, a, ((a + 1) % people.length) + 1, a % 3 === 0 ? 'rejected' : 'approved']);
      }
    }
    eng.push([id, `Engagement ${e + 1}`, `Client ${String.fromCharCode(65 + (e % 26))}`, owner, null]);
    for (let k = 0; k < sessionsPer; k++) {
      s++;
      sessions.push([
        s,
        id,
        ((s + e) % people.length) + 1,
        `2026-01-${String((k % 28) + 1).padStart(2, '0')}T09:00:00Z`,
      ]);
      for (let m = 1; m <= messagesPer; m++)
        messages.push([
          s,
          m,
          m % 2 ? owner : ((s + m) % people.length) + 1,
          `message ${m} in session ${s}`,
          m > 1 ? m - 1 : null,
        ]);
    }
    audit.push([audit.length + 1, owner, id, 'engagement.created']);
    if (lastRun !== null) eng[eng.length - 1][4] = lastRun;
  }
  // Engagements first without their current run (the cycle), then pointed at it once the runs exist.
  const engNoRun = eng.map((row) => [...row.slice(0, 4), null]);
  const setRuns = eng
    .filter((row) => row[4] !== null)
    .map((row) => `UPDATE engagements SET current_run_id = ${q(row[4])} WHERE id = ${q(row[0])};`)
    .join('\n');
  const sql =
    values(users, userRows) +
    values('engagements', engNoRun) +
    values('sessions', sessions) +
    values('chat_messages', messages) +
    values('workflow_runs', runs) +
    values('artefacts', artefacts) +
    values('approvals', approvals) +
    values('app_audit_log', audit) +
    setRuns;
  return { sql, files };
}

export function writeSampleFiles(root: string, files: SampleFile[]): void {
  for (const f of files) {
    const path = join(root, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.content);
  }
}
