/**
 * Per-user switches for how the token endpoint answers an on-behalf-of or refresh-token request,
 * one per failure the bot must tell apart (consent vs. MFA vs. stale token vs. revoked sessions vs.
 * Entra down vs. a missing permission), and per-user grants that shape the issued tokens.
 */
import { randomUUID } from 'node:crypto';

import { entraError } from './entra-errors';
import type { Answer } from './http-answers';

export type OboFailure =
  /** 400 invalid_grant, AADSTS65001, suberror consent_required. */
  | 'consent-required'
  /** 400 interaction_required, AADSTS50076 (MFA) or 50079 (MFA enrolment), suberror basic_action. */
  | 'interaction-required'
  /** 400 invalid_grant, AADSTS500133, even for an assertion that has not expired. */
  | 'expired-assertion'
  /** 500 server_error or 503 temporarily_unavailable. */
  | 'server-error'
  /** Success, but the token lacks UserManagement.Users.Apply (admin consent not given for it). */
  | 'missing-permission'
  /**
   * 400 invalid_grant, AADSTS50173: the user's sessions were revoked (or the password changed)
   * after the refresh token was issued.
   */
  | 'revoked'
  /** 400 invalid_grant, AADSTS70043: Conditional Access sign-in frequency ended the session. */
  | 'sign-in-frequency';

/** Every behavior; `expired-assertion` concerns the on-behalf-of grant only (it has an assertion). */
export const OBO_FAILURES: readonly OboFailure[] = [
  'consent-required',
  'interaction-required',
  'expired-assertion',
  'server-error',
  'missing-permission',
  'revoked',
  'sign-in-frequency',
];

/** The grants a behavior can be aimed at. */
export type TargetGrant = 'on_behalf_of' | 'refresh_token';

export interface BehaviorDetails {
  kind: OboFailure;
  /** For `server-error`: the status (503 by default). */
  status?: 500 | 503;
  /** For `interaction-required`: 50076 (MFA needed, the default) or 50079 (MFA enrolment needed). */
  errorCode?: 50076 | 50079;
  /** For `server-error`: a Retry-After header, in seconds (msal-node throttles on it). */
  retryAfterSeconds?: number;
  /** Applies to the next `times` token requests of the user only; to all of them when absent. */
  times?: number;
  /**
   * Applies to this grant only (e.g. `refresh_token`: on-behalf-of keeps working while the refresh
   * is refused); to both when absent.
   */
  grant?: TargetGrant;
}

export type UserBehavior = OboFailure | BehaviorDetails;

export interface UserGrant {
  /** Delegated permissions the issued access tokens carry (space separated or a list). */
  scp?: string | string[];
  /** Directory role template ids put in `wids`, instead of the assertion's. */
  wids?: string[];
}

export class UserBehaviors {
  private readonly behaviors = new Map<string, BehaviorDetails>();
  private readonly grants = new Map<string, UserGrant>();

  set(oid: string, behavior: UserBehavior | undefined): void {
    if (behavior === undefined) this.behaviors.delete(key(oid));
    else
      this.behaviors.set(
        key(oid),
        typeof behavior === 'string' ? { kind: behavior } : { ...behavior },
      );
  }

  /** The behavior for this request of `grant`, counting it against `times`. */
  take(oid: string, grant: TargetGrant = 'on_behalf_of'): BehaviorDetails | undefined {
    const behavior = this.behaviors.get(key(oid));
    if (!behavior) return undefined;
    if (behavior.grant !== undefined && behavior.grant !== grant) return undefined;
    if (behavior.times !== undefined) {
      behavior.times -= 1;
      if (behavior.times <= 0) this.behaviors.delete(key(oid));
    }
    return behavior;
  }

  /** The behavior without counting it (for flows it does not fail, like the code grant). */
  peek(oid: string): BehaviorDetails | undefined {
    return this.behaviors.get(key(oid));
  }

  /** Signing in interactively (consent given, MFA done) clears the failures it resolves. */
  resolvedInteractively(oid: string): void {
    const kind = this.behaviors.get(key(oid))?.kind;
    if (kind === 'consent-required' || kind === 'interaction-required')
      this.behaviors.delete(key(oid));
  }

  setGrant(oid: string, grant: UserGrant | undefined): void {
    if (grant === undefined) this.grants.delete(key(oid));
    else this.grants.set(key(oid), grant);
  }

  grant(oid: string): UserGrant | undefined {
    return this.grants.get(key(oid));
  }
}

export interface FailureContext {
  clientId: string;
  /** The resource the token was asked for. */
  resource: string;
  correlationId?: string;
  /** The assertion's `exp`, for the expiry message. */
  assertionExpiry?: number;
}

/** The error answer for a failing behavior; undefined for `missing-permission`, which succeeds. */
export function failureAnswer(
  behavior: BehaviorDetails,
  context: FailureContext,
): Answer | undefined {
  const { correlationId } = context;
  switch (behavior.kind) {
    case 'consent-required':
      return entraError(400, {
        error: 'invalid_grant',
        code: 65001,
        text: `The user or administrator has not consented to use the application with ID '${context.clientId}' for '${context.resource}'. Send an interactive authorization request for this user and resource.`,
        suberror: 'consent_required',
        correlationId,
      });
    case 'interaction-required': {
      const enrolment = behavior.errorCode === 50079;
      return entraError(400, {
        error: 'interaction_required',
        code: enrolment ? 50079 : 50076,
        text: enrolment
          ? `The user must enrol in multi-factor authentication before accessing '${context.resource}'.`
          : `A Conditional Access policy requires multi-factor authentication to access '${context.resource}'.`,
        suberror: 'basic_action',
        claims: JSON.stringify({
          access_token: { capolids: { essential: true, values: [randomUUID()] } },
        }),
        correlationId,
      });
    }
    case 'expired-assertion':
      return assertionOutOfTime(context.assertionExpiry, correlationId);
    case 'revoked':
      return entraError(400, {
        error: 'invalid_grant',
        code: 50173,
        text: 'The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. (simulated)',
        correlationId,
      });
    case 'sign-in-frequency':
      return entraError(400, {
        error: 'invalid_grant',
        code: 70043,
        text: 'The refresh token has expired or is invalid due to sign-in frequency checks by conditional access. (simulated)',
        correlationId,
      });
    case 'server-error': {
      const status = behavior.status ?? 503;
      const headers: Record<string, string> =
        behavior.retryAfterSeconds !== undefined
          ? { 'retry-after': String(behavior.retryAfterSeconds) }
          : {};
      return status === 500
        ? entraError(500, {
            error: 'server_error',
            code: 50000,
            text: 'There was an error issuing a token. (simulated)',
            correlationId,
            headers,
          })
        : entraError(503, {
            error: 'temporarily_unavailable',
            code: 90033,
            text: 'The service is temporarily unavailable; try again shortly. (simulated)',
            correlationId,
            headers,
          });
    }
    case 'missing-permission':
      return undefined;
  }
}

/** AADSTS500133: also what a really expired (or not yet valid) assertion gets. */
export function assertionOutOfTime(expiry: number | undefined, correlationId?: string): Answer {
  const expiryText = expiry === undefined ? 'unknown' : new Date(expiry * 1000).toISOString();
  return entraError(400, {
    error: 'invalid_grant',
    code: 500133,
    text: `The assertion is not within its valid time range. Make sure the access token has not expired before using it as a user assertion, or ask for a new one. Current time: ${new Date().toISOString()}, assertion expiry: ${expiryText}.`,
    correlationId,
  });
}

function key(oid: string): string {
  return oid.toLowerCase();
}
