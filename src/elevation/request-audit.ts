/**
 * The audit event of something that happened to one request: who did it (absent: the bot, on a
 * timer or a sweep), in the request's tenant chain and environment.
 */
import type { AuditEvent, AuditEventType } from './ports';
import type { ElevationRequest } from './request';

export function requestAudit(
  type: AuditEventType,
  request: ElevationRequest,
  at: Date,
  actor: string | undefined,
  details?: Record<string, unknown>,
): AuditEvent {
  return {
    type,
    at,
    requestId: request.id,
    actor,
    tenantId: request.requester.tenantId,
    environmentId: request.environment.id,
    details,
  };
}
