/** Who is acting, as the activity says; the rules compare only the Entra object id and tenant. */
import type { TurnContext } from 'botbuilder';
import type { Requester } from '../elevation/request';
import { knownZone, timeZoneOf } from './cards/local-time';

/** The person behind an activity; undefined when Teams did not say (then nothing is done). */
export function requesterOf(context: TurnContext): Requester | undefined {
  const { from, conversation, channelData } = context.activity;
  const timeZone = knownZone(timeZoneOf(context.activity));
  const tenantId =
    conversation?.tenantId ?? (channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
  if (!from?.aadObjectId || !tenantId) return undefined;
  return {
    aadObjectId: from.aadObjectId,
    tenantId,
    name: from.name || 'Unknown user',
    // Kept with a request, so that a reminder sent later says the end in the user's own time.
    ...(timeZone && { timeZone }),
  };
}
