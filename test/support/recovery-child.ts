/**
 * A Strongroom process that starts one recovery and then stalls for good at the audit event
 * named by HANG_AT_AUDIT (it prints "hanging <action>"), so a crash test can kill it at
 * exactly that point: `recovery.completed` is written in the same catalog transaction as the
 * recovery's end, after its restore committed; `backup.completed` (of the safety backup)
 * comes before the restore begins. Configuration comes from the environment, like the server.
 */
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { AppModule } from '../../src/app.module';
import { AuditService } from '../../src/audit/audit.service';
import { RecoveriesService } from '../../src/recovery/recoveries.service';

async function main(): Promise<void> {
  const backupId = process.env.RECOVER_BACKUP_ID!;
  const hangAt = process.env.HANG_AT_AUDIT!;
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  const audit = app.get(AuditService);
  const record = audit.record.bind(audit);
  audit.record = ((input, manager) => {
    if (input.action !== hangAt) return record(input, manager);
    process.stdout.write(`hanging ${hangAt}\n`);
    return new Promise(() => undefined);
  }) as AuditService['record'];
  const r = await app.get(RecoveriesService).start({ backupId, mode: 'replace', confirm: `RESTORE ${backupId}` });
  process.stdout.write(`started ${r.id}\n`);
  await new Promise(() => undefined);
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack}\n`);
  process.exit(1);
});
