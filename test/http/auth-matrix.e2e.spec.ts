/**
 * Every route the router knows, with the least role it needs. A route missing from this
 * table fails the suite, so a new route cannot ship without a decision on who may call it.
 */
import request from 'supertest';
import type { Role } from '../../src/auth/roles';
import { ENGINES } from '../support/databases';
import { createTestApp, TestApp } from '../support/test-app';
import { listRoutes } from '../support/routes';

type Rule = Role | 'public';
const ROUTE_ROLES: Record<string, Rule> = {
  'GET /health': 'public',
  'GET /docs': 'public',
  'GET /docs-json': 'public',
  'GET /docs-yaml': 'public',
  'POST /api/keys': 'admin',
  'GET /api/keys': 'admin',
  'GET /api/keys/me': 'auditor',
  'DELETE /api/keys/:id': 'admin',
  'GET /api/audit': 'auditor',
  'GET /api/audit/verify': 'auditor',
  'GET /api/audit/export': 'auditor',
  'GET /api/audit/public-key': 'public',
  'GET /api/audit/checkpoints': 'auditor',
  'GET /api/audit/checkpoints/latest': 'auditor',
  'GET /api/audit/consistency': 'auditor',
  'GET /api/audit/:seq/proof': 'auditor',
  'POST /api/backups': 'operator',
  'GET /api/backups': 'auditor',
  'GET /api/backups/stats': 'auditor',
  'POST /api/backups/import': 'admin',
  'POST /api/backups/rescan': 'admin',
  'GET /api/backups/:id': 'auditor',
  'PATCH /api/backups/:id': 'operator',
  'DELETE /api/backups/:id': 'admin',
  'GET /api/backups/:id/download': 'admin',
  'POST /api/backups/:id/verify': 'operator',
  'POST /api/backups/:id/cancel': 'operator',
  'POST /api/recoveries': 'operator',
  'GET /api/recoveries': 'auditor',
  'GET /api/recoveries/:id': 'auditor',
  'POST /api/recoveries/:id/rollback': 'admin',
  'POST /api/recoveries/:id/cancel': 'admin',
  'GET /api/scopes': 'auditor',
  'POST /api/scopes': 'admin',
  'GET /api/scopes/:name': 'auditor',
  'PATCH /api/scopes/:name': 'admin',
  'DELETE /api/scopes/:name': 'admin',
  'GET /api/schedules': 'auditor',
  'POST /api/schedules': 'admin',
  'GET /api/schedules/:id': 'auditor',
  'PATCH /api/schedules/:id': 'admin',
  'DELETE /api/schedules/:id': 'admin',
  'POST /api/schedules/:id/run': 'operator',
  'GET /api/retention/preview': 'auditor',
  'POST /api/retention/apply': 'admin',
  'GET /api/retention/decisions': 'auditor',
  'GET /api/retention/decisions/:id': 'auditor',
  'POST /api/retention/decisions/:id/confirm': 'admin',
  'GET /api/status': 'auditor',
  'GET /api/drills': 'auditor',
  'GET /api/alerts': 'auditor',
  'GET /api/maintenance': 'auditor',
  'PUT /api/maintenance': 'admin',
  'GET /metrics': 'public',
};

const BELOW: Record<Role, Role | null> = { admin: 'operator', operator: 'auditor', auditor: null };
const SAMPLE_ID = '00000000-0000-4000-8000-000000000000';

describe.each(ENGINES)('auth matrix on %s', (engine) => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp(engine);
  });
  afterAll(async () => {
    await t.close();
  });

  it('every route the router knows is in the matrix, and every matrix row is a route', () => {
    const routes = listRoutes(t.app);
    expect(routes.filter((r) => !(r in ROUTE_ROLES))).toEqual([]);
    expect(Object.keys(ROUTE_ROLES).filter((r) => !routes.includes(r))).toEqual([]);
  });

  it('answers 401 without a key and 403 with too low a role, on every guarded route', async () => {
    const failures: string[] = [];
    for (const route of listRoutes(t.app)) {
      const rule = ROUTE_ROLES[route];
      if (!rule || rule === 'public') continue;
      const [method, pattern] = route.split(' ');
      const path = pattern.replace(/:[A-Za-z]+/g, SAMPLE_ID);
      const call = () => request(t.http)[method.toLowerCase() as 'get'](path);
      const anon = await call();
      if (anon.status !== 401) failures.push(`${route} without key -> ${anon.status}`);
      const bad = await call().set('Authorization', 'Bearer not-a-real-key');
      if (bad.status !== 401) failures.push(`${route} with unknown key -> ${bad.status}`);
      const lower = BELOW[rule];
      if (lower) {
        const res = await call().set('X-API-Key', t.keys[lower]);
        if (res.status !== 403) failures.push(`${route} as ${lower} -> ${res.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('lets the required role through (not 401/403)', async () => {
    const failures: string[] = [];
    for (const route of listRoutes(t.app)) {
      const rule = ROUTE_ROLES[route];
      if (!rule) continue;
      const [method, pattern] = route.split(' ');
      const path = pattern.replace(/:[A-Za-z]+/g, SAMPLE_ID);
      let req = request(t.http)[method.toLowerCase() as 'get'](path);
      if (rule !== 'public') req = req.set('Authorization', `Bearer ${t.keys[rule]}`);
      const res = await req;
      if (res.status === 401 || res.status === 403 || res.status >= 500)
        failures.push(`${route} as ${rule} -> ${res.status}`);
    }
    expect(failures).toEqual([]);
  });
});
