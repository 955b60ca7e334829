/**
 * What the end of a time-boxed elevation means to the person who asked: for each way it can come
 * out, a headline, why, and (when they must act) what to do, as outcome-text.ts does for grants.
 * One table, so the chat, the cards and the channel notifications tell each ending the same way.
 */
import { countOf, type OutcomeReader, type OutcomeText, voiceOf } from './outcome-text';
import type { RemovalEnding } from './vocabulary';

export type { RemovalEnding };

/** Where the role is removed by hand when Dataverse refuses the bot. */
export const ADMIN_CENTER_URL = 'https://admin.powerplatform.microsoft.com';

export interface RemovalContext {
  environmentName: string;
  /** The user ended it before its time (I'm done, Remove now). */
  early?: boolean;
  reader?: OutcomeReader;
  /** When the bot tries again, as the reader's clock says it ("15:42 (your time)"). */
  nextAttempt?: string;
}

export interface RemovalText extends OutcomeText {
  /** The role is gone, or rightly kept: nothing is left to do. */
  settled: boolean;
}

/** "30 seconds", "2 minutes": a wait Dataverse asked for, rounded up. */
function waitText(ms: number): string {
  return ms >= 60_000
    ? countOf(Math.ceil(ms / 60_000), 'minute')
    : countOf(Math.ceil(ms / 1000), 'second');
}

/** " Dataverse request id: X." when Dataverse gave one, so it can be quoted from the text alone. */
function requestIdSentence(ending: RemovalEnding): string {
  return 'requestId' in ending && ending.requestId
    ? ` Dataverse request id: ${ending.requestId}.`
    : '';
}

/** The headline, why, and what to do, for one ending of an elevation in one environment. */
export function describeRemoval(ending: RemovalEnding, context: RemovalContext): RemovalText {
  const v = voiceOf(context.reader ?? {});
  const Your = v.your.charAt(0).toUpperCase() + v.your.slice(1);
  const where = context.environmentName;
  const id = requestIdSentence(ending);
  switch (ending.kind) {
    case 'removed':
      return {
        headline: `System Administrator removed in ${where}`,
        explanation: context.early
          ? `${v.You} ended the elevation before its time, and Dataverse removed the System Administrator role: ${v.you} no longer ${v.hold} it here.${id}`
          : `The elevation's time is up, and Dataverse removed the System Administrator role: ${v.you} no longer ${v.hold} it here.${id}`,
        settled: true,
      };
    case 'already-gone':
      return {
        headline: `Nothing to remove in ${where}`,
        explanation: `Nothing to remove: Dataverse shows no System Administrator role for ${v.them} any more (${ending.detail}). That is a success: the role is gone, whoever removed it.${id}`,
        settled: true,
      };
    case 'removed-by-microsoft':
      return {
        headline: `System Administrator already gone in ${where}: removed by Microsoft`,
        explanation: `${Your} PIM activation ended, and Microsoft removed the role with it: Dataverse shows no System Administrator role for ${v.them}, and ${v.your} sign-in no longer shows a tenant admin role. Nothing is left to remove.${id}`,
        settled: true,
      };
    case 'kept':
      return {
        headline: `System Administrator kept in ${where}`,
        explanation: `${v.You} already held System Administrator here before this elevation, so the bot did not grant it and does not remove it: it only removes what it granted.`,
        nextStep: `If ${v.they} no longer need the role, it can be removed in the Power Platform admin center (${ADMIN_CENTER_URL}).`,
        settled: true,
      };
    case 'refused':
      return {
        headline: `Removal refused in ${where}: ${v.you} still ${v.hold} System Administrator`,
        explanation: `Dataverse refused to remove the role (HTTP ${ending.status}): ${ending.message}${id}`,
        nextStep: `Remove the role in the Power Platform admin center (${ADMIN_CENTER_URL}): the environment, Settings, Users, ${v.your} user, Manage security roles. The bot keeps trying, less and less often; removing it there is quicker.`,
        settled: false,
      };
    case 'unavailable': {
      const throttled = ending.status === 429;
      const when = context.nextAttempt
        ? `at ${context.nextAttempt}`
        : ending.retryAfterMs !== undefined
          ? `in ${waitText(ending.retryAfterMs)}, as Dataverse asked`
          : 'in a few minutes';
      return {
        headline: throttled
          ? `Removal delayed in ${where}: Dataverse is throttling requests`
          : `Removal delayed in ${where}: Dataverse did not answer`,
        explanation: `${ending.message} Until the role is removed, ${v.you} still ${v.hold} System Administrator here.${id}`,
        nextStep: `Nothing to do: the bot tries again ${when}, and says when it is done.`,
        settled: false,
      };
    }
    case 'token-unavailable':
      return {
        headline: `${Your} elevation in ${where} has ended: press Remove now`,
        explanation:
          ending.reason === 'not-kept'
            ? `The bot holds nothing to act as ${v.them} while ${v.they} are away (${ending.message}), so the role is still there.`
            : ending.reason === 'unavailable'
              ? `The sign-in service could not give the bot a token to act as ${v.them} (${ending.message}), so the role is still there.`
              : `The sign-in service refused to let the bot act as ${v.them} (${ending.message}), so the role is still there. That happens when consent is needed again, when multi-factor authentication or a fresh sign-in is required (sign-in frequency), or when the session was revoked.`,
        nextStep:
          v.you === 'you'
            ? 'Press Remove now: it signs you in and removes the role at once. The bot keeps trying meanwhile.'
            : `${v.You} should press Remove now: it signs ${v.them} in and removes the role at once. The bot keeps trying meanwhile.`,
        settled: false,
      };
  }
}

/**
 * A removal notification's `removal.kind` in a few words, for a channel: "Removed", "Already
 * gone (a success)", "Refused by Dataverse"; the kind itself when it is none of these.
 */
export function removalResultLabel(kind: string, early?: boolean): string {
  const labels: Record<RemovalEnding['kind'], string> = {
    removed: early ? 'Removed, ended early' : 'Removed',
    'already-gone': 'Already gone (a success)',
    'removed-by-microsoft': 'Removed by Microsoft (PIM activation ended)',
    kept: 'Kept: held before the elevation',
    refused: 'Refused by Dataverse',
    unavailable: 'Dataverse unavailable: retrying',
    'token-unavailable': 'Could not sign in silently: Remove now needed',
  };
  return (labels as Record<string, string>)[kind] ?? kind;
}
