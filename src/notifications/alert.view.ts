import type { AlertEntity } from './alert.entity';
import type { AlertDto } from './dto/alert.dto';

export function toAlertView(a: AlertEntity): AlertDto {
  return {
    id: a.id,
    key: a.key,
    type: a.type,
    severity: a.severity,
    state: a.state,
    message: a.message,
    details: a.details,
    firstSeenAt: a.createdAt,
    lastSeenAt: a.lastSeenAt,
    occurrences: a.occurrences,
    notifiedAt: a.notifiedAt,
    resolvedAt: a.resolvedAt,
    resolution: a.resolution,
  };
}
