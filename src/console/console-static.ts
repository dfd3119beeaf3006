import type { NextFunction, Request, Response } from 'express';
import express from 'express';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The operator console is static files built by Vite into dist/console (`npm run build`),
 * served here under /console by the same process: no second server and no CDN. It talks to
 * the public REST API only, so it adds no route and no way around the guards.
 *
 * Every console response carries a strict Content-Security-Policy: only this origin's own
 * scripts, styles and API; no inline script or style element, no frames, no plugins. (uPlot
 * and Preact set element styles through the CSSOM, which style-src does not restrict.)
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** The package root: the nearest folder above this file with a package.json (src/… in tests, dist/src/… when built). */
function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

export function consoleDir(): string {
  return join(packageRoot(__dirname), 'dist', 'console');
}

/** Express middleware for /console: security headers, then the built files (index.html for /console/). */
export function consoleMiddleware(dir = consoleDir()): (req: Request, res: Response, next: NextFunction) => void {
  const serve = express.static(dir, {
    index: 'index.html',
    redirect: true,
    fallthrough: true,
    // Hashed asset names never change content; index.html is revalidated so a new build shows at once.
    setHeaders: (res, path) =>
      res.setHeader(
        'Cache-Control',
        /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache',
      ),
  });
  return (req, res, next) => {
    res.setHeader('Content-Security-Policy', CONSOLE_CSP);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('X-Frame-Options', 'DENY');
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!existsSync(join(dir, 'index.html'))) {
      res
        .status(404)
        .type('text/plain')
        .send('The console is not built: run `npm run build` (it writes dist/console).');
      return;
    }
    serve(req, res, () => {
      res.status(404).type('text/plain').send('Not found');
    });
  };
}
