/**
 * A Strongroom process that starts one backup and waits for it: spawned by the crash tests,
 * which kill it at random moments, or (BACKUP_KILL_AT) it kills itself with SIGKILL at one
 * moment of the backup's storage writes:
 * - `first-part`: right after the first part is stored (parts exist, no manifest);
 * - `before-manifest`: every part stored, the manifest (the commit point) not yet written;
 * - `after-manifest`: the manifest stored, before the catalog row says completed.
 * Configuration comes from the environment, like the server.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { BackupsService } from '../../src/backup/backups.service';
import { LocalStorage } from '../../src/engine/storage/local-storage';

function armKill(at: string): void {
  const die = (): never => {
    process.kill(process.pid, 'SIGKILL');
    throw new Error('unreachable');
  };
  const proto = LocalStorage.prototype as unknown as { put: (key: string, ...rest: unknown[]) => Promise<unknown> };
  const put = proto.put;
  proto.put = async function (this: LocalStorage, key: string, ...rest: unknown[]) {
    const isManifest = key.endsWith('/manifest.json');
    if (at === 'before-manifest' && isManifest) die();
    const result = await put.call(this, key, ...rest);
    if (at === 'first-part' && key.includes('/parts/')) die();
    if (at === 'after-manifest' && isManifest) die();
    return result;
  };
  if (!['first-part', 'before-manifest', 'after-manifest'].includes(at)) throw new Error(`unknown kill point ${at}`);
}

async function main(): Promise<void> {
  if (process.env.BACKUP_KILL_AT) armKill(process.env.BACKUP_KILL_AT);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const backups = app.get(BackupsService);
  const b = await backups.start({ type: 'full', trigger: 'manual' });
  process.stdout.write(`started ${b.id}\n`);
  await backups.waitFor(b.id);
  process.stdout.write(`finished ${b.id}\n`);
  await app.close();
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
