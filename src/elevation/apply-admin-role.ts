/** The applyAdminRole call of an elevation, whose failures always come back as values. */
import type { Logger } from '../log';
import type { PowerPlatform } from './ports';
import type { ElevationRequest } from './request';
import type { AdminRoleOutcome } from './vocabulary';

/** The client returns failures as values; a throw here is a bug, reported as an unknown outcome. */
export async function callApplyAdminRole(
  parts: { powerPlatform: PowerPlatform; logger: Logger },
  token: string,
  request: ElevationRequest,
  clientRequestId: string,
): Promise<AdminRoleOutcome> {
  const started = Date.now();
  try {
    return await parts.powerPlatform.applyAdminRole(token, request.environment.id, clientRequestId);
  } catch (error) {
    parts.logger.error('applyAdminRole threw', { requestId: request.id, error });
    return {
      ok: false,
      kind: 'unexpected-response',
      message:
        'The bot failed while calling the Power Platform API, so the outcome is unknown. Check your roles in the environment before trying again.',
      details: [],
      response: { clientRequestId, attempts: 1, durationMs: Date.now() - started },
    };
  }
}
