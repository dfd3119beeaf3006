/**
 * Which tables, types and indexes of pg_dump's sections a restore into an empty database stages
 * (pg-staged-load.ts), read from text written the way pg_dump 15 writes it. That each staged
 * object comes back as pg_dump sees it is proven against a real server in
 * pg-staged-load.int.spec.ts.
 */
import { Readable } from 'node:stream';
import type { RestoreTableInput } from '../dialect';
import { splitDump } from './pg-database-restore';
import { DEAL_MARGIN, STAGE_DEAL_BYTES, tablesToDeal } from './pg-load-pool';
import { planStaging } from './pg-staged-load';

const entry = (name: string, type: string, sql: string, schema = 'public'): string =>
  `--\n-- Name: ${name}; Type: ${type}; Schema: ${schema}; Owner: postgres\n--\n\n${sql}\n\n`;

const PRE = [
  "SET statement_timeout = 0;\nSELECT pg_catalog.set_config('search_path', '', false);\n\n",
  entry(
    'mood',
    'TYPE',
    "CREATE TYPE public.mood AS ENUM (\n    'ok',\n    'sad'\n);\n\n\nALTER TYPE public.mood OWNER TO postgres;",
  ),
  entry('span', 'TYPE', 'CREATE TYPE public.span AS RANGE (\n    subtype = integer\n);'),
  entry(
    'positive',
    'DOMAIN',
    'CREATE DOMAIN public.positive AS integer\n\tCONSTRAINT positive_check CHECK ((VALUE > 0));',
  ),
  entry(
    'plain',
    'TABLE',
    "CREATE TABLE public.plain (\n    id integer NOT NULL,\n    m public.mood DEFAULT 'ok'::public.mood,\n    note text DEFAULT 'public.mood'\n)\nWITH (fillfactor='90');\n\n\n" +
      'ALTER TABLE ONLY public.plain ALTER COLUMN note SET STORAGE EXTERNAL;\n\n\nALTER TABLE public.plain OWNER TO postgres;\n\n' +
      'SET default_table_access_method = heap;',
  ),
  entry('parted', 'TABLE', 'CREATE TABLE public.parted (\n    id integer NOT NULL\n)\nPARTITION BY RANGE (id);'),
  entry('child', 'TABLE', 'CREATE TABLE public.child (\n    id integer\n)\nINHERITS (public.plain);'),
  entry('empty', 'TABLE', 'CREATE TABLE public.empty (\n    id integer NOT NULL\n);'),
  entry('"Odd"', 'TABLE', 'CREATE TABLE app."Odd" (\n    id integer NOT NULL\n);', 'app'),
].join('');

const POST = [
  entry(
    'plain plain_pkey',
    'CONSTRAINT',
    'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_pkey PRIMARY KEY (id);',
  ),
  entry(
    'plain plain_m_key',
    'CONSTRAINT',
    'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_m_key UNIQUE (m) INCLUDE (note);',
  ),
  entry('plain_m', 'INDEX', "CREATE INDEX plain_m ON public.plain USING btree (id) WHERE (m = 'sad'::public.mood);"),
  entry('parted_id', 'INDEX', 'CREATE INDEX parted_id ON ONLY public.parted USING btree (id);'),
  entry(
    'Odd Odd_pkey',
    'CONSTRAINT',
    'ALTER TABLE ONLY app."Odd"\n    ADD CONSTRAINT "Odd_pkey" PRIMARY KEY (id);',
    'app',
  ),
  entry(
    'plain plain_fk',
    'FK CONSTRAINT',
    'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_fk FOREIGN KEY (id) REFERENCES app."Odd"(id) ON DELETE CASCADE;',
  ),
  entry(
    'plain plain_self',
    'FK CONSTRAINT',
    'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_self FOREIGN KEY ("public.x") REFERENCES public.plain(id);',
  ),
  entry(
    'plain plain_late',
    'FK CONSTRAINT',
    'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_late FOREIGN KEY (id) REFERENCES app."Odd"(id) NOT VALID;',
  ),
  entry(
    'plain plain_empty',
    'FK CONSTRAINT',
    'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_empty FOREIGN KEY (id) REFERENCES public.empty(id);',
  ),
  entry(
    'parted parted_fk',
    'FK CONSTRAINT',
    'ALTER TABLE public.parted\n    ADD CONSTRAINT parted_fk FOREIGN KEY (id) REFERENCES public.plain(id);',
  ),
].join('');

function table(name: string, bytes: number): RestoreTableInput {
  return {
    name,
    table: { name, columns: [], primaryKey: [] } as unknown as RestoreTableInput['table'],
    mode: 'replace',
    bytes,
    open: () => Promise.resolve(Readable.from([])),
  };
}

describe('planStaging', () => {
  const pre = splitDump(PRE);
  const post = splitDump(POST);
  const plan = planStaging('abc123', pre, post, [
    table('plain', 500),
    table('parted', 900),
    table('child', 10),
    table('empty', 0),
    table('app.Odd', 700),
  ]);
  const byName = new Map(plan.tables.map((t) => [t.table, t]));

  it('stages plain tables with rows, largest first, one staging schema per schema of the backup', () => {
    expect(plan.tables.map((t) => t.table)).toEqual(['app.Odd', 'plain']);
    expect(plan.schemas).toEqual(['strongroom_restore_abc123_1', 'strongroom_restore_abc123_2']);
    expect(byName.get('plain')!.stagingSchema).not.toBe(byName.get('app.Odd')!.stagingSchema);
  });

  it("creates a staged table from the dump's own CREATE TABLE, its types renamed outside strings", () => {
    const plain = byName.get('plain')!;
    const staged = `"${plain.stagingSchema}"`;
    expect(plain.setup).toEqual([
      `CREATE TABLE ${staged}."plain" (\n    id integer NOT NULL,\n    m ${staged}."mood" DEFAULT 'ok'::${staged}."mood",\n    note text DEFAULT 'public.mood'\n)\nWITH (fillfactor='90');`,
      `ALTER TABLE ONLY ${staged}."plain" ALTER COLUMN note SET STORAGE EXTERNAL;`,
    ]);
    // The main transaction moves it where the CREATE was, and keeps the settings meant for the next entry.
    expect(plain.move).toBe(
      `ALTER TABLE ${staged}."plain" SET SCHEMA "public";\nSET default_table_access_method = heap;`,
    );
    expect(plain.entry).toBe(pre.findIndex((e) => e.name === 'plain'));
  });

  it('stages enums and domains, not range types (their constructor functions would not move)', () => {
    const names = plan.types.map((t) => pre[t.entry].name);
    expect(names).toEqual(['mood', 'positive']);
    expect(plan.types[1].create).toBe(
      'CREATE DOMAIN "strongroom_restore_abc123_1"."positive" AS integer\n\tCONSTRAINT positive_check CHECK ((VALUE > 0));',
    );
    expect(plan.types[0].move).toBe('ALTER TYPE "strongroom_restore_abc123_1"."mood" SET SCHEMA "public";');
  });

  it('builds plain keys as unique indexes attached later, other indexes as written, and leaves the rest', () => {
    const plain = byName.get('plain')!;
    const staged = `"${plain.stagingSchema}"."plain"`;
    expect(plain.indexes.map((i) => [post[i.entry].name, i.build, i.attach])).toEqual([
      [
        'plain plain_pkey',
        `CREATE UNIQUE INDEX plain_pkey ON ${staged} USING btree (id);`,
        'ALTER TABLE ONLY public.plain\n    ADD CONSTRAINT plain_pkey PRIMARY KEY USING INDEX plain_pkey;',
      ],
      [
        'plain_m',
        `CREATE INDEX plain_m ON ${staged} USING btree (id) WHERE (m = 'sad'::"${plain.stagingSchema}"."mood");`,
        '',
      ],
    ]);
    // A key with INCLUDE and an index on a partitioned table stay with the main transaction.
    expect(byName.get('app.Odd')!.indexes.map((i) => i.attach)).toEqual([
      'ALTER TABLE ONLY app."Odd"\n    ADD CONSTRAINT "Odd_pkey" PRIMARY KEY USING INDEX "Odd_pkey";',
    ]);
  });

  it('adds foreign keys between staged tables on the loaders, a NOT VALID one or one to another table not', () => {
    const odd = `"${byName.get('app.Odd')!.stagingSchema}"."Odd"`;
    const plain = `"${byName.get('plain')!.stagingSchema}"."plain"`;
    expect(plan.foreignKeys.map((k) => [post[k.entry].name, k.tables, k.add])).toEqual([
      [
        'plain plain_fk',
        ['plain', 'app.Odd'],
        `LOCK TABLE ${[odd, plain].sort().join(', ')} IN SHARE ROW EXCLUSIVE MODE;\n` +
          `ALTER TABLE ONLY ${plain}\n    ADD CONSTRAINT plain_fk FOREIGN KEY (id) REFERENCES ${odd}(id) ON DELETE CASCADE;`,
      ],
      [
        'plain plain_self',
        ['plain', 'plain'],
        `LOCK TABLE ${plain} IN SHARE ROW EXCLUSIVE MODE;\n` +
          `ALTER TABLE ONLY ${plain}\n    ADD CONSTRAINT plain_self FOREIGN KEY ("public.x") REFERENCES ${plain}(id);`,
      ],
    ]);
  });

  it('stages nothing, types included, when no table has rows', () => {
    const none = planStaging('abc123', pre, post, [table('plain', 0)]);
    expect(none).toEqual({
      token: 'abc123',
      preamble: expect.any(String),
      schemas: expect.any(Array),
      types: [],
      tables: [],
      foreignKeys: [],
    });
  });
});

describe('tablesToDeal', () => {
  const MiB = 1024 * 1024;
  const t = (table: string, mib: number) => ({ table, bytes: mib * MiB });

  it.each([
    ['one table of most of the database (shape b)', [t('articles', 900), t('authors', 20)], 2, ['articles']],
    [
      'two large tables of like sizes keep both loaders busy',
      [t('tasks', 400), t('comments', 350), t('audit', 150)],
      2,
      [],
    ],
    [
      'a table a little larger than the rest is not dealt out (shape a: 480 MB against 440 MB)',
      [t('tasks', 458), t('comments', 311), t('audit', 108), t('projects', 0.4)],
      2,
      [],
    ],
    ['a table larger than the rest by the margin is', [t('big', 500), t('rest', 500 / DEAL_MARGIN - 1)], 2, ['big']],
    [
      'larger by the margin than the rest shared among two other loaders',
      [t('big', 600), t('x', 400), t('y', 400)],
      3,
      ['big'],
    ],
    ['not at exactly the margin', [t('big', 500), t('x', 400)], 2, []],
    ['not with one loader', [t('big', 900)], 1, []],
    ['not below the size floor', [{ table: 'big', bytes: STAGE_DEAL_BYTES - 1 }], 2, []],
  ])('%s', (_label, tables, parallel, expected) => {
    expect([...tablesToDeal(tables, parallel)]).toEqual(expected);
  });
});
