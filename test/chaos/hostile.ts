/**
 * Hostile requests: what an attacker or a broken client sends, on every route the OpenAPI
 * document lists (plus some it does not). The contract: never a 5xx (a 503 for maintenance
 * mode aside), never a dropped connection.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import type { Prng } from '../../bench/prng';
import type { Engine } from '../support/databases';
import { createInstance } from './instance';
import { FamilyResult, newResult, outOfTime } from './report';
import { Server, sleep } from './service';
import { seedTarget } from './target';

export interface HostileOptions {
  requests: number;
  stopAt: number;
  prng: Prng;
  log(line: string): void;
  logCopy(label: string): string;
  /** Largest body sent, in bytes (quick mode keeps it small). */
  maxBody?: number;
}

interface Route {
  method: string;
  path: string;
}

interface Attack {
  category: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer;
  anonymous?: boolean;
}

/** Routes that would put the whole instance in a state where every later answer is a legitimate 503 or 401. */
const SPARED = [/^PUT \/api\/maintenance/, /^DELETE \/api\/keys\/\{/];

const enc = (s: string) => encodeURIComponent(s);

function nest(depth: number, kind: 'array' | 'object'): string {
  return kind === 'array'
    ? `${'['.repeat(depth)}1${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
}

const MALFORMED = [
  '{',
  '}',
  '{"a":}',
  '[1,2',
  'nul',
  '{"description": "x",}',
  "{'description': 'x'}",
  '{"a":1}{"b":2}',
  '\ufeff{"description":"bom"}',
  'NaN',
  '1e999999',
  '-',
  '""',
  'true',
  'null',
  '[]',
  '{"description": 1e999999}',
  '{"description": "\\ud800"}',
  '{"description": "\\x41"}',
  '{"__proto__": {"admin": true}}',
  '{"constructor": {"prototype": {"admin": true}}}',
  '{"tags": {"length": 1e9}}',
  '{"tags": "a"}',
  '{"type": {"$ne": null}}',
  '{"limit": -1}',
  '{"backupId": ["a"]}',
  '{"name": null, "role": null}',
  '{"tags": null}',
  '{}',
  '{"pinned": "yes"}',
  '{"cron": "* * * * * * * *"}',
  '{"timezone": "Mars/Olympus"}',
  '{"deep": "maybe"}',
  '{"confirm": 12}',
];

const DATES = [
  '2020-W01',
  '2020-W01-1',
  '2020-01-01T10Z',
  '2020-001',
  '+275760-09-13T00:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-271821-04-19T00:00:00Z',
  '-000001-01-01',
  '2020-02-30',
  '2020-13-01',
  '9999-12-31T23:59:60Z',
  '1e308',
  '',
  ' ',
  '2020-01-01T00:00:00+99:99',
  '2020-01-01T24:00:00Z',
  '1'.repeat(400),
  'now',
  'null',
  '0',
  '-1',
  '2020-01-01T00:00:00.123456789012Z',
  '20200101',
  '2020-01-01T00:00Z',
  '2020-01-01 00:00:00',
  '\u0000',
  '2020-01-01T00:00:00Z\u0000',
  '２０２０-01-01',
];

function b64(v: unknown): string {
  return Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
}

const CURSORS = [
  '1e308',
  '-1',
  '0',
  'NaN',
  'Infinity',
  '!!!',
  '%',
  '\u0000',
  'a'.repeat(499),
  'a'.repeat(5000),
  b64([]),
  b64([1e308, 'x']),
  b64(['x']),
  b64([null, null]),
  b64({ a: 1 }),
  b64(['2020-01-01T00:00:00Z', '\u0000']),
  b64([1, 2, 3]),
  b64([1e308, 1e308]),
  b64(['2020-W01', 'x']),
  b64('1e308'),
  b64('not json'),
  b64([{ a: 1 }, 'x']),
  b64(["' OR 1=1 --", 'x']),
  b64([-1, -1]),
  b64(['x'.repeat(300), 'y']),
  b64([1.5, 'x']),
];

const IDS = [
  '..',
  '.',
  '%2e%2e',
  '..%2f..%2fetc%2fpasswd',
  '..%5c..%5cwindows',
  'a'.repeat(300),
  '00000000-0000-0000-0000-000000000000',
  randomUUID().toUpperCase(),
  `${randomUUID()}%00`,
  '%00',
  '%ff',
  '%c0%ae%c0%ae',
  '-1',
  '1e308',
  '0x10',
  'null',
  'undefined',
  enc('💥'),
  '%2F',
  '%20',
  `${randomUUID()}.json`,
  `${randomUUID()}%2F..`,
  "1' OR '1'='1",
  '9'.repeat(40),
  '18446744073709551616',
  '__proto__',
  'constructor',
];

const CHARSETS = [
  'application/json; charset=nope',
  'application/json; charset=utf-16',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=',
  'application/json; charset="utf-8"; charset=ascii',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data',
  'multipart/form-data; boundary=',
  'application/xml',
  'application/json; boundary=x',
  '*/*',
  'application/json;;;',
  'application/vnd.api+json',
  'application/json; charset=utf-32',
];

const ENCODINGS = ['gzip', 'deflate', 'br', 'identity, nope', 'x-unknown', 'gzip, gzip', 'compress', 'zstd', ''];

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'HEAD'];

function fill(path: string, id: string): string {
  return path.replace(/\{[^}]+\}/g, id);
}

function craftedArchive(prng: Prng): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<Buffer>((res) => pack.on('end', () => res(Buffer.concat(chunks))));
  const manifest = JSON.stringify({
    id: prng.pick(['..', '../../etc', 'a'.repeat(300), '', '\u0000', randomUUID()]),
    format: 1,
    tables: [{ name: '../x', part: { key: '../../escape' } }],
  });
  pack.entry(
    { name: prng.pick(['manifest.json', '../manifest.json', '/abs/manifest.json', 'backups/../../manifest.json']) },
    manifest,
  );
  pack.entry({ name: '../../outside.txt' }, 'escaped');
  pack.entry({ name: 'link', type: 'symlink', linkname: '/etc/passwd' });
  pack.finalize();
  return done;
}

function multipart(file: Buffer, field = 'file'): { body: Buffer; type: string } {
  const boundary = `hostile${randomBytes(6).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="x.tar"\r\nContent-Type: application/x-tar\r\n\r\n`,
  );
  return {
    body: Buffer.concat([head, file, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

async function makeAttack(
  i: number,
  routes: Route[],
  bodyRoutes: Route[],
  listRoutes: Route[],
  idRoutes: Route[],
  knownId: string,
  prng: Prng,
  maxBody: number,
): Promise<Attack> {
  const json = { 'content-type': 'application/json' };
  const bodyRoute = () => prng.pick(bodyRoutes);
  const concrete = (r: Route) => fill(r.path, prng.next() < 0.5 ? knownId : randomUUID());
  switch (i % 14) {
    case 0: {
      const r = bodyRoute();
      return {
        category: 'malformed JSON',
        method: r.method,
        path: concrete(r),
        headers: json,
        body: Buffer.from(prng.pick(MALFORMED)),
      };
    }
    case 1: {
      const r = bodyRoute();
      const depth = prng.pick([64, 500, 1000, 5000, 10_000, 50_000, 100_000]);
      const kind = prng.pick(['array', 'object'] as const);
      const inner = nest(depth, kind);
      const body = prng.next() < 0.5 ? inner : `{"tags":${inner},"description":${inner}}`;
      return { category: 'deep nesting', method: r.method, path: concrete(r), headers: json, body: Buffer.from(body) };
    }
    case 2: {
      const r = bodyRoute();
      const size = prng.pick([100_000, 200_000, 1 << 20, 5 << 20, 20 << 20].filter((s) => s <= maxBody));
      const shape = prng.pick(['string', 'tags', 'keys']);
      const body =
        shape === 'string'
          ? `{"description":"${'a'.repeat(size)}"}`
          : shape === 'tags'
            ? `{"tags":[${Array.from({ length: Math.floor(size / 4) }, () => '"t"').join(',')}]}`
            : `{${Array.from({ length: Math.floor(size / 12) }, (_, k) => `"k${k}":1`).join(',')}}`;
      return { category: 'huge body', method: r.method, path: concrete(r), headers: json, body: Buffer.from(body) };
    }
    case 3: {
      const r = bodyRoute();
      const ct = prng.pick(CHARSETS);
      const payload = prng.pick([
        Buffer.from('{"description":"caf\xe9"}', 'latin1'),
        Buffer.from([0x7b, 0x22, 0x64, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0xc0, 0xaf, 0x22, 0x7d]),
        Buffer.from('{"description":"x"}', 'utf16le'),
        Buffer.from('description=x&tags=y'),
      ]);
      return {
        category: 'bad charset',
        method: r.method,
        path: concrete(r),
        headers: { 'content-type': ct },
        body: payload,
      };
    }
    case 4: {
      const r = bodyRoute();
      const e = prng.pick(ENCODINGS);
      const plain = Buffer.from('{"description":"x"}');
      const body =
        prng.next() < 0.3 ? gzipSync(Buffer.from(nest(20_000, 'array'))) : prng.next() < 0.5 ? plain : randomBytes(64);
      return {
        category: 'bad content-encoding',
        method: r.method,
        path: concrete(r),
        headers: { ...json, 'content-encoding': e },
        body,
      };
    }
    case 5: {
      const r = bodyRoute();
      const field = prng.pick([
        'description',
        'name',
        'tags',
        'cron',
        'timezone',
        'confirm',
        'backupId',
        'type',
        'mode',
        'reason',
        'role',
      ]);
      const value = prng.pick([
        '\u0000',
        'a\u0000b',
        '\u0000'.repeat(1000),
        `${randomUUID()}\u0000`,
        '\ud800',
        '\u202e\u0000',
      ]);
      const body = JSON.stringify({
        [field]: field === 'tags' ? [value] : value,
        ...(field === 'name' ? { role: 'auditor' } : {}),
      });
      return { category: 'NUL bytes', method: r.method, path: concrete(r), headers: json, body: Buffer.from(body) };
    }
    case 6: {
      const r = prng.pick(listRoutes);
      const q =
        prng.next() < 0.5
          ? `from=${enc(prng.pick(DATES))}`
          : `to=${enc(prng.pick(DATES))}&from=${enc(prng.pick(DATES))}`;
      return { category: 'weird dates', method: 'GET', path: `${concrete(r)}?${q}` };
    }
    case 7: {
      const r = prng.pick(listRoutes);
      return {
        category: 'weird cursors',
        method: 'GET',
        path: `${concrete(r)}?cursor=${enc(prng.pick(CURSORS))}${prng.next() < 0.3 ? '&limit=1' : ''}`,
      };
    }
    case 8: {
      const r = prng.pick(idRoutes);
      const body = r.method === 'GET' || r.method === 'DELETE' ? undefined : Buffer.from('{}');
      return {
        category: 'bad ids',
        method: r.method,
        path: fill(r.path, prng.pick(IDS)),
        headers: body ? json : undefined,
        body,
      };
    }
    case 9: {
      const r = prng.pick(routes);
      const declared = new Set(routes.filter((x) => x.path === r.path).map((x) => x.method));
      const m = prng.pick(METHODS.filter((x) => !declared.has(x)).concat(['TRACE', 'PROPFIND']));
      return {
        category: 'wrong methods',
        method: m,
        path: concrete(r),
        headers: json,
        body: m === 'GET' || m === 'HEAD' ? undefined : Buffer.from('{}'),
      };
    }
    case 10: {
      const r = prng.pick(listRoutes);
      const q = prng.pick([
        'limit=-1',
        'limit=0',
        'limit=201',
        'limit=1e308',
        'limit=abc',
        'limit[]=1',
        'limit=1&limit=2',
        'status[]=x&status[]=y',
        'status=%00',
        'type=__proto__',
        '__proto__[x]=1',
        'constructor[prototype][x]=1',
        `tag=${'%25'.repeat(100)}`,
        `q=${'x'.repeat(6000)}`,
        'format=../../etc',
        'format=xml',
        'size=-1',
        'size=1e308',
        'from=1&to=0',
        'seq=1e308',
        'outcome=%ff',
        'actor=..',
        'resourceId=%00',
        'limit=0x10',
        'limit=1.5',
        'limit= 5',
      ]);
      return { category: 'garbage query', method: 'GET', path: `${concrete(r)}?${q}` };
    }
    case 11: {
      const r = prng.pick(routes);
      const h = prng.pick<Record<string, string>>([
        { authorization: 'Bearer' },
        { authorization: `Bearer ${'a'.repeat(5000)}` },
        { authorization: 'Basic YWRtaW46YWRtaW4=' },
        { 'x-api-key': 'x'.repeat(8000) },
        { 'x-api-key': 'caf\u00e9' },
        { 'x-request-id': 'r'.repeat(4000) },
        { 'x-request-id': '../../etc' },
        { 'x-forwarded-for': '1.2.3.4, ::1, <script>' },
        { authorization: 'Bearer a', 'x-api-key': 'b' },
        { accept: 'application/xml' },
        { range: 'bytes=-1' },
        { 'if-none-match': '*' },
      ]);
      return {
        category: 'hostile headers',
        method: r.method,
        path: concrete(r),
        headers: h,
        anonymous: true,
        body: r.method === 'GET' ? undefined : Buffer.from('{}'),
      };
    }
    case 12: {
      const kind = prng.pick(['random', 'empty', 'crafted', 'wrong field', 'no file', 'gzip bomb-ish']);
      let file: Buffer;
      if (kind === 'random') file = randomBytes(prng.int(1, 200_000));
      else if (kind === 'empty') file = Buffer.alloc(0);
      else if (kind === 'gzip bomb-ish') file = gzipSync(Buffer.alloc(50 << 20));
      else file = await craftedArchive(prng);
      if (kind === 'no file')
        return {
          category: 'hostile archives',
          method: 'POST',
          path: '/api/backups/import',
          headers: json,
          body: Buffer.from('{}'),
        };
      const m = multipart(file, kind === 'wrong field' ? 'archive' : 'file');
      return {
        category: 'hostile archives',
        method: 'POST',
        path: '/api/backups/import',
        headers: { 'content-type': m.type },
        body: m.body,
      };
    }
    default: {
      const p = prng.pick([
        '/api/backups/%',
        '/api//backups',
        '/api/backups/..%2f',
        '/%2e%2e/etc/passwd',
        '/api/audit/%ff/proof',
        '/api/backups/%E0%A4%A',
        '/docs/../../etc/passwd',
        '/api/%00',
        `/api/${'a/'.repeat(500)}`,
        '/api/backups?%',
        '/api/backups?a=%zz',
        '/health/%2e%2e',
        '/metrics?x=%00',
      ]);
      return { category: 'odd paths', method: prng.pick(['GET', 'POST']), path: p };
    }
  }
}

export async function hostileCampaign(engine: Engine, o: HostileOptions): Promise<FamilyResult> {
  const result = newResult('Hostile requests', engine);
  const inst = await createInstance(engine, 'hostile');
  let server: Server | null = null;
  const statuses = new Map<string, Map<number, number>>();
  try {
    await seedTarget(inst.db, 500);
    server = await inst.start();
    const b = await inst.api(server, 'POST', '/api/backups', { body: {} });
    if (b.status !== 202) throw new Error(`setup backup answered ${b.status}`);
    const knownId = b.json().id as string;
    for (let i = 0; i < 300; i++) {
      const s = (await inst.api(server, 'GET', `/api/backups/${knownId}`)).json().status;
      if (s === 'completed' || s === 'failed') break;
      await sleep(200);
    }
    const doc = (await inst.api(server, 'GET', '/docs-json')).json() as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes: Route[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const m of Object.keys(ops)) {
        const r = { method: m.toUpperCase(), path };
        if (!SPARED.some((re) => re.test(`${r.method} ${r.path}`))) routes.push(r);
      }
    }
    const bodyRoutes = routes.filter((r) => ['POST', 'PATCH', 'PUT'].includes(r.method));
    const listRoutes = routes.filter((r) => r.method === 'GET' && !/\{/.test(r.path) && /^\/api\//.test(r.path));
    const idRoutes = routes.filter((r) => /\{/.test(r.path));
    result.notes.push(
      `Routes from the OpenAPI document: ${routes.length} (${bodyRoutes.length} with a body, ${listRoutes.length} lists, ${idRoutes.length} with a path parameter); spared: ${SPARED.map(String).join(', ')} (they would make later answers legitimately 503 or 401).`,
    );
    const maxBody = o.maxBody ?? 20 << 20;
    for (let i = 0; i < o.requests; i++) {
      if (outOfTime(result, o.stopAt, i, o.requests, 'hostile requests')) break;
      const a = await makeAttack(i, routes, bodyRoutes, listRoutes, idRoutes, knownId, o.prng, maxBody);
      result.trials++;
      const trial = `#${i + 1} ${a.category}: ${a.method} ${a.path.slice(0, 120)}${a.body ? ` (${a.body.length} bytes${a.headers?.['content-type'] ? `, ${a.headers['content-type']}` : ''}${a.headers?.['content-encoding'] !== undefined ? `, content-encoding ${a.headers['content-encoding']}` : ''})` : ''}`;
      const per = statuses.get(a.category) ?? new Map<number, number>();
      statuses.set(a.category, per);
      try {
        const r = await inst.api(server, a.method, a.path, {
          raw: a.body,
          headers: a.headers,
          key: a.anonymous ? undefined : inst.adminKey,
          timeoutMs: 120_000,
        });
        per.set(r.status, (per.get(r.status) ?? 0) + 1);
        const maintenance = r.status === 503 && /maintenance/i.test(r.body.toString());
        if (r.status >= 500 && !maintenance)
          result.failures.push({ trial, check: 'no 5xx', detail: `${r.status} ${r.body.toString().slice(0, 200)}` });
      } catch (e) {
        per.set(0, (per.get(0) ?? 0) + 1);
        result.failures.push({ trial, check: 'no dropped connection', detail: (e as Error).message });
      }
      if (!server.alive()) {
        result.failures.push({
          trial,
          check: 'the server survives',
          detail: 'the server process exited; restarted it',
        });
        server = await inst.start();
      }
      if ((i + 1) % 100 === 0) o.log(`  ${engine}: ${i + 1}/${o.requests} hostile requests`);
    }
    const lines = ['| Category | Requests | Status codes (0 = no answer) |', '|---|---:|---|'];
    for (const [cat, per] of statuses) {
      const n = [...per.values()].reduce((s, x) => s + x, 0);
      lines.push(
        `| ${cat} | ${n} | ${[...per]
          .sort((x, y) => x[0] - y[0])
          .map(([s, c]) => `${s} × ${c}`)
          .join(', ')} |`,
      );
    }
    result.tables = [lines.join('\n')];
  } catch (e) {
    result.failures.push({
      trial: 'campaign',
      check: 'harness could not continue',
      detail: (e as Error).stack ?? String(e),
    });
  } finally {
    if (server) await server.stop().catch(() => undefined);
    await inst.dispose(o.logCopy(`hostile-${engine}`));
  }
  return result;
}
