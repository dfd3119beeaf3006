/** Swagger is part of the product: every DTO field and every query parameter carries a description. */
import request from 'supertest';
import { createTestApp, TestApp } from '../support/test-app';

interface Schema {
  properties?: Record<string, { description?: string; $ref?: string; allOf?: unknown[] }>;
}

describe('OpenAPI document', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await createTestApp('sqlite');
  });
  afterAll(async () => {
    await t.close();
  });

  it('describes every schema property and every query parameter', async () => {
    const doc = (await request(t.http).get('/docs-json').expect(200)).body as {
      components: { schemas: Record<string, Schema> };
      paths: Record<string, Record<string, { parameters?: { name: string; in: string; description?: string }[] }>>;
    };
    const undocumented: string[] = [];
    for (const [name, schema] of Object.entries(doc.components.schemas)) {
      for (const [prop, spec] of Object.entries(schema.properties ?? {})) {
        if (!spec.description) undocumented.push(`${name}.${prop}`);
      }
    }
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        for (const p of op.parameters ?? []) {
          if (p.in === 'query' && !p.description) undocumented.push(`${method.toUpperCase()} ${path} ?${p.name}`);
        }
      }
    }
    expect(undocumented).toEqual([]);
    expect(Object.keys(doc.paths).length).toBeGreaterThan(15);
  });
});
