/**
 * A Strongroom process that starts one replace recovery (tables and file artefacts, no safety
 * backup) and kills itself with SIGKILL at the moment KILL_AT names (kill-points.ts). It
 * prints "started <id>"; if the recovery ends without reaching the point it prints "finished"
 * and exits 2. Configuration comes from the environment, like the server.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { RecoveriesService } from '../../src/recovery/recoveries.service';
import { armKill } from './kill-points';

async function main(): Promise<void> {
  const backupId = process.env.RECOVER_BACKUP_ID!;
  armKill(process.env.KILL_AT!);
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const recoveries = app.get(RecoveriesService);
  const r = await recoveries.start({ backupId, mode: 'replace', confirm: `RESTORE ${backupId}`, safetyBackup: false });
  process.stdout.write(`started ${r.id}\n`);
  await recoveries.waitFor(r.id);
  process.stdout.write('finished\n');
  process.exit(2);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
