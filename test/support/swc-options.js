/**
 * SWC options shared by both jest projects and by the transpile of the app for child processes
 * (test/support/transpile.ts): the same emit as tsc with experimentalDecorators +
 * emitDecoratorMetadata (Nest and TypeORM rely on the metadata), transpile-only — types are
 * checked by `npm run typecheck`. SWC is ~20x cheaper per file than TypeScript's own
 * transpileModule, which a clean CI run pays for every source and spec file.
 */
const jsc = {
  parser: { syntax: 'typescript', decorators: true },
  transform: { legacyDecorator: true, decoratorMetadata: true, useDefineForClassFields: true },
  target: 'es2022',
};

module.exports = { jsc, module: { type: 'commonjs' } };
