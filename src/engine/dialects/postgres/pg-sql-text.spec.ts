import { readName, readQualifiedName, replaceQualifiedNames, splitStatements } from './pg-sql-text';

describe('splitStatements', () => {
  it.each([
    [
      'plain statements',
      'SET a = 1;\nCREATE TABLE public.t (id int);\n',
      ['SET a = 1;', 'CREATE TABLE public.t (id int);'],
    ],
    ["a ; in a string, with '' inside", "CHECK (x <> 'a;''b');\nSELECT 1;", ["CHECK (x <> 'a;''b');", 'SELECT 1;']],
    ["a ; in an E'' string after an escaped quote", "SELECT E'a\\';b';\nSELECT 2;", ["SELECT E'a\\';b';", 'SELECT 2;']],
    ['a ; in a quoted name', 'CREATE TABLE "a;""b" (id int);', ['CREATE TABLE "a;""b" (id int);']],
    [
      'a ; in a dollar-quoted body',
      'CREATE FUNCTION f() AS $fn$ SELECT 1; $fn$;\nSELECT 3;',
      ['CREATE FUNCTION f() AS $fn$ SELECT 1; $fn$;', 'SELECT 3;'],
    ],
    ['a ; in an anonymous dollar quote', 'DO $$ BEGIN NULL; END $$;', ['DO $$ BEGIN NULL; END $$;']],
    ['$ inside a name or a parameter is not a quote', 'SELECT a$b, $1;\nSELECT 4;', ['SELECT a$b, $1;', 'SELECT 4;']],
    [
      'a ; in line and nested block comments',
      'SELECT 1 -- a;b\n;\n/* x /* ; */ ; */ SELECT 2;',
      ['SELECT 1 -- a;b\n;', '/* x /* ; */ ; */ SELECT 2;'],
    ],
    ['text after the last ;', 'SELECT 1;\n-- trailing', ['SELECT 1;', '-- trailing']],
  ])('%s', (_label, sql, expected) => {
    expect(splitStatements(sql)).toEqual(expected);
  });
});

describe('readQualifiedName', () => {
  it.each([
    ['public.users (', { schema: 'public', name: 'users', length: 12 }],
    ['"Odd Schema"."Child; Table" (', { schema: 'Odd Schema', name: 'Child; Table', length: 27 }],
    ['app."a""b" USING', { schema: 'app', name: 'a"b', length: 10 }],
    ['users (', null],
    ['public. users', null],
  ])('%s', (text, expected) => {
    expect(readQualifiedName(text)).toEqual(expected);
  });

  it('reads a bare name', () => {
    expect(readName('"x y" ON')).toEqual({ name: 'x y', length: 5 });
    expect(readName('(x')).toBeNull();
  });
});

describe('replaceQualifiedNames', () => {
  const rename = (schema: string, name: string) => (schema === 'public' && name === 'mood' ? 'stage.mood' : null);

  it.each([
    ['a column type and its array', 'm public.mood, ms public.mood[]', 'm stage.mood, ms stage.mood[]'],
    ['a cast in a default', "DEFAULT 'ok'::public.mood", "DEFAULT 'ok'::stage.mood"],
    ['not inside a string literal', "DEFAULT 'public.mood'", "DEFAULT 'public.mood'"],
    [
      'not the tail of a longer name',
      'x.public.mood, public.moods, my_public.mood',
      'x.public.mood, public.moods, my_public.mood',
    ],
    ['a quoted spelling of the same name', '"public"."mood"', 'stage.mood'],
    ['not inside a comment', '-- public.mood\nm public.mood', '-- public.mood\nm stage.mood'],
  ])('%s', (_label, sql, expected) => {
    expect(replaceQualifiedNames(sql, rename)).toBe(expected);
  });
});
