/** pg_dump discovery: the server's major version or a clear instruction. */
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../../../test/support/databases';
import { findPgTool, serverMajor } from './pg-tools';

describe('pg-tools', () => {
  it('reads majors from server_version_num and version strings', () => {
    expect(serverMajor(150018)).toBe(15);
    expect(serverMajor('15.18 (Debian 15.18-0+deb12u1)')).toBe(15);
    expect(serverMajor(90624)).toBe(9);
  });

  it('finds the installed pg_dump of the matching major', async () => {
    const found = await findPgTool('pg_dump', 15);
    expect(found.major).toBe(15);
    expect(found.path).toMatch(/pg_dump$/);
  });

  it('refuses a pg_dump of another major and says what to install', async () => {
    const dir = tempDir();
    try {
      const fake = join(dir.path, 'pg_dump');
      writeFileSync(fake, '#!/bin/sh\necho "pg_dump (PostgreSQL) 14.11"\n');
      chmodSync(fake, 0o755);
      await expect(findPgTool('pg_dump', 15, { searchDirs: [dir.path] })).rejects.toThrow(
        'pg_dump 14 cannot dump a PostgreSQL 15 server: install postgresql-client-15',
      );
      await expect(findPgTool('pg_dump', 15, { searchDirs: [join(dir.path, 'none')] })).rejects.toThrow(
        'pg_dump was not found on PATH or in /usr/lib/postgresql/*/bin: install postgresql-client-15',
      );
    } finally {
      dir.remove();
    }
  });
});
