import { ConfigError, loadConfig } from './app-config';

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const c = loadConfig({});
    expect(c.DATABASE_URL).toBe('sqlite:./data/strongroom.db');
    expect(c.targetDatabaseUrl).toBe(c.DATABASE_URL);
    expect(c.PORT).toBe(3000);
    expect(c.MIGRATIONS_RUN).toBe(true);
    expect(c.BACKUP_FILE_PATHS).toEqual([]);
  });

  it('parses numbers, booleans and lists', () => {
    const c = loadConfig({ PORT: '8080', MIGRATIONS_RUN: 'false', BACKUP_FILE_PATHS: '/a, /b', TARGET_DATABASE_URL: 'postgres://x@h/db' });
    expect(c.PORT).toBe(8080);
    expect(c.MIGRATIONS_RUN).toBe(false);
    expect(c.BACKUP_FILE_PATHS).toEqual(['/a', '/b']);
    expect(c.targetDatabaseUrl).toBe('postgres://x@h/db');
  });

  it('names every bad variable and never echoes values', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'abc', DATABASE_URL: 'mysql://secret-password@h', MIGRATIONS_RUN: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/PORT/);
    expect(msg).toMatch(/DATABASE_URL/);
    expect(msg).toMatch(/MIGRATIONS_RUN/);
    expect(msg).not.toMatch(/secret-password/);
  });
});
