/**
 * Property: no request, however hostile, gets a 5xx, nor a status its operation does not document. For every operation in the OpenAPI
 * document (/docs-json), fast-check builds requests from the operation's own parameters and
 * body schema, mixed with hostile variations: nesting beyond and within the depth limit,
 * oversized bodies, charsets, content types and encodings, NUL bytes, ISO-8601 forms Date
 * cannot read, numeric cursors, nulls and wrong types; sent with a valid admin key and
 * anonymously. Bounded (RUNS per operation and identity) so it stays well under a minute.
 * The seed is fixed for a reproducible CI; FUZZ_SEED=<n> explores others.
 */
import fc from 'fast-check';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { encodeCursor } from '../../src/common/pagination';
import { ENGINES } from '../support/databases';
import { createTestApp, TestApp } from '../support/test-app';

const RUNS = Number(process.env.FUZZ_RUNS ?? 6);
const SEED = Number(process.env.FUZZ_SEED ?? 20261130);

interface Schema {
  type?: string;
  enum?: unknown[];
  format?: string;
  items?: Schema;
  properties?: Record<string, Schema>;
  $ref?: string;
  allOf?: Schema[];
}
interface Parameter {
  name: string;
  in: 'path' | 'query' | 'header';
  schema?: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, unknown>;
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const ISO_EDGES = [
  '2020-W01',
  '2020-01-01T10Z',
  '+275760-09-13T00:00:00.001Z',
  '2020-02-30',
  '0000-00-00T00:00:00Z',
  '2020-01-01T24:00:00Z',
  '2020-001',
  '2024-01-31T12:00:00Z',
  '2020-01-01',
];
const CURSORS = [
  encodeCursor([1e308]),
  encodeCursor([-1]),
  encodeCursor([1.5]),
  encodeCursor([1]),
  encodeCursor(['x', 'y']),
  encodeCursor([1e308, 'x']),
  encodeCursor(['2020-01-01T00:00:00.000Z', '00000000-0000-4000-8000-000000000000']),
  encodeCursor(['2020-W01', 'a\u0000']),
  'garbage',
  '',
  Buffer.from('[[[[[[').toString('base64url'),
];
const HOSTILE_STRINGS = [
  '',
  'a\u0000b',
  '\u0000',
  'x'.repeat(3000),
  '../../etc/passwd',
  '💥\uD800',
  ' ',
  'null',
  '1e308',
  ...ISO_EDGES,
];
const HOSTILE_VALUES: unknown[] = [
  null,
  -1,
  0,
  1.5,
  1e308,
  -1e308,
  true,
  false,
  [],
  {},
  [null],
  { a: { b: 'c' } },
  ...HOSTILE_STRINGS,
];

const deepArrays = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
const deepObjects = (n: number) => `${'{"a":'.repeat(n)}1${'}'.repeat(n)}`;
const RAW_BODIES = [
  deepArrays(33),
  deepArrays(10_000),
  deepObjects(31),
  deepObjects(5000),
  `{"x":${deepArrays(30)}}`,
  '{',
  '{"a":',
  'null',
  '"s"',
  '[]',
  '[{}]',
  '1',
  '',
  ' ',
  '{"a\\u0000b":1}',
  '{"__proto__":{"polluted":1}}',
  '{"constructor":{"prototype":{"polluted":1}}}',
  `{"name":"${'x'.repeat(200_000)}"}`,
  '\u0000',
  '\uFEFF{}',
  '{"a":1,"a":2}',
];
const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=nope',
  'application/json; charset=utf-16',
  'application/json; charset="UTF-8"',
  'application/merge-patch+json',
  'text/plain',
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=nope',
  'multipart/form-data; boundary=zz',
  'multipart/form-data',
  'application/json;;;',
  'x/y; charset=',
  '',
  'application/octet-stream',
];
const ENCODINGS = ['identity', 'none', 'gzip', 'gzip-fake', 'deflate', 'br', 'nope', 'zstd', 'gzip, gzip'];
const MULTIPART =
  '--zz\r\nContent-Disposition: form-data; name="file"; filename="x.tar"\r\nContent-Type: application/octet-stream\r\n\r\nnot an archive\r\n--zz--\r\n';

function resolve(doc: OpenApi, s: Schema | undefined, depth = 0): Schema {
  if (!s || depth > 5) return {};
  if (s.$ref) return resolve(doc, doc.components.schemas[s.$ref.split('/').pop() as string], depth + 1);
  if (s.allOf?.length) return resolve(doc, s.allOf[0], depth + 1);
  return s;
}

/** A value the schema asks for, or now and then one it does not. */
function valueArb(doc: OpenApi, schema: Schema | undefined, ids: string[], depth = 0): fc.Arbitrary<unknown> {
  const s = resolve(doc, schema);
  let good: fc.Arbitrary<unknown>;
  if (s.enum?.length) good = fc.constantFrom(...s.enum);
  else if (s.type === 'boolean') good = fc.boolean();
  else if (s.type === 'integer' || s.type === 'number')
    good = fc.oneof(fc.integer({ min: -5, max: 300 }), fc.double({ noNaN: true, noDefaultInfinity: true }));
  else if (s.type === 'array')
    good = depth > 3 ? fc.constant([]) : fc.array(valueArb(doc, s.items, ids, depth + 1), { maxLength: 4 });
  else if (s.type === 'object' || s.properties) good = depth > 3 ? fc.constant({}) : objectArb(doc, s, ids, depth + 1);
  else if (s.format === 'uuid') good = fc.oneof(fc.uuid(), fc.constantFrom(...ids));
  else good = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(...ISO_EDGES), fc.constantFrom(...ids));
  return fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: fc.constantFrom(...HOSTILE_VALUES) });
}

function objectArb(doc: OpenApi, s: Schema, ids: string[], depth: number): fc.Arbitrary<Record<string, unknown>> {
  const props = Object.fromEntries(
    Object.entries(s.properties ?? {}).map(([k, v]) => [k, valueArb(doc, v, ids, depth)]),
  );
  const known = fc.record(props, { requiredKeys: [] });
  return fc
    .tuple(
      known,
      fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.constantFrom(...HOSTILE_VALUES), { maxKeys: 2 }), {
        nil: undefined,
      }),
    )
    .map(([a, extra]) => ({ ...(extra ?? {}), ...a }));
}

/** encodeURIComponent, except that a lone surrogate goes out as the invalid UTF-8 it would be (%ED%A0%80): hostile too. */
function enc(v: string): string {
  return v
    .split(/([\uD800-\uDFFF])/)
    .map((part) => (/^[\uD800-\uDFFF]$/.test(part) ? '%ED%A0%80' : encodeURIComponent(part)))
    .join('');
}

function formEncode(value: unknown): string {
  if (!value || typeof value !== 'object') return `v=${enc(String(value))}`;
  return Object.entries(value as Record<string, unknown>)
    .map(([k, v]) => `${enc(k)}=${enc(typeof v === 'object' ? JSON.stringify(v) : String(v))}`)
    .concat(`deep${'[a]'.repeat(40)}=1`)
    .join('&');
}

function encode(body: Buffer, encoding: string): { bytes: Buffer; header?: string } {
  switch (encoding) {
    case 'none':
      return { bytes: body };
    case 'gzip':
      return { bytes: gzipSync(body), header: 'gzip' };
    case 'deflate':
      return { bytes: deflateSync(body), header: 'deflate' };
    case 'br':
      return { bytes: brotliCompressSync(body), header: 'br' };
    case 'gzip-fake':
      return { bytes: body, header: 'gzip' };
    default:
      return { bytes: body, header: encoding };
  }
}

interface FuzzRequest {
  path: string;
  query: string;
  contentType: string;
  encoding: string;
  body: string | null;
  anonymous: boolean;
}

function requestArb(doc: OpenApi, pathTemplate: string, op: Operation, ids: string[]): fc.Arbitrary<FuzzRequest> {
  const params = op.parameters ?? [];
  const pathParams = params.filter((p) => p.in === 'path');
  const pathArb = fc
    .tuple(
      ...pathParams.map(() =>
        fc.oneof(
          fc.constantFrom(...ids),
          fc.uuid(),
          fc.constantFrom('not-a-uuid', '%00', 'x'.repeat(500), '..%2F..', '%E2%80%AE', '-1', '1e308'),
        ),
      ),
    )
    .map((values) =>
      pathParams.reduce(
        (p, param, i) => p.replace(`{${param.name}}`, values[i].includes('%') ? values[i] : enc(values[i])),
        pathTemplate,
      ),
    );
  const queryParams = params.filter((p) => p.in === 'query');
  const queryArb = fc
    .tuple(
      ...queryParams.map((p) =>
        fc.option(
          p.name === 'cursor'
            ? fc.constantFrom(...CURSORS).map((c) => [c])
            : fc.array(
                valueArb(doc, p.schema, ids).map((v) => (typeof v === 'object' ? JSON.stringify(v) : String(v))),
                { minLength: 1, maxLength: 2 },
              ),
          { nil: undefined },
        ),
      ),
      fc.option(fc.constantFrom('unknown=1', 'key=sr_secret', '__proto__[x]=1', 'a[b][c][d]=1'), { nil: undefined }),
    )
    .map(([...parts]) => {
      const extra = parts.pop() as string | undefined;
      const pairs = (parts as (string[] | undefined)[]).flatMap((values, i) =>
        (values ?? []).map((v) => `${enc(queryParams[i].name)}=${enc(v)}`),
      );
      return [...pairs, ...(extra ? [extra] : [])].join('&');
    });
  const bodySchema = op.requestBody ? Object.values(op.requestBody.content)[0]?.schema : undefined;
  const structured = bodySchema ? valueArb(doc, bodySchema, ids) : fc.constantFrom<unknown>({}, { x: 1 }, null);
  const bodyArb = fc.oneof(
    { weight: 4, arbitrary: structured.map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 2, arbitrary: fc.constantFrom(...RAW_BODIES) },
    { weight: 1, arbitrary: fc.constant(null) },
    { weight: 1, arbitrary: fc.constant(MULTIPART) },
  );
  return fc.record({
    path: pathArb,
    query: queryArb,
    contentType: fc.oneof(
      { weight: 3, arbitrary: fc.constant('application/json') },
      { weight: 2, arbitrary: fc.constantFrom(...CONTENT_TYPES) },
    ),
    encoding: fc.oneof(
      { weight: 3, arbitrary: fc.constant('none') },
      { weight: 1, arbitrary: fc.constantFrom(...ENCODINGS) },
    ),
    body: bodyArb,
    anonymous: fc.boolean(),
  });
}

describe.each(ENGINES)('fuzzing every OpenAPI operation on %s', (engine) => {
  let t: TestApp;
  let doc: OpenApi;
  const ids: string[] = [];
  beforeAll(async () => {
    t = await createTestApp(engine, { THROTTLE_LIMIT: '1000000', THROTTLE_EXPENSIVE_LIMIT: '1000000' });
    doc = (await request(t.http).get('/docs-json').expect(200)).body as OpenApi;
    // Real ids too, so requests reach past the 404s into the handlers.
    const admin = { Authorization: `Bearer ${t.adminKey}` };
    ids.push((await request(t.http).post('/api/backups').set(admin).send({ type: 'audit' }).expect(202)).body.id);
    ids.push(
      (
        await request(t.http)
          .post('/api/schedules')
          .set(admin)
          .send({ name: 'fuzz', cron: '0 3 * * *', enabled: false })
          .expect(201)
      ).body.id,
    );
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers every generated request with a status below 500', async () => {
    const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ path, method, op })),
    );
    expect(operations.length).toBeGreaterThan(25);
    const failures: string[] = [];
    // A status the operation does not list is drift in the document (one line per operation and status).
    const undocumented = new Map<string, string>();
    let sent = 0;
    for (const { path, method, op } of operations) {
      const seed = SEED + sent;
      const before = failures.length;
      await fc
        .assert(
          fc.asyncProperty(requestArb(doc, path, op, ids), async (r) => {
            sent++;
            const url = `${r.path}${r.query ? `?${r.query}` : ''}`;
            let req = request(t.http)[method as 'get'](url);
            if (!r.anonymous) req = req.set('Authorization', `Bearer ${t.adminKey}`);
            if (r.body !== null && method !== 'get') {
              const raw =
                r.contentType.startsWith('application/x-www-form-urlencoded') &&
                r.body.startsWith('{') &&
                r.body.length < 4000
                  ? formEncode(safeParse(r.body))
                  : r.body;
              const { bytes, header } = encode(Buffer.from(raw, 'utf8'), r.encoding);
              if (r.contentType) req = req.set('Content-Type', r.contentType);
              if (header) req = req.set('Content-Encoding', header);
              req = req.serialize((b: unknown) => b as string).send(bytes as unknown as string);
            }
            const what = `${method.toUpperCase()} ${url.slice(0, 200)} ${r.anonymous ? 'anonymous' : 'admin'} ${r.contentType} ${r.encoding} body=${JSON.stringify(r.body?.slice(0, 120))}`;
            let res: request.Response;
            try {
              res = await req;
            } catch (e) {
              failures.push(`${what} -> no answer: ${(e as Error).message}`);
              return false;
            }
            if (res.status >= 500) failures.push(`${what} -> ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
            if (!(String(res.status) in op.responses))
              undocumented.set(`${method.toUpperCase()} ${path} -> ${res.status}`, what.slice(0, 200));
            return res.status < 500;
          }),
          { numRuns: RUNS * 2, seed, endOnFailure: true },
        )
        .catch((e: Error) => {
          // 5xx answers are collected in failures (so one run names every failing operation); anything else is a broken test.
          if (failures.length === before) failures.push(`${method.toUpperCase()} ${path}: ${e.message.slice(0, 600)}`);
        });
    }
    expect(failures).toEqual([]);
    expect([...undocumented].map(([k, example]) => `${k} (e.g. ${example})`)).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(operations.length * RUNS * 2);
  });
});

function safeParse(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
}
