import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditEventEntity } from './audit-event.entity';
import { AuditHeadEntity } from './audit-head.entity';
import { AuditController } from './audit.controller';
import { AuditHttpHook } from './audit-http.hook';
import { AuditRefusals } from './audit-refusals';
import { AuditService } from './audit.service';

/** Global: every module records through AuditService. */
@Global()
@Module({
  imports: [TypeOrmModule.forFeature([AuditEventEntity, AuditHeadEntity])],
  controllers: [AuditController],
  providers: [AuditService, AuditRefusals, AuditHttpHook],
  exports: [AuditService, AuditRefusals, AuditHttpHook],
})
export class AuditModule {}
