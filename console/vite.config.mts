import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The operator console: Preact + TSX, built into dist/console and served by the service at
 * /console. Everything is bundled (no CDN); nothing inline, so the strict CSP holds.
 */
const here = dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root: here,
  base: '/console/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: resolve(here, '../dist/console'),
    emptyOutDir: true,
    target: 'es2022',
    // No inline module-preload polyfill script (the CSP allows no inline script).
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: true,
  },
});
