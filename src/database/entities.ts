import { ApiKeyEntity } from '../auth/api-key.entity';
import { AlertEntity } from '../notifications/alert.entity';
import { AuditEventEntity } from '../audit/audit-event.entity';
import { AuditHeadEntity } from '../audit/audit-head.entity';
import { AuditCheckpointEntity } from '../audit/audit-checkpoint.entity';
import { AuditMerkleNodeEntity } from '../audit/audit-merkle-node.entity';
import { AuditSigningKeyEntity } from '../audit/audit-signing-key.entity';
import { BackupEntity } from '../backup/backup.entity';
import { LeaseEntity } from './lease.entity';
import { RetentionDecisionEntity } from '../scheduler/retention-decision.entity';
import { MaintenanceEntity } from '../maintenance/maintenance.entity';
import { JobClaimEntity } from '../scheduler/job-claim.entity';
import { ScheduleEntity } from '../scheduler/schedule.entity';
import { RecoveryEntity } from '../recovery/recovery.entity';
import { ScopeEntity } from '../scopes/scope.entity';
import { RestoreDrillEntity } from '../verification/restore-drill.entity';

/** Every TypeORM entity of the service database; migrations/ mirrors these exactly (tested). */
export const ENTITIES = [
  ApiKeyEntity,
  AuditEventEntity,
  AuditHeadEntity,
  AuditCheckpointEntity,
  AuditMerkleNodeEntity,
  AuditSigningKeyEntity,
  LeaseEntity,
  BackupEntity,
  RecoveryEntity,
  ScheduleEntity,
  JobClaimEntity,
  ScopeEntity,
  RetentionDecisionEntity,
  MaintenanceEntity,
  RestoreDrillEntity,
  AlertEntity,
];
