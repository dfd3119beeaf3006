/**
 * Boots the real AppModule (real database, real storage directory) for HTTP tests, with
 * configuration given explicitly instead of read from the environment.
 */
import { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { createHash } from 'node:crypto';
import { DataSource } from 'typeorm';
import { AppModule } from '../../src/app.module';
import { configureApp } from '../../src/app.setup';
import { ApiKeysService } from '../../src/auth/api-keys.service';
import type { Role } from '../../src/auth/roles';
import { AppConfig, loadConfig } from '../../src/config/app-config';
import { createTestDatabase, Engine, TestDatabase, tempDir } from './databases';

export interface TestApp {
  app: INestApplication;
  http: ReturnType<INestApplication['getHttpServer']>;
  db: TestDatabase;
  config: AppConfig;
  adminKey: string;
  keys: Record<Role, string>;
  dataSource: DataSource;
  close(): Promise<void>;
}

/** `opts.db` boots on an existing database (a second instance, or a restart); close() then leaves it in place. */
export async function createTestApp(
  engine: Engine,
  env: Record<string, string> = {},
  opts: { db?: TestDatabase } = {},
): Promise<TestApp> {
  const db = opts.db ?? (await createTestDatabase(engine));
  const dir = tempDir('strongroom-app-');
  // One key per database, as one deployment has one ADMIN_API_KEY: a second instance or a
  // restart on the same database must not rotate it (that revokes the first one's key).
  const adminKey = env.ADMIN_API_KEY ?? `test-admin-${createHash('sha256').update(db.url).digest('hex').slice(0, 32)}`;
  const config = loadConfig({
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATABASE_URL: db.url,
    ADMIN_API_KEY: adminKey,
    BACKUP_DIR: `${dir.path}/backups`,
    SCHEDULER_ENABLED: 'false',
    THROTTLE_LIMIT: '100000',
    THROTTLE_EXPENSIVE_LIMIT: '100000',
    ...env,
  });
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
    .overrideProvider(AppConfig)
    .useValue(config)
    .compile();
  const app = moduleRef.createNestApplication({ logger: false });
  configureApp(app);
  await app.init();
  const keysService = app.get(ApiKeysService);
  const keys = { admin: adminKey } as Record<Role, string>;
  for (const role of ['operator', 'auditor'] as const)
    keys[role] = (await keysService.create(`test-${role}`, role)).key;
  return {
    app,
    http: app.getHttpServer(),
    db,
    config,
    adminKey,
    keys,
    dataSource: app.get(DataSource),
    async close() {
      await app.close();
      if (!opts.db) await db.drop();
      dir.remove();
    },
  };
}

/** Waits for fire-and-forget work (audit recording at response finish) to land. */
export async function eventually<T>(
  probe: () => Promise<T>,
  accept: (v: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await probe();
    if (accept(v)) return v;
    if (Date.now() - start > timeoutMs) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
}
