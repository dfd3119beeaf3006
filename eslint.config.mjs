import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import jest from 'eslint-plugin-jest';
import promise from 'eslint-plugin-promise';
import tseslint from 'typescript-eslint';

/**
 * src/engine is plain TypeScript (DESIGN.md): no Nest, no TypeORM, and nothing from the rest of
 * src/ (feature folders such as backup, recovery, audit, scheduler, auth, cli, common, config).
 * Imports are matched as written, not resolved, so for each folder depth the rule forbids a
 * relative path that climbs out of src/engine into src/ (climbing further, to test/support, is
 * fine for specs), and a `src/...` path that is not src/engine.
 */
function engineBoundary(depth) {
  const up = '\\.\\./'.repeat(depth + 1);
  return {
    files: [`src/engine/${'*/'.repeat(depth)}*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@nestjs/*'], message: 'src/engine is plain TypeScript: no Nest imports.' },
            { group: ['typeorm', 'typeorm/*'], message: 'src/engine is plain TypeScript: no TypeORM imports.' },
            {
              regex: `^${up}(?!\\.\\./|engine(/|$))`,
              message: 'src/engine must not import from the rest of src/ (feature folders); pass what it needs in.',
            },
            {
              regex: '^src/(?!engine(/|$))',
              message: 'src/engine must not import from the rest of src/ (feature folders); pass what it needs in.',
            },
          ],
        },
      ],
    },
  };
}

/** Test helpers beside the code (the same patterns tsconfig.build.json leaves out of the build). */
const TEST_HELPERS = [
  '**/*.fixture.ts',
  '**/*-fixtures.ts',
  '**/*.conformance.ts',
  '**/*spec-helpers.ts',
  '**/*test-support.ts',
  '**/*test-streams.ts',
  '**/*.bench.ts',
  '**/*.child.ts',
];

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'data/', 'bench/out/', '.test-build/', '.bench-build/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  promise.configs['flat/recommended'],
  {
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
      },
      // Type-aware rules read the types of tsconfig.json (which includes src, test, bench, scripts, migrations).
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      '@typescript-eslint/no-require-imports': 'off',
      // The promise rules this project relies on: a promise nobody awaits loses its error.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      // Off: style, not correctness (39 hits, see README "Development"):
      // `async` without `await` is how interface implementations read here.
      '@typescript-eslint/require-await': 'off',
      // Redundant casts: harmless, autofixable (`npx eslint --fix --rule ...`); left for a quiet moment.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      // A .then() with a rejection handler is handled (no-floating-promises agrees); a `finally` too.
      'promise/catch-or-return': ['error', { allowThen: true, allowFinally: true }],
      // Naming and shape preferences of eslint-plugin-promise, not bugs: Node callback interop
      // (Writable.write's callback called from a promise) is intended here.
      'promise/param-names': 'off',
      'promise/always-return': 'off',
      'promise/no-callback-in-promise': 'off',
      'promise/no-nesting': 'off',
      // Every hit was a deliberate String() of an opaque value (a CLI argument, a pluck()ed cell).
      '@typescript-eslint/no-base-to-string': 'off',
      // Every hit was a callback option declared with method syntax and passed on; none uses `this`.
      '@typescript-eslint/unbound-method': 'off',
      // Rethrowing the first caught error, kept in an `unknown` variable, is the pattern here.
      '@typescript-eslint/only-throw-error': 'off',
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingUnknown: true }],
    },
  },
  {
    // Tests, scripts and benchmarks read untyped JSON (supertest bodies, query rows): the
    // no-unsafe-* family would flag ~700 reads of `any` there. Production code keeps them on.
    files: ['**/*.spec.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', ...TEST_HELPERS],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
  {
    // Plain JavaScript (configs, small build scripts) is not in the TypeScript project.
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/no-disabled-tests': 'error',
      'jest/valid-expect': 'error',
      // beforeAll may assert that its setup really produced the state the tests rely on; itOnPostgres is it or it.skip by engine.
      'jest/no-standalone-expect': ['error', { additionalTestBlockFunctions: ['beforeAll', 'itOnPostgres'] }],
      // Helpers that assert on the test's behalf (expect inside) count as assertions.
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', 'expect*', 'assert*'] }],
      // Branching on an outcome before asserting is how several property and crash tests read;
      // each branch asserts, so this is style here (36 hits), not a silent pass.
      'jest/no-conditional-expect': 'off',
    },
  },
  ...[0, 1, 2, 3].map(engineBoundary),
  // Last: turns off the stylistic rules that Prettier owns.
  prettier,
);
