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
    const c = loadConfig({
      PORT: '8080',
      MIGRATIONS_RUN: 'false',
      BACKUP_FILE_PATHS: '/a, /b',
      TARGET_DATABASE_URL: 'postgres://x@h/db',
    });
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
    expect(dialectOptions(loadConfig({}))).toEqual({
      parallel: 2,
      restoreParallel: 2,
      maintenanceWorkMem: '512MB',
      restoreAnalyze: true,
      toastCompression: 'auto',
      scope: everything,
    });
    const c = loadConfig({
      BACKUP_PARALLELISM: '4',
      RESTORE_PARALLELISM: '1',
      RESTORE_MAINTENANCE_WORK_MEM: '1GB',
      RESTORE_ANALYZE: 'false',
      RESTORE_TOAST_COMPRESSION: 'server',
      BACKUP_INCLUDE_SCHEMAS: 'app, billing_*',
      BACKUP_EXCLUDE_SCHEMAS: 'scratch',
      BACKUP_EXCLUDE_TABLES: 'public.logs,*.audit_?',
    });
    expect(dialectOptions(c)).toEqual({
      parallel: 4,
      restoreParallel: 1,
      maintenanceWorkMem: '1GB',
      restoreAnalyze: false,
      toastCompression: 'server',
      scope: {
        includeSchemas: ['app', 'billing_*'],
        excludeSchemas: ['scratch'],
        excludeTables: ['public.logs', '*.audit_?'],
      },
    });
    expect(() => loadConfig({ RESTORE_ANALYZE: 'sometimes' })).toThrow(/RESTORE_ANALYZE/);
    expect(() => loadConfig({ RESTORE_TOAST_COMPRESSION: 'lz4' })).toThrow(
      /RESTORE_TOAST_COMPRESSION must be auto or server/,
    );
  });

  it('accepts unauthenticated archives only when asked to, and refuses a value that is not a boolean', () => {
    expect(loadConfig({}).ALLOW_UNAUTHENTICATED_ARCHIVES).toBe(false);
    expect(loadConfig({ ALLOW_UNAUTHENTICATED_ARCHIVES: 'true' }).ALLOW_UNAUTHENTICATED_ARCHIVES).toBe(true);
    expect(() => loadConfig({ ALLOW_UNAUTHENTICATED_ARCHIVES: 'perhaps' })).toThrow(/ALLOW_UNAUTHENTICATED_ARCHIVES/);
  });
});

describe('loadConfig: rules across variables, all named in one error', () => {
  const KEY = Buffer.alloc(32, 7).toString('base64');
  const problemsOf = (env: Record<string, string>): string[] => {
    try {
      loadConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return (e as ConfigError).problems;
    }
    throw new Error('expected a ConfigError');
  };
  const blamed = (env: Record<string, string>) => problemsOf(env).map((p) => p.slice(0, p.indexOf(':')));

  it('needs a bucket for S3 storage, and both S3 credentials or neither', () => {
    expect(problemsOf({ BACKUP_STORAGE: 's3' })).toEqual(['S3_BUCKET: required when BACKUP_STORAGE=s3']);
    expect(blamed({ BACKUP_STORAGE: 's3', S3_BUCKET: 'b', S3_ACCESS_KEY_ID: 'AKIA' })).toEqual([
      'S3_SECRET_ACCESS_KEY',
    ]);
    expect(blamed({ BACKUP_STORAGE: 's3', S3_BUCKET: 'b', S3_SECRET_ACCESS_KEY: 'shh-secret' })).toEqual([
      'S3_ACCESS_KEY_ID',
    ]);
    expect(loadConfig({ BACKUP_STORAGE: 's3', S3_BUCKET: 'b' }).S3_BUCKET).toBe('b');
    // Local storage does not care about S3 settings.
    expect(loadConfig({ S3_ACCESS_KEY_ID: 'AKIA' }).BACKUP_STORAGE).toBe('local');
  });

  it('needs a complete offsite storage somewhere else than the primary one', () => {
    expect(loadConfig({}).OFFSITE_STORAGE).toBeUndefined();
    expect(blamed({ OFFSITE_STORAGE: 'ftp' })).toEqual(['OFFSITE_STORAGE']);
    expect(problemsOf({ OFFSITE_STORAGE: 'local' })).toEqual(['OFFSITE_DIR: required when OFFSITE_STORAGE=local']);
    expect(blamed({ OFFSITE_STORAGE: 'local', BACKUP_DIR: './b', OFFSITE_DIR: 'b/' })).toEqual(['OFFSITE_DIR']);
    expect(loadConfig({ OFFSITE_STORAGE: 'local', OFFSITE_DIR: '/mnt/offsite' }).OFFSITE_DIR).toBe('/mnt/offsite');
    expect(blamed({ OFFSITE_STORAGE: 's3' })).toEqual(['OFFSITE_S3_BUCKET']);
    expect(blamed({ BACKUP_STORAGE: 's3', S3_BUCKET: 'b', OFFSITE_STORAGE: 's3', OFFSITE_S3_BUCKET: 'b' })).toEqual([
      'OFFSITE_S3_BUCKET',
    ]);
    expect(
      loadConfig({
        BACKUP_STORAGE: 's3',
        S3_BUCKET: 'b',
        OFFSITE_STORAGE: 's3',
        OFFSITE_S3_BUCKET: 'b',
        OFFSITE_S3_PREFIX: 'copy/',
      }).OFFSITE_S3_PREFIX,
    ).toBe('copy/');
    expect(blamed({ OFFSITE_STORAGE: 's3', OFFSITE_S3_BUCKET: 'o', OFFSITE_S3_ACCESS_KEY_ID: 'AKIA' })).toEqual([
      'OFFSITE_S3_SECRET_ACCESS_KEY',
    ]);
    expect(blamed({ OFFSITE_MAX_LAG_HOURS: '0' })).toEqual(['OFFSITE_MAX_LAG_HOURS']);
    expect(blamed({ OFFSITE_RETRY_BASE_SECONDS: '120', OFFSITE_RETRY_MAX_SECONDS: '60' })).toEqual([
      'OFFSITE_RETRY_MAX_SECONDS',
    ]);
  });

  it('checks the keyring: id:base64 of 32 bytes, unique ids, a known active id', () => {
    expect(
      loadConfig({ BACKUP_ENCRYPTION_KEYS: `k1:${KEY},k2:${KEY}`, BACKUP_ENCRYPTION_KEY_ID: 'k1' })
        .BACKUP_ENCRYPTION_KEY_ID,
    ).toBe('k1');
    const short = Buffer.alloc(16, 1).toString('base64');
    expect(problemsOf({ BACKUP_ENCRYPTION_KEYS: `k1:${short}` })).toEqual([
      expect.stringMatching(/^BACKUP_ENCRYPTION_KEYS: .*32 bytes/),
    ]);
    expect(problemsOf({ BACKUP_ENCRYPTION_KEYS: 'no-colon-here' })).toEqual([
      expect.stringMatching(/^BACKUP_ENCRYPTION_KEYS: .*id:base64/),
    ]);
    expect(problemsOf({ BACKUP_ENCRYPTION_KEYS: `k1:${KEY},k1:${KEY}` })).toEqual([
      expect.stringMatching(/^BACKUP_ENCRYPTION_KEYS: .*more than once/),
    ]);
    expect(problemsOf({ BACKUP_ENCRYPTION_KEYS: `k1:${KEY}`, BACKUP_ENCRYPTION_KEY_ID: 'k9' })).toEqual([
      expect.stringMatching(/^BACKUP_ENCRYPTION_KEY_ID: .*not in/),
    ]);
    expect(blamed({ BACKUP_ENCRYPTION_KEY_ID: 'k1' })).toEqual(['BACKUP_ENCRYPTION_KEY_ID']);
    // The key material never appears in the message.
    expect(problemsOf({ BACKUP_ENCRYPTION_KEYS: `k1:${short}` }).join('\n')).not.toContain(short);
  });

  it('checks webhook URLs without quoting them', () => {
    const secretUrl = 'ftp://hooks.example.com/T000/B000/very-secret';
    const problems = problemsOf({ NOTIFY_WEBHOOK_URLS: `https://ok.example.com/hook, ${secretUrl}, not a url` });
    expect(problems).toEqual([
      'NOTIFY_WEBHOOK_URLS: entry 2 is not an http(s) URL',
      'NOTIFY_WEBHOOK_URLS: entry 3 is not an http(s) URL',
    ]);
    expect(problems.join('\n')).not.toContain('very-secret');
  });

  it('checks the time zone and every service cron', () => {
    expect(blamed({ BACKUP_TIMEZONE: 'Mars/Olympus_Mons' })).toEqual(['BACKUP_TIMEZONE']);
    expect(loadConfig({ BACKUP_TIMEZONE: 'Europe/Berlin' }).BACKUP_TIMEZONE).toBe('Europe/Berlin');
    expect(blamed({ DEFAULT_SCHEDULE_CRON: '61 2 * * *' })).toEqual(['DEFAULT_SCHEDULE_CRON']);
    expect(blamed({ RETENTION_CRON: 'every night' })).toEqual(['RETENTION_CRON']);
    expect(blamed({ VERIFY_CRON: '0 5 30 2 *' })).toEqual(['VERIFY_CRON']);
  });

  it('names every bad variable, plain and conditional, in one error', () => {
    const names = blamed({
      PORT: 'abc',
      BACKUP_STORAGE: 's3',
      BACKUP_ENCRYPTION_KEYS: 'k1:short',
      NOTIFY_WEBHOOK_URLS: 'nope',
      BACKUP_TIMEZONE: 'Nowhere/Land',
      DEFAULT_SCHEDULE_CRON: '* * *',
      IMPORT_MAX_BYTES: '0',
    });
    expect(names.sort()).toEqual(
      [
        'BACKUP_ENCRYPTION_KEYS',
        'BACKUP_TIMEZONE',
        'DEFAULT_SCHEDULE_CRON',
        'IMPORT_MAX_BYTES',
        'NOTIFY_WEBHOOK_URLS',
        'PORT',
        'S3_BUCKET',
      ].sort(),
    );
  });

  it('limits imports to 10 GiB unless told otherwise', () => {
    expect(loadConfig({}).IMPORT_MAX_BYTES).toBe(10 * 1024 ** 3);
    expect(loadConfig({ IMPORT_MAX_BYTES: '1048576' }).IMPORT_MAX_BYTES).toBe(1048576);
    expect(blamed({ IMPORT_MAX_BYTES: 'lots' })).toEqual(['IMPORT_MAX_BYTES']);
  });
});
