/**
 * PostgreSQL seeders of the data shapes b–f (bench/shapes.ts), generated inside the server with
 * generate_series: nothing streams from node but a 4,000-word vocabulary, so a 1 GB shape
 * takes about as long as the server needs to write and index it. Values come from
 * hashint8extended(i, salt) of the row number, never random(), so a seed and a scale give the
 * same rows on every run (on one PostgreSQL major version: its hash functions are stable
 * within one). Helper functions and pools live in pg_temp and go with the session; the blob
 * shape's pgcrypto extension is dropped again, so no shape leaves anything but its tables.
 */
import { Client } from 'pg';
import { vocabulary } from './prng';

export type Counts = Record<string, number>;

/** Rows scale with `scale`, but never below a handful, so tiny verification runs still have data. */
export const scaled = (n: number, scale: number): number => Math.max(5, Math.round(n * scale));

/** Pool sizes: large enough that zstd's window (a few MiB) rarely sees a repeat, capped for small scales. */
const pool = (full: number, scale: number): number => Math.max(500, Math.round(full * Math.min(1, scale * 4)));

/** SQL fragments that pick generated text for a row: `x` is an SQL expression of the row number. */
interface Text {
  sentence(x: string): string;
  word(x: string): string;
  paras(x: string, n: string): string;
}

async function helpers(c: Client, seed: number, scale: number): Promise<Text> {
  // h(x, salt): a non-negative 63-bit hash; u(x, salt): uniform in [0, 1). Both inlined by the planner.
  await c.query(`
    CREATE FUNCTION pg_temp.h(x bigint, salt bigint) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT hashint8extended(x, salt + ${seed}::bigint * 1000) & 9223372036854775807 $$;
    CREATE FUNCTION pg_temp.u(x bigint, salt bigint) RETURNS float8 LANGUAGE sql IMMUTABLE PARALLEL SAFE
      AS $$ SELECT (pg_temp.h(x, salt) >> 10)::float8 / 9007199254740992.0 $$;
    CREATE TEMP TABLE vocab (vi int PRIMARY KEY, w text NOT NULL);`);
  const words = vocabulary(seed);
  await c.query(`INSERT INTO pg_temp.vocab SELECT n - 1, w FROM unnest($1::text[]) WITH ORDINALITY AS v(w, n)`, [
    words,
  ]);
  const sentences = pool(200_000, scale);
  const paragraphs = pool(60_000, scale);
  // Word frequencies skewed like real text (index ~ u^3), sentences of 5-18 words. Temp tables
  // get no autovacuum: without ANALYZE the planner joins them by scanning them whole.
  await c.query(`
    ANALYZE pg_temp.vocab;
    CREATE TEMP TABLE sentences AS
    SELECT s AS si, upper(left(x.t, 1)) || substr(x.t, 2) || '.' AS st FROM (
      SELECT s, (SELECT string_agg((SELECT w FROM pg_temp.vocab
                                    WHERE vi = floor(${words.length} * pow(pg_temp.u(s * 32 + k, 2), 3))::int), ' ' ORDER BY k)
                 FROM generate_series(1, 5 + (pg_temp.h(s, 1) % 14)::int) k) AS t
      FROM generate_series(0, ${sentences - 1}) s) x;
    ALTER TABLE pg_temp.sentences ADD PRIMARY KEY (si);
    ANALYZE pg_temp.sentences;
    CREATE TEMP TABLE paragraphs AS
    SELECT p AS pi, (SELECT string_agg((SELECT st FROM pg_temp.sentences WHERE si = pg_temp.h(p * 16 + k, 4) % ${sentences}),
                                       ' ' ORDER BY k)
                     FROM generate_series(1, 2 + (pg_temp.h(p, 3) % 6)::int) k) AS pt
    FROM generate_series(0, ${paragraphs - 1}) p;
    ALTER TABLE pg_temp.paragraphs ADD PRIMARY KEY (pi);
    ANALYZE pg_temp.paragraphs;`);
  // Lookups are written into each statement as scalar subqueries (index scans), not as SQL
  // functions (a function with a FROM cannot be inlined, and calling one costs several times
  // more) nor as joins (a join inside a correlated subquery may hash the whole pool per row).
  // Their column and alias names (si, vi, pi, pk) are their own, so `x` may use the row's i and k.
  return {
    sentence: (x) => `(SELECT st FROM pg_temp.sentences WHERE si = (${x}) % ${sentences})`,
    word: (x) => `(SELECT w FROM pg_temp.vocab WHERE vi = (${x}) % ${words.length})`,
    paras: (x, n) =>
      `(SELECT string_agg((SELECT pt FROM pg_temp.paragraphs WHERE pi = pg_temp.h((${x}) * 16 + pk, 5) % ${paragraphs}), ` +
      `E'\\n\\n' ORDER BY pk) FROM generate_series(1, ${n}) pk)`,
  };
}

const EPOCH = `'2022-01-01T00:00:00Z'::timestamptz`;

/** (b) Text-heavy: articles with a title, a summary paragraph and a body of 1-8 paragraphs of word-like text. */
async function text(c: Client, t: Text, scale: number): Promise<Counts> {
  const authors = scaled(20_000, scale);
  const articles = scaled(450_000, scale);
  await c.query(`
    CREATE TABLE authors (id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL, bio text NOT NULL);
    CREATE TABLE articles (
      id bigint PRIMARY KEY, author_id integer NOT NULL, title text NOT NULL, summary text NOT NULL,
      body text NOT NULL, language text NOT NULL, published_at timestamptz NOT NULL);
    INSERT INTO authors SELECT i, ${t.word(`pg_temp.h(i, 10)`)} || ' ' || ${t.word(`pg_temp.h(i, 11)`)},
      'author' || i || '@example.com', ${t.paras(`i`, `1`)} FROM generate_series(1, ${authors}) i;
    INSERT INTO articles SELECT i, 1 + pg_temp.h(i, 12) % ${authors}, ${t.sentence(`pg_temp.h(i, 13)`)},
      ${t.paras(`i * 7 + 1`, `1`)}, ${t.paras(`i`, `1 + (pg_temp.h(i, 14) % 8)::int`)},
      (ARRAY['en', 'en', 'en', 'de', 'fr', 'es'])[1 + pg_temp.h(i, 15) % 6],
      ${EPOCH} + (i * interval '2 minutes') FROM generate_series(1, ${articles}) i;
    ALTER TABLE articles ADD CONSTRAINT articles_author_fkey FOREIGN KEY (author_id) REFERENCES authors(id);
    CREATE INDEX articles_author_idx ON articles (author_id);
    CREATE INDEX articles_published_idx ON articles (published_at);
    CREATE INDEX articles_title_idx ON articles (title);`);
  return { authors, articles };
}

/** (c) JSONB-heavy: order events with nested documents, a GIN index and expression indexes. */
async function jsonb(c: Client, t: Text, scale: number): Promise<Counts> {
  const tenants = scaled(2_000, scale);
  const events = scaled(420_000, scale);
  await c.query(`
    CREATE TABLE tenants (id integer PRIMARY KEY, name text NOT NULL, plan text NOT NULL);
    CREATE TABLE events (
      id bigint PRIMARY KEY, tenant_id integer NOT NULL, kind text NOT NULL, created_at timestamptz NOT NULL,
      payload jsonb NOT NULL);
    INSERT INTO tenants SELECT i, ${t.word(`pg_temp.h(i, 20)`)} || ' ' || ${t.word(`pg_temp.h(i, 21)`)},
      (ARRAY['free', 'pro', 'enterprise'])[1 + pg_temp.h(i, 22) % 3] FROM generate_series(1, ${tenants}) i;
    INSERT INTO events SELECT i, 1 + pg_temp.h(i, 23) % ${tenants},
      (ARRAY['order.created', 'order.paid', 'order.shipped', 'order.refunded', 'cart.updated'])[1 + pg_temp.h(i, 24) % 5],
      ${EPOCH} + (i * interval '1 minute'),
      jsonb_build_object(
        'customer', jsonb_build_object('id', pg_temp.h(i, 25) % 50000, 'name', ${t.word(`pg_temp.h(i, 26)`)} || ' ' || ${t.word(`pg_temp.h(i, 27)`)},
          'email', ${t.word(`pg_temp.h(i, 28)`)} || (pg_temp.h(i, 29) % 1000) || '@example.org',
          'tier', (ARRAY['free', 'pro', 'enterprise'])[1 + pg_temp.h(i, 30) % 3]),
        'items', (SELECT jsonb_agg(jsonb_build_object('sku', 'SKU-' || (pg_temp.h(i * 16 + k, 31) % 100000),
                    'qty', 1 + pg_temp.h(i * 16 + k, 32) % 9, 'price', round((pg_temp.h(i * 16 + k, 33) % 100000) / 100.0, 2),
                    'title', ${t.sentence(`pg_temp.h(i * 16 + k, 34)`)}))
                  FROM generate_series(1, 1 + (pg_temp.h(i, 35) % 7)::int) k),
        'tags', jsonb_build_array(${t.word(`pg_temp.h(i, 36) % 200`)}, ${t.word(`pg_temp.h(i, 37) % 200`)}),
        'meta', jsonb_build_object('region', (ARRAY['eu-west', 'eu-central', 'us-east', 'us-west', 'ap-south'])[1 + pg_temp.h(i, 38) % 5],
          'ip', '10.' || pg_temp.h(i, 39) % 256 || '.' || pg_temp.h(i, 40) % 256 || '.' || pg_temp.h(i, 41) % 256,
          'version', 1 + pg_temp.h(i, 42) % 4, 'source', (ARRAY['web', 'ios', 'android', 'api'])[1 + pg_temp.h(i, 43) % 4]),
        'total', round((pg_temp.h(i, 44) % 10000000) / 100.0, 2),
        'paid', pg_temp.h(i, 45) % 3 > 0,
        'note', ${t.sentence(`pg_temp.h(i, 46)`)})
    FROM generate_series(1, ${events}) i;
    ALTER TABLE events ADD CONSTRAINT events_tenant_fkey FOREIGN KEY (tenant_id) REFERENCES tenants(id);
    CREATE INDEX events_payload_gin ON events USING gin (payload);
    CREATE INDEX events_customer_idx ON events ((payload -> 'customer' ->> 'id'));
    CREATE INDEX events_region_kind_idx ON events ((payload -> 'meta' ->> 'region'), kind);
    CREATE INDEX events_total_idx ON events (((payload ->> 'total')::numeric));`);
  return { tenants, events };
}

/** (d) Numeric time series: narrow rows in time order, a btree primary key and a BRIN index on time. */
async function timeSeries(c: Client, scale: number): Promise<Counts> {
  const sensors = 1_000;
  const readings = scaled(11_300_000, scale);
  await c.query(`
    CREATE TABLE sensors (id integer PRIMARY KEY, site text NOT NULL, unit text NOT NULL);
    CREATE TABLE readings (sensor_id integer NOT NULL, ts timestamptz NOT NULL, value double precision NOT NULL,
      quality smallint NOT NULL);
    INSERT INTO sensors SELECT i, 'site-' || (i % 40), (ARRAY['C', 'kPa', '%', 'V', 'A'])[1 + i % 5]
      FROM generate_series(1, ${sensors}) i;
    INSERT INTO readings SELECT 1 + i % ${sensors}, ${EPOCH} + (i / ${sensors}) * interval '10 seconds',
      round((20 + 10 * sin(i::float8 / 50000) + 4 * pg_temp.u(i, 50)) * 1000) / 1000,
      CASE WHEN pg_temp.h(i, 51) % 100 < 2 THEN 1 ELSE 0 END
    FROM generate_series(0, ${readings - 1}) i;
    ALTER TABLE readings ADD PRIMARY KEY (sensor_id, ts);
    ALTER TABLE readings ADD CONSTRAINT readings_sensor_fkey FOREIGN KEY (sensor_id) REFERENCES sensors(id);
    CREATE INDEX readings_ts_brin ON readings USING brin (ts);`);
  return { sensors, readings };
}

/** (e) Blob-heavy: 1-33 KiB files, nine in ten pseudo-random (AES of zeros, incompressible), one in ten text. */
async function blobs(c: Client, t: Text, scale: number, seed: number): Promise<Counts> {
  const files = scaled(60_000, scale);
  // pgcrypto only to make the bytes (it is part of PostgreSQL's contrib); dropped after the load.
  await c.query(`CREATE EXTENSION IF NOT EXISTS pgcrypto`);
  await c.query(`
    CREATE TABLE files (id bigint PRIMARY KEY, owner_id integer NOT NULL, name text NOT NULL, content_type text NOT NULL,
      data bytea NOT NULL, created_at timestamptz NOT NULL);
    INSERT INTO files
    WITH z AS MATERIALIZED (SELECT decode(repeat('00', 33 * 1024), 'hex') AS zeros)
    SELECT i, 1 + pg_temp.h(i, 60) % 5000, 'file-' || i || (ARRAY['.bin', '.jpg', '.pdf', '.zip', '.txt'])[1 + pg_temp.h(i, 61) % 5],
      (ARRAY['application/octet-stream', 'image/jpeg', 'application/pdf', 'application/zip', 'text/plain'])[1 + pg_temp.h(i, 61) % 5],
      CASE WHEN pg_temp.h(i, 61) % 5 = 4 AND pg_temp.h(i, 62) % 2 = 0
        THEN convert_to(left(${t.paras(`i`, `40`)}, 1024 + (pg_temp.h(i, 63) % 32768)::int), 'UTF8')
        ELSE public.encrypt_iv(substring(z.zeros FROM 1 FOR 16 * (64 + (pg_temp.h(i, 63) % 2048)::int)),
          int8send(${seed}::bigint) || int8send(7), int8send(i) || int8send(13), 'aes-cbc/pad:none') END,
      ${EPOCH} + (i * interval '15 minutes')
    FROM generate_series(1, ${files}) i, z;
    CREATE INDEX files_owner_idx ON files (owner_id);`);
  await c.query(`DROP EXTENSION pgcrypto`);
  return { files };
}

/** The 500 tables of shape (f): rows fall off like 1/k within each block of 50, so a few are large and most small. */
export const MANY_TABLES = 500;
export const manyTableName = (k: number): string => `t${String(k).padStart(3, '0')}`;
export const manyTableRows = (k: number, scale: number): number =>
  Math.max(5, Math.round((95_000 * scale) / (1 + ((k - 1) % 50))));
/** Table k's parent: an earlier table, so the foreign keys form a forest with depth. */
export const manyTableParent = (k: number, seed: number): number | null =>
  k === 1 ? null : 1 + (((Math.imul(k, 2654435761) ^ seed) >>> 0) % (k - 1));

/** (f) Many small tables: 500 tables, each but the first with a foreign key to an earlier one. */
async function manyTables(c: Client, t: Text, scale: number, seed: number): Promise<Counts> {
  const counts: Counts = {};
  for (let k = 1; k <= MANY_TABLES; k++) {
    const name = manyTableName(k);
    const rows = manyTableRows(k, scale);
    const parent = manyTableParent(k, seed);
    const parentId =
      parent === null ? 'NULL::bigint' : `1 + pg_temp.h(i, ${k * 10 + 1}) % ${manyTableRows(parent, scale)}`;
    await c.query(`
      CREATE TABLE ${name} (id bigint PRIMARY KEY, parent_id bigint, code text NOT NULL, amount numeric(12, 2) NOT NULL,
        qty integer NOT NULL, active boolean NOT NULL, created_at timestamptz NOT NULL, note text NOT NULL);
      INSERT INTO ${name} SELECT i, ${parentId}, '${name.toUpperCase()}-' || lpad(i::text, 7, '0'),
        round((pg_temp.h(i, ${k * 10 + 2}) % 10000000) / 100.0, 2), (pg_temp.h(i, ${k * 10 + 3}) % 1000)::int,
        pg_temp.h(i, ${k * 10 + 4}) % 4 > 0, ${EPOCH} + (i * interval '7 minutes'), ${t.sentence(`pg_temp.h(i, ${k * 10 + 5})`)}
      FROM generate_series(1, ${rows}) i;`);
    counts[name] = rows;
  }
  for (let k = 2; k <= MANY_TABLES; k++) {
    const name = manyTableName(k);
    await c.query(`
      ALTER TABLE ${name} ADD CONSTRAINT ${name}_parent_fkey FOREIGN KEY (parent_id) REFERENCES ${manyTableName(manyTableParent(k, seed) as number)}(id);
      CREATE INDEX ${name}_parent_idx ON ${name} (parent_id);`);
  }
  return counts;
}

export type PgShapeId = 'b' | 'c' | 'd' | 'e' | 'f';

/** Fills an empty database with shape `id`; refuses one that already has tables in `public`. */
export async function seedPostgresShape(url: string, id: PgShapeId, scale: number, seed: number): Promise<Counts> {
  const c = new Client({ connectionString: url, application_name: 'strongroom-bench-seed' });
  await c.connect();
  try {
    const existing = await c.query(`SELECT 1 FROM pg_tables WHERE schemaname = 'public' LIMIT 1`);
    if (existing.rowCount)
      throw new Error(`seeding PostgreSQL shape ${id}: the database already has tables; use an empty one`);
    // Sorting and index builds of the load: more than the 4 MB default keeps them off disk.
    await c.query(`SET work_mem = '64MB'; SET maintenance_work_mem = '256MB'`);
    const t = await helpers(c, seed, scale);
    let counts: Counts;
    switch (id) {
      case 'b':
        counts = await text(c, t, scale);
        break;
      case 'c':
        counts = await jsonb(c, t, scale);
        break;
      case 'd':
        counts = await timeSeries(c, scale);
        break;
      case 'e':
        counts = await blobs(c, t, scale, seed);
        break;
      case 'f':
        counts = await manyTables(c, t, scale, seed);
        break;
    }
    await c.query('VACUUM (ANALYZE)');
    return counts;
  } catch (err) {
    throw new Error(`seeding PostgreSQL shape ${id} failed: ${(err as Error).message}`);
  } finally {
    await c.end();
  }
}
