/**
 * What each outcome means to the person who pressed Elevate: a headline, why it happened, and what
 * to do next. One place for the wording, so cards, messages and notifications say the same thing.
 */
import type { AdminRoleOutcome, FailureKind } from '../powerplatform/model';

export interface OutcomeText {
  headline: string;
  explanation: string;
  nextStep?: string;
}

const FAILURES: Record<FailureKind, Omit<OutcomeText, 'explanation'> & { explanation?: string }> = {
  'functional-error': {
    headline: 'Elevation failed',
    nextStep:
      "Dynamics 365 administrators must also be members of the environment's security group; Dataverse for Teams environments need membership of the team. Fix the membership, then try again.",
  },
  'api-version-invalid': {
    headline: 'Elevation failed: the bot is misconfigured',
    nextStep:
      "Ask the bot's operator to set POWERPLATFORM_API_VERSION to a version the API accepts.",
  },
  'bad-request': {
    headline: 'Elevation failed: the API refused the request',
    nextStep: "Give the correlation id to the bot's operator or to Microsoft support.",
  },
  unauthorized: {
    headline: 'Elevation failed: your sign-in was not accepted',
    nextStep:
      'Sign in again and retry. If it keeps failing, give the correlation id to your administrator.',
  },
  'permission-missing': {
    headline: 'Elevation failed: the bot lacks a permission',
    nextStep:
      "Either the bot's Entra app lacks the delegated Power Platform API permission UserManagement.Users.Apply (an administrator must add it and grant admin consent), or your account lacks a tenant admin role: check both.",
  },
  'not-tenant-admin': {
    headline: 'Elevation refused: you are not a tenant administrator',
    nextStep:
      'Only Global, Power Platform or Dynamics 365 administrators can self-elevate, with the role assigned directly (not through a group). If the role is eligible in PIM, activate it first; it can take a while to reach Power Platform.',
  },
  forbidden: {
    headline: 'Elevation refused by the API',
    nextStep:
      'Check that you hold a tenant admin role and may act in this environment; give the correlation id to support if it persists.',
  },
  'environment-not-found': {
    headline: 'Elevation failed: environment not found',
    nextStep:
      'The environment may have been deleted or moved. Ask again by name to see the current list.',
  },
  throttled: {
    headline: 'Elevation failed: the API is throttling requests',
    nextStep: 'Wait a minute and try again.',
  },
  'upstream-unavailable': {
    headline: 'Elevation failed: the Power Platform API is unavailable',
    nextStep:
      'Try again in a few minutes. If it persists, give the correlation id to Microsoft support.',
  },
  timeout: {
    headline: 'Elevation outcome unknown: the API did not answer in time',
    nextStep:
      'The role may or may not have been granted. Check the environment before trying again.',
  },
  'connection-failed': {
    headline: 'Elevation failed: the bot could not reach the Power Platform API',
    nextStep: "Try again in a few minutes; if it persists, tell the bot's operator.",
  },
  'unexpected-response': {
    headline: 'Elevation failed: unexpected answer from the API',
    nextStep:
      'Check the environment before trying again, and give the correlation id to support if there is one.',
  },
  'invalid-request': { headline: 'Elevation not attempted: invalid request' },
  interrupted: {
    headline: 'Elevation outcome unknown: the bot stopped during the call',
    nextStep:
      "The role may or may not have been granted. Check your roles in the environment, or look up the call in Microsoft Purview's audit log (activity ApplyAdminRole, at the time shown, with the client request id), before trying again.",
  },
};

/** Advice for error codes that say more than their kind. */
const BY_ERROR_CODE: Record<string, string> = {
  userNotPartOfSecurityGroup:
    "The environment is restricted to a security group and you are not in it. Dynamics 365 administrators must be members of the environment's security group; ask its owner to add you, then try again.",
};

export function describeOutcome(outcome: AdminRoleOutcome): OutcomeText {
  if (outcome.ok) {
    return {
      headline: 'Elevated: you are System Administrator',
      // The API answers the same when the role was already held: say so honestly.
      explanation:
        'The Power Platform API confirmed that you now hold the System Administrator role in this environment. ' +
        '(It answers the same way when you already had the role.)',
      nextStep:
        'The role stays until it is removed; if your admin role came from PIM, Microsoft removes it when that assignment ends.',
    };
  }
  const text = FAILURES[outcome.kind];
  const retryAfterMs = outcome.response.retryAfterMs;
  if (outcome.kind === 'throttled' && retryAfterMs !== undefined) {
    // The API said how long to wait: repeat it rather than guess.
    const wait =
      retryAfterMs >= 60_000
        ? `${Math.ceil(retryAfterMs / 60_000)} minute(s)`
        : `${Math.ceil(retryAfterMs / 1000)} seconds`;
    return {
      headline: text.headline,
      explanation: outcome.message,
      nextStep: `The API asked to wait ${wait}; try again after that.`,
    };
  }
  const specific = outcome.errorCode ? BY_ERROR_CODE[outcome.errorCode] : undefined;
  return {
    headline: text.headline,
    explanation: outcome.message,
    nextStep: specific ?? text.nextStep,
  };
}

/** "403 Forbidden", or "no response" when none arrived. */
export function describeStatus(outcome: AdminRoleOutcome): string {
  const { status, statusText } = outcome.response;
  if (status === undefined) return 'no response';
  return statusText ? `${status} ${statusText}` : String(status);
}
