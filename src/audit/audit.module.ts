import { Global, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AuditCheckpointEntity } from './audit-checkpoint.entity';
import { AuditCheckpointer } from './audit-checkpointer';
import { AuditEventEntity } from './audit-event.entity';
import { AuditHeadEntity } from './audit-head.entity';
import { AuditMerkleNodeEntity } from './audit-merkle-node.entity';
import { AuditProofsController, AuditPublicKeyController } from './audit-proofs.controller';
import { AuditProofs } from './audit-proofs.service';
import { AuditSigner } from './audit-signer';
import { AuditSigningKeyEntity } from './audit-signing-key.entity';
import { AuditController } from './audit.controller';
import { AuditHttpHook } from './audit-http.hook';
import { AuditRefusals } from './audit-refusals';
import { AuditService } from './audit.service';

/** Global: every module records through AuditService. */
@Global()
@Module({
  imports: [
    TypeOrmModule.forFeature([
      AuditEventEntity,
      AuditHeadEntity,
      AuditCheckpointEntity,
      AuditMerkleNodeEntity,
      AuditSigningKeyEntity,
    ]),
  ],
  controllers: [AuditController, AuditPublicKeyController, AuditProofsController],
  providers: [AuditService, AuditRefusals, AuditHttpHook, AuditSigner, AuditCheckpointer, AuditProofs],
  exports: [AuditService, AuditRefusals, AuditHttpHook, AuditSigner, AuditCheckpointer, AuditProofs],
})
export class AuditModule {}
