/**
 * What each outcome and each problem means to the person who asked: a headline, why it happened,
 * and what to do next. One table for every Problem, so cards, messages and notifications say the
 * same thing whether the sign-in or the API found it.
 */
import type { AdminRoleOutcome, Problem, TokenRefusal } from './vocabulary';

export interface OutcomeText {
  headline: string;
  explanation: string;
  nextStep?: string;
}

/**
 * Who reads the outcome. In a personal chat it is the requester ("you"); where others read it too
 * (a group chat), it is told in the third person, by the requester's name. `adminRoles` are the
 * requester's tenant admin roles from their sign-in, so that advice fits the role they hold.
 */
export interface OutcomeReader {
  /** The requester's name when others read the text too; absent: the requester alone reads it. */
  thirdPersonName?: string;
  adminRoles?: readonly string[];
  /** Dataverse was asked before and after (the card says which it was): no need to hedge. */
  roleChecked?: boolean;
}

/** The words that change between "you are" and "Alex Wilber is". */
export interface Voice {
  you: string;
  You: string;
  are: string;
  hold: string;
  your: string;
  their: string;
  them: string;
  they: string;
}

export function voiceOf(reader: OutcomeReader): Voice {
  const name = reader.thirdPersonName;
  if (!name) {
    return {
      you: 'you',
      You: 'You',
      are: 'are',
      hold: 'hold',
      your: 'your',
      their: 'your',
      them: 'you',
      they: 'you',
    };
  }
  return {
    you: name,
    You: name,
    are: 'is',
    hold: 'holds',
    your: `${name}'s`,
    their: 'their',
    them: 'them',
    they: 'they',
  };
}

/**
 * `headline`: an elevation that ended with the problem; `beforeAnyCall`: the title when the
 * sign-in found it and nothing was called (the headline otherwise).
 */
type ProblemText = (v: Voice) => { headline: string; nextStep?: string; beforeAnyCall?: string };

const PROBLEMS: Record<Problem, ProblemText> = {
  // Found by the sign-in only: the details are in the refusal's own message.
  'sign-in-required': () => ({ headline: 'Sign-in needed' }),
  error: () => ({ headline: 'Could not sign you in' }),
  // The API answered 2xx but reported an error: the headline says so before any status does.
  'functional-error': () => ({
    headline: 'Elevation failed: the API reported an error in its answer',
    nextStep:
      'Read what the API says above. Environments restricted to a security group, and Dataverse for Teams environments, need membership of the group or team: fix the membership, then try again.',
  }),
  'api-version-invalid': () => ({
    headline: 'Elevation failed: the bot is misconfigured',
    nextStep:
      "Ask the bot's operator to set POWERPLATFORM_API_VERSION to a version the API accepts.",
  }),
  'bad-request': () => ({
    headline: 'Elevation failed: the API refused the request',
    nextStep: "Give the correlation id to the bot's operator or to Microsoft support.",
  }),
  unauthorized: (v) => ({
    headline: `Elevation failed: ${v.your} sign-in was not accepted`,
    nextStep:
      v.you === 'you'
        ? 'Sign in again and retry. If it keeps failing, give the correlation id to your administrator.'
        : `${v.You} should sign in again and retry. If it keeps failing, give the correlation id to ${v.their} administrator.`,
  }),
  'permission-missing': (v) => ({
    headline: 'Elevation failed: the bot lacks a permission',
    beforeAnyCall: 'The bot lacks a permission',
    nextStep: `Either the bot's Entra app lacks the delegated Power Platform API permission UserManagement.Users.Apply (an administrator must add it and grant admin consent), or ${v.your} account lacks a tenant admin role: check both.`,
  }),
  'not-tenant-admin': (v) => ({
    headline: `Elevation refused: ${v.you} ${v.are} not a tenant administrator`,
    beforeAnyCall: `${v.You} ${v.are} not a tenant administrator`,
    nextStep:
      'Only Global, Power Platform or Dynamics 365 administrators can self-elevate, with the role assigned directly (not through a group). If the role is eligible in PIM, activate it first; it can take a while to reach Power Platform.',
  }),
  forbidden: (v) => ({
    headline: 'Elevation refused by the API',
    nextStep: `Check that ${v.you} ${v.hold} a tenant admin role and may act in this environment; give the correlation id to support if it persists.`,
  }),
  'environment-not-found': () => ({
    headline: 'Elevation failed: environment not found',
    nextStep:
      'The environment may have been deleted or moved. Ask again by name to see the current list.',
  }),
  throttled: () => ({
    headline: 'Elevation failed: the API is throttling requests',
    nextStep: 'Wait a minute and try again.',
  }),
  'upstream-unavailable': () => ({
    headline: 'Elevation failed: the Power Platform API is unavailable',
    nextStep:
      'Try again in a few minutes. If it persists, give the correlation id to Microsoft support.',
  }),
  timeout: () => ({
    headline: 'Elevation outcome unknown: the API did not answer in time',
    nextStep:
      'The role may or may not have been granted. Check the environment before trying again.',
  }),
  'connection-failed': () => ({
    headline: 'Elevation failed: the bot could not reach the Power Platform API',
    nextStep: "Try again in a few minutes; if it persists, tell the bot's operator.",
  }),
  'unexpected-response': () => ({
    headline: 'Elevation failed: unexpected answer from the API',
    nextStep:
      'Check the environment before trying again, and give the correlation id to support if there is one.',
  }),
  'invalid-request': () => ({ headline: 'Elevation not attempted: invalid request' }),
  interrupted: (v) => ({
    headline: 'Elevation outcome unknown: the bot stopped during the call',
    nextStep: `The role may or may not have been granted. Check ${v.your} roles in the environment, or look up the call in Microsoft Purview's audit log (activity ApplyAdminRole, at the time shown, with the client request id), before trying again.`,
  }),
};

const DYNAMICS_ADMIN = 'Dynamics 365 Administrator';

/**
 * The security-group rule, told for the role the requester holds: only Dynamics 365
 * administrators are bound to be members; to a Global or Power Platform administrator that rule
 * is no explanation, so it is not offered to them.
 */
function securityGroupAdvice(v: Voice, roles: readonly string[] | undefined): string {
  const known = roles && roles.length > 0;
  const onlyDynamics = known && roles.every((role) => role === DYNAMICS_ADMIN);
  const ask = `ask the environment's owner to add ${v.them} to it (or to lift the restriction), then try again.`;
  if (onlyDynamics) {
    return `The environment is restricted to a security group and ${v.you} ${v.are} not in it. As a Dynamics 365 administrator, ${v.you} must be a member of the environment's security group: ${ask}`;
  }
  if (known) {
    return `The environment is restricted to a security group and ${v.you} ${v.are} not in it, and the API refused on that ground: ${ask}`;
  }
  return `The environment is restricted to a security group and ${v.you} ${v.are} not in it. Dynamics 365 administrators must be members of the environment's security group; ${ask}`;
}

/** Headlines and advice for error codes that say more than their kind. */
const BY_ERROR_CODE: Record<
  string,
  (v: Voice, roles: readonly string[] | undefined) => { headline: string; nextStep: string }
> = {
  userNotPartOfSecurityGroup: (v, roles) => ({
    headline: `Elevation failed: ${v.you} ${v.are} not in the environment's security group`,
    nextStep: securityGroupAdvice(v, roles),
  }),
};

/** "1 second", "2 seconds". */
export function countOf(count: number, unit: string): string {
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

export function describeOutcome(
  outcome: AdminRoleOutcome,
  reader: OutcomeReader = {},
): OutcomeText {
  const v = voiceOf(reader);
  if (outcome.ok) {
    return {
      headline: reader.thirdPersonName
        ? `Elevated: ${reader.thirdPersonName} is now System Administrator`
        : 'Elevated: you are System Administrator',
      // The API answers the same when the role was already held: say so honestly, unless the
      // role check (shown beside it) told which.
      explanation:
        `The Power Platform API confirmed that ${v.you} now ${v.hold} the System Administrator role in this environment.` +
        (reader.roleChecked
          ? ''
          : ` (It answers the same way when ${v.they} already had the role.)`),
      nextStep: `The role stays until it is removed; if ${v.their} admin role came from PIM, Microsoft removes it when that assignment ends.`,
    };
  }
  const text = PROBLEMS[outcome.kind](v);
  const retryAfterMs = outcome.response.retryAfterMs;
  if (outcome.kind === 'throttled' && retryAfterMs !== undefined) {
    // The API said how long to wait: repeat it rather than guess.
    const wait =
      retryAfterMs >= 60_000
        ? countOf(Math.ceil(retryAfterMs / 60_000), 'minute')
        : countOf(Math.ceil(retryAfterMs / 1000), 'second');
    return {
      headline: text.headline,
      explanation: outcome.message,
      nextStep: `The API asked to wait ${wait}; try again after that.`,
    };
  }
  const specific = outcome.errorCode
    ? BY_ERROR_CODE[outcome.errorCode]?.(v, reader.adminRoles)
    : undefined;
  return {
    headline: specific?.headline ?? text.headline,
    explanation: outcome.message,
    nextStep: specific?.nextStep ?? text.nextStep,
  };
}

/** The title of a refusal found by the sign-in, before anything was called (told to the user). */
export function describeRefusal(reason: TokenRefusal): string {
  const text = PROBLEMS[reason](voiceOf({}));
  return text.beforeAnyCall ?? text.headline;
}

/**
 * "403 Forbidden", or "no response" when none arrived; a 2xx that carried a failure says so, and
 * the retries the bot made are counted ("502 Bad Gateway, after 4 attempts").
 */
export function describeStatus(outcome: AdminRoleOutcome): string {
  const { status, statusText, attempts } = outcome.response;
  const retried = attempts > 1 ? `, after ${countOf(attempts, 'attempt')}` : '';
  if (status === undefined) return `no response${retried}`;
  const described = statusText ? `${status} ${statusText}` : String(status);
  const failedAnyway =
    !outcome.ok && outcome.kind === 'functional-error' ? ' (with errors in the answer)' : '';
  return `${described}${failedAnyway}${retried}`;
}
