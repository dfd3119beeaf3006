import { ConfigError, dialectOptions, loadConfig } from './app-config';

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

  it('hands the engine settings to the database dialect', () => {
    const everything = { includeSchemas: [], excludeSchemas: [], excludeTables: [] };
    expect(dialectOptions(loadConfig({}))).toEqual({ parallel: 2, restoreParallel: 2, maintenanceWorkMem: '512MB', restoreAnalyze: true, scope: everything });
    const c = loadConfig({
      BACKUP_PARALLELISM: '4', RESTORE_PARALLELISM: '1', RESTORE_MAINTENANCE_WORK_MEM: '1GB', RESTORE_ANALYZE: 'false',
      BACKUP_INCLUDE_SCHEMAS: 'app, billing_*', BACKUP_EXCLUDE_SCHEMAS: 'scratch', BACKUP_EXCLUDE_TABLES: 'public.logs,*.audit_?',
    });
    expect(dialectOptions(c)).toEqual({
      parallel: 4, restoreParallel: 1, maintenanceWorkMem: '1GB', restoreAnalyze: false,
      scope: { includeSchemas: ['app', 'billing_*'], excludeSchemas: ['scratch'], excludeTables: ['public.logs', '*.audit_?'] },
    });
    expect(() => loadConfig({ RESTORE_ANALYZE: 'sometimes' })).toThrow(/RESTORE_ANALYZE/);
  });
});
