import { GIN_BUILD_WORK_MEM, indexBuildSql, memoryKb } from './pg-indexes';

describe('memoryKb', () => {
  it.each([
    ['512MB', 512 * 1024],
    ['64kB', 64],
    ['1GB', 1024 * 1024],
    ['2TB', 2 * 1024 ** 3],
    ['1024', 1024],
    [' 16MB ', 16 * 1024],
  ])('reads %s', (setting, kb) => {
    expect(memoryKb(setting)).toBe(kb);
  });

  it.each(['', 'lots', '1.5GB', '-1MB', '16mb'])('refuses %j', (setting) => {
    expect(memoryKb(setting)).toBeNull();
  });
});

describe('indexBuildSql', () => {
  const gin = 'CREATE INDEX docs_gin ON public.docs USING gin (doc)';

  it(`builds a GIN index with ${GIN_BUILD_WORK_MEM} and puts the restore's setting back after it`, () => {
    expect(indexBuildSql(`${gin};`, '512MB')).toBe(
      [
        `SET LOCAL maintenance_work_mem = '${GIN_BUILD_WORK_MEM}'`,
        gin,
        `SET LOCAL maintenance_work_mem = '512MB'`,
      ].join(';\n'),
    );
  });

  it('leaves every other index method, and a GIN build given less memory already, as it is', () => {
    const btree = 'CREATE UNIQUE INDEX docs_key ON public.docs USING btree (id)';
    expect(indexBuildSql(`${btree};`, '512MB')).toBe(btree);
    expect(indexBuildSql('CREATE INDEX g ON public.docs USING gist (box)', '1GB')).toBe(
      'CREATE INDEX g ON public.docs USING gist (box)',
    );
    expect(indexBuildSql(gin, '8MB')).toBe(gin);
    expect(indexBuildSql(gin, GIN_BUILD_WORK_MEM)).toBe(gin);
    // A setting it cannot read is the server's to judge: nothing is compared or changed.
    expect(indexBuildSql(gin, 'plenty')).toBe(gin);
  });
});
