/**
 * The one Power Platform API call of an elevation, as the use case makes it: the client returns
 * failures as values, and a throw (a bug) comes back as an unknown outcome too, never as an error.
 */
import type { Logger } from '../log';
import type { PowerPlatform } from './ports';
import type { ElevationRequest } from './request';
import type { AdminRoleOutcome } from './vocabulary';

export async function callApplyAdminRole(
  options: { powerPlatform: PowerPlatform; logger: Logger },
  token: string,
  request: ElevationRequest,
  clientRequestId: string,
): Promise<AdminRoleOutcome> {
  const started = Date.now();
  try {
    return await options.powerPlatform.applyAdminRole(
      token,
      request.environment.id,
      clientRequestId,
    );
  } catch (error) {
    options.logger.error('applyAdminRole threw', { requestId: request.id, error });
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
