/**
 * Child-process tests (the CLI, crash tests) start Strongroom many times. Under ts-node
 * each start re-compiles the app (~4 s of CPU); instead the global setup transpiles the
 * sources once into `.test-build/` inside the repository (so node_modules resolves), and
 * children run plain JavaScript. Transpile-only with SWC and the same options as jest's own
 * transform (test/support/swc-options.js): ~1 s for the whole tree where TypeScript's
 * transpileModule took ~15 s of the run's start. Types are checked by `npm run typecheck`.
 */
import { transformSync } from '@swc/core';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
// Plain CommonJS: jest.config.js loads the same file.
const swcOptions = require('./swc-options') as Parameters<typeof transformSync>[1];

export const ROOT = join(__dirname, '..', '..');
export const TEST_BUILD = join(ROOT, '.test-build');

const SOURCES = ['src', 'migrations', 'test/support'];

function* tsFiles(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) yield* tsFiles(full);
    else if (name.endsWith('.ts') && !name.endsWith('.spec.ts') && !name.endsWith('.d.ts')) yield full;
  }
}

export function transpileForChildren(): void {
  transpileTree(SOURCES, TEST_BUILD);
  // Workers inherit this: builtPath() refuses to hand out a stale build from an earlier run.
  process.env.STRONGROOM_TEST_BUILD_READY = '1';
}

/** Transpiles the repository-relative `sources` folders into `outDir` (inside the repository, so node_modules resolves). */
export function transpileTree(sources: string[], outDir: string): void {
  rmSync(outDir, { recursive: true, force: true });
  for (const dir of sources) {
    for (const file of tsFiles(join(ROOT, dir))) {
      const out = transformSync(readFileSync(file, 'utf8'), { ...swcOptions, filename: file, sourceMaps: false });
      const target = join(outDir, relative(ROOT, file)).replace(/\.ts$/, '.js');
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, out.code);
    }
  }
}

/** Path of the transpiled JavaScript for a repository-relative `.ts` path. */
export function builtPath(tsPath: string): string {
  if (process.env.STRONGROOM_TEST_BUILD_READY !== '1') {
    throw new Error(
      ".test-build/ is made by the integration project's global setup: a spec in src/ that starts child processes is named *.int.spec.ts",
    );
  }
  return join(TEST_BUILD, tsPath.replace(/\.ts$/, '.js'));
}
