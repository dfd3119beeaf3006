/**
 * A Strongroom process that starts one backup and waits for it: spawned by the crash tests,
 * which kill it at random moments. Configuration comes from the environment, like the server.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { BackupsService } from '../../src/backup/backups.service';

async function main(): Promise<void> {
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
