/** Who is acting, as the activity says; the rules compare only the Entra object id and tenant. */
import type { TurnContext } from 'botbuilder';
import type { Requester } from '../elevation/request';

/** The person behind an activity; undefined when Teams did not say (then nothing is done). */
export function requesterOf(context: TurnContext): Requester | undefined {
  const { from, conversation, channelData, localTimezone } = context.activity;
  const tenantId =
    conversation?.tenantId ?? (channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
  if (!from?.aadObjectId || !tenantId) return undefined;
  return {
    aadObjectId: from.aadObjectId,
    tenantId,
    name: from.name || 'Unknown user',
    // Kept with a request, so that a reminder sent later says the end in the user's own time.
    ...(validTimeZone(localTimezone) && { timeZone: localTimezone }),
  };
}

/** An IANA zone name the runtime knows; anything else is left out (times are then in UTC). */
function validTimeZone(zone: string | undefined): zone is string {
  if (!zone || zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
