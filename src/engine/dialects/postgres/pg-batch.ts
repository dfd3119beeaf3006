/**
 * Many small DDL statements of a restore sent together: one round trip for a batch instead of
 * one per statement. A restore of 500 small tables issued about 5,500 statements one after
 * another (a lock, a lifted key, two dropped and two rebuilt indexes, a re-added key and its
 * planner steering per table), and on a busy server each round trip waits for a core twice.
 *
 * A batch is one simple-query message inside the restore's transaction, so its statements run
 * in order and the first failure stops it and aborts the transaction, as one by one. What a
 * batch loses is which statement failed, so each runs under a savepoint: on a failure the batch
 * is rolled back to it and its statements run again one at a time, each with its own error
 * handling, which reports the failure exactly as before (and the caller's transaction fails as
 * before). The savepoint is one per batch, not per statement, and batches are large.
 */
import type { Client } from 'pg';

export interface BatchStatement {
  sql: string;
  /** Runs the statement alone with its own error handling (naming what failed); defaults to running `sql`. */
  alone?(): Promise<void>;
}

/** Statements per message at most: bounds what one failure has to repeat, and the message size. */
const MAX_STATEMENTS = 500;
const MAX_BYTES = 512 * 1024;
const SAVEPOINT = 'strongroom_batch';

/** Runs `statements` in order, in batches, inside the open transaction of `client`. */
export async function runBatched(client: Client, statements: BatchStatement[]): Promise<void> {
  let i = 0;
  while (i < statements.length) {
    const chunk: BatchStatement[] = [];
    let bytes = 0;
    while (i < statements.length && chunk.length < MAX_STATEMENTS && (!chunk.length || bytes < MAX_BYTES)) {
      bytes += statements[i].sql.length;
      chunk.push(statements[i++]);
    }
    await runChunk(client, chunk);
  }
}

async function runChunk(client: Client, chunk: BatchStatement[]): Promise<void> {
  if (chunk.length === 1) return runAlone(client, chunk[0]);
  // A statement may end in a line comment (pg_dump's do): the newline closes it before the separator.
  const body = chunk.map((s) => `${s.sql}\n;`).join('\n');
  try {
    await client.query(`SAVEPOINT ${SAVEPOINT};\n${body}\nRELEASE SAVEPOINT ${SAVEPOINT}`);
    return;
  } catch (err) {
    try {
      await client.query(`ROLLBACK TO SAVEPOINT ${SAVEPOINT}; RELEASE SAVEPOINT ${SAVEPOINT}`);
    } catch {
      // The connection itself failed (or the restore was aborted): nothing to find out.
      throw err;
    }
    // The first to fail throws its own error. Should all pass (a statement whose own handling
    // tolerates its failure, such as an owner whose role is missing), their effects are in.
    for (const s of chunk) await runAlone(client, s);
  }
}

async function runAlone(client: Client, s: BatchStatement): Promise<void> {
  if (s.alone) await s.alone();
  else await client.query(s.sql);
}
