/** Helpers for this folder's specs: run SQL, take a backup into memory, feed it back. */
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { Readable } from 'node:stream';
import { Client } from 'pg';
import type { RestoreInput, RestoreMode, SequenceValue, TableInfo, TableRowFormat } from '../dialect';
import { createPgDatabase, type TestDatabase } from '../../../../test/support/databases';
import { stripPsqlMetaCommands } from './pg-schema-dump';
import { createPostgresDialect, type PostgresDialect } from './postgres.dialect';

export async function sql<T extends object = Record<string, unknown>>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

export interface Backup {
  tables: TableInfo[];
  schemaSql: string;
  sequences: SequenceValue[];
  data: Map<string, { bytes: Buffer; rows: number; sha256: string; rowFormat?: TableRowFormat }>;
}

export async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/**
 * Every table streamed at once, as the backup service does with parallel readers, each in the
 * form the service archives it in (binary COPY where the snapshot says so), unless `text`.
 */
export async function takeBackup(
  d: PostgresDialect,
  names?: string[],
  parallel = 2,
  opts: { text?: boolean } = {},
): Promise<Backup> {
  const tables = names ?? (await d.listTables()).map((t) => t.name);
  const snap = await d.openSnapshot(tables, { parallel });
  try {
    const exports = snap.tables.map((t) => {
      const rowFormat = opts.text ? undefined : snap.rowFormat?.(t.name);
      return { name: t.name, rowFormat, exp: snap.exportTable(t.name, undefined, rowFormat) };
    });
    const data: Backup['data'] = new Map();
    await Promise.all(
      exports.map(async ({ name, rowFormat, exp }) => {
        const bytes = await collect(exp.stream);
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        data.set(name, { bytes, rows: exp.rowCount(), sha256, ...(rowFormat ? { rowFormat } : {}) });
      }),
    );
    return { tables: snap.tables, schemaSql: await snap.schemaSql(), sequences: await snap.sequences(), data };
  } finally {
    await snap.close();
  }
}

export function restoreInput(
  b: Backup,
  mode: RestoreMode | Record<string, RestoreMode>,
  only?: string[],
): RestoreInput {
  const tables = b.tables.filter((t) => !only || only.includes(t.name));
  return {
    encoding: 'pg-copy-text',
    sequences: b.sequences,
    tables: tables.map((t) => ({
      name: t.name,
      table: t,
      mode: typeof mode === 'string' ? mode : mode[t.name],
      ...(b.data.get(t.name)?.rowFormat ? { rowFormat: b.data.get(t.name)!.rowFormat } : {}),
      open: async () => Readable.from([b.data.get(t.name)!.bytes]),
    })),
  };
}

/** One section of pg_dump's output as a whole-database backup stores it (psql meta-commands stripped). */
export function pgDumpSection(url: string, section: 'pre-data' | 'post-data', args: string[] = []): string {
  const res = spawnSync('pg_dump', [`--section=${section}`, ...args, `--dbname=${url}`], { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`pg_dump failed: ${res.stderr}`);
  return stripPsqlMetaCommands(res.stdout);
}

/** `pg_dump --data-only` of the tables, minus lines that differ between any two dumps. */
export function pgDumpData(url: string, tables: string[]): string {
  const args = ['--data-only', '--no-owner', ...tables.flatMap((t) => ['-t', `public."${t}"`]), `--dbname=${url}`];
  const res = spawnSync('pg_dump', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`pg_dump failed: ${res.stderr}`);
  return res.stdout
    .split('\n')
    .filter((l) => !l.startsWith('--') && !l.startsWith('\\'))
    .join('\n');
}

/** A source database seeded by `seed` and an empty target, each with its dialect, for one describe block. */
export interface SourceAndTarget {
  src: TestDatabase;
  dst: TestDatabase;
  from: PostgresDialect;
  to: PostgresDialect;
}

/** Creates the pair before the block's tests (then runs `after`, if given) and drops it after them. */
export function sourceAndTarget(
  prefix: string,
  seed: (url: string) => Promise<void>,
  after?: (pair: SourceAndTarget) => Promise<void>,
): SourceAndTarget {
  const pair = {} as SourceAndTarget;
  beforeAll(async () => {
    pair.src = await createPgDatabase(`${prefix}_src`);
    pair.dst = await createPgDatabase(`${prefix}_dst`);
    await seed(pair.src.url);
    pair.from = createPostgresDialect(pair.src.url);
    pair.to = createPostgresDialect(pair.dst.url);
    await after?.(pair);
  });
  afterAll(async () => {
    await pair.from?.close();
    await pair.to?.close();
    await pair.src?.drop();
    await pair.dst?.drop();
  });
  return pair;
}
