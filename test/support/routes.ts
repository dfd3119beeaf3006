import type { INestApplication } from '@nestjs/common';

interface Layer {
  route?: { path: string; methods: Record<string, boolean> };
}

/** `METHOD /path` for every route registered in the Express router (Express 5), Swagger UI's assets folded into `GET /docs`. */
export function listRoutes(app: INestApplication): string[] {
  const express = app.getHttpAdapter().getInstance() as { router?: { stack: Layer[] }; _router?: { stack: Layer[] } };
  const stack = (express.router ?? express._router)?.stack ?? [];
  const out = new Set<string>();
  for (const layer of stack) {
    // `/{*path}` is the audit/request-id middleware bound to every path, not a handler.
    if (!layer.route || layer.route.path === '/{*path}') continue;
    for (const [method, on] of Object.entries(layer.route.methods)) {
      if (!on || method === '_all') continue;
      const path = /^\/docs(\/|$)/.test(layer.route.path) ? '/docs' : layer.route.path;
      out.add(`${method.toUpperCase()} ${path}`);
    }
  }
  return [...out].sort();
}
