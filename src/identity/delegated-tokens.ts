/**
 * Acting as the signed-in admin and nobody else: a Teams SSO token is validated, exchanged
 * on-behalf-of the user with msal-node for a Power Platform API token, and the sign-in is kept
 * for the SSO token's lifetime, so that pressing Elevate later needs no new sign-in (msal serves
 * the repeated exchange from its cache).
 *
 * With `shared` (TOKEN_CACHE_KEY set), the sign-in session and the user's msal token cache are
 * also kept in the store, sealed, so that another instance of the bot acts for the user without a
 * new sign-in (sessions.ts, token-cache.ts). Without it, both stay in this process's memory.
 *
 * A token that must satisfy an authentication context (step-up MFA) is asked with its claims
 * challenge: first as a silent refresh of the user's step-up cache (`steppedUp`, where a step-up
 * sign-in left its tokens), then on-behalf-of; Entra's challenge comes back as `step-up-required`.
 */
import {
  type AuthenticationResult,
  AuthError,
  InteractionRequiredAuthError,
} from '@azure/msal-node';
import type { Requester } from '../elevation/request';
import type {
  Clock,
  SignIn,
  SignInResult,
  StepUpRequired,
  TokenRequirements,
  TokenResult,
  UserTokens,
} from '../elevation/ports';
import { systemClock } from '../elevation/ports';
import { redactText, type Logger } from '../log';
import { hasDelegatedScope, tenantAdminCheck, tenantAdminRoleNames } from './admin-roles';
import { type Session, Sessions } from './sessions';
import type { SharedSecrets, UserKey } from './shared-secrets';
import type { SsoTokenValidator } from './sso-token-validator';
import { challengeIn, claimsFor, isSteppedUpClient, satisfiesContext } from './step-up-tokens';

export interface OnBehalfOfClient {
  acquireTokenOnBehalfOf(request: {
    oboAssertion: string;
    scopes: string[];
    /** A claims challenge (step-up); msal then skips its cache. */
    claims?: string;
  }): Promise<AuthenticationResult | null>;
}

/** The on-behalf-of client of each user (each with its own token cache). */
export interface OnBehalfOfClients {
  forUser(user: UserKey): OnBehalfOfClient;
  /** Resolves once the token caches written behind the answers are in the store. */
  settled?(): Promise<void>;
}

export interface DelegatedTokensOptions {
  validator: SsoTokenValidator;
  /** msal-node clients, one per user (createOnBehalfOfClients), or anything with their OBO call. */
  msal: OnBehalfOfClients;
  /** The Power Platform API scope, e.g. `https://api.powerplatform.com/.default`. */
  powerPlatformScope: string;
  logger: Logger;
  clock?: Clock;
  /** Sign-ins kept in memory at once (one per user). */
  maxSessions?: number;
  /** The store and key that share sign-in sessions between instances; memory only without. */
  shared?: SharedSecrets;
  /**
   * The users' step-up caches: the tokens of step-up sign-ins, refreshed with the claims. Apart
   * from on-behalf-of results, whose refresh token would replace the sign-in's (msal keeps one
   * per account). Absent: step-ups are looked for in `msal`.
   */
  steppedUp?: OnBehalfOfClients;
}

/** The permission applyAdminRole needs; without admin consent `.default` does not include it. */
const APPLY_PERMISSION = 'UserManagement.Users.Apply';
/** Where an eligible admin activates their role. */
const PIM_URL =
  'https://portal.azure.com/#view/Microsoft_Azure_PIMCommon/ActivationMenuBlade/~/aadmigratedroles';

const DEFAULTS = { maxSessions: 10_000 };
const SIGN_IN_REQUIRED: TokenResult = {
  ok: false,
  reason: 'sign-in-required',
  message: 'Please sign in so that I can act for you.',
};

/** An SSO token this close to expiry is not used for a new exchange. */
const EXPIRY_MARGIN_MS = 60_000;

/** Entra error codes that need the user (consent, MFA, Conditional Access, sign-in again). */
const CONSENT_CODES = /AADSTS65001|AADSTS65004|consent_required/i;
const INTERACTION_CODES =
  /AADSTS50076|AADSTS50079|AADSTS50158|AADSTS53003|AADSTS50074|interaction_required/i;
/** The SSO assertion itself is no longer good: Teams must give a fresh one. */
const STALE_ASSERTION = /AADSTS500133|AADSTS50013/i;

type Exchange =
  | { ok: true; result: AuthenticationResult }
  | {
      ok: false;
      reason: 'consent-required' | 'interaction-required' | 'stale-assertion' | 'error';
      message: string;
    }
  | { ok: false; reason: 'step-up-required'; message: string; claims: string };

export class DelegatedTokens implements UserTokens, SignIn {
  private readonly sessions: Sessions;

  constructor(private readonly options: DelegatedTokensOptions) {
    this.sessions = new Sessions({
      maxSessions: options.maxSessions ?? DEFAULTS.maxSessions,
      expiryMarginMs: EXPIRY_MARGIN_MS,
      clock: options.clock ?? systemClock,
      logger: options.logger,
      shared: options.shared,
    });
  }

  async settled(): Promise<void> {
    await Promise.all([this.options.msal.settled?.(), this.options.steppedUp?.settled?.()]);
  }

  async signIn(ssoToken: string, user: Requester): Promise<SignInResult> {
    const validation = await this.options.validator.validate(ssoToken, {
      aadObjectId: user.aadObjectId,
      tenantId: user.tenantId,
    });
    if (!validation.ok) {
      if (validation.reason === 'keys-unavailable') {
        // An identity provider outage is not the user's fault: say so, and never ask for consent.
        return {
          ok: false,
          reason: 'error',
          message:
            "I could not check your sign-in: Entra's signing keys are unavailable right now. Try again in a minute.",
        };
      }
      return {
        ok: false,
        reason: 'invalid-token',
        message: `Your Teams sign-in was refused (${validation.reason}).`,
        check: validation.reason,
      };
    }
    const exchange = await this.exchange(user, ssoToken);
    if (!exchange.ok) {
      if (exchange.reason === 'consent-required' || exchange.reason === 'interaction-required') {
        return { ok: false, reason: exchange.reason, message: exchange.message };
      }
      return { ok: false, reason: 'error', message: exchange.message };
    }
    await this.sessions.save(user, {
      assertion: ssoToken,
      expiresAt: validation.claims.exp * 1000,
      wids: validation.claims.wids,
      upn: validation.claims.upn,
    });
    this.options.logger.info('signed in', { user: user.aadObjectId, tenantId: user.tenantId });
    return { ok: true };
  }

  powerPlatformToken(user: Requester): Promise<TokenResult>;
  powerPlatformToken(
    user: Requester,
    requirements: TokenRequirements,
  ): Promise<TokenResult | StepUpRequired>;
  async powerPlatformToken(
    user: Requester,
    requirements: TokenRequirements = {},
  ): Promise<TokenResult | StepUpRequired> {
    // The user's sign-in, unless there is none or its SSO token is about to expire.
    const session: Session | undefined = await this.sessions.get(user);
    if (!session) return SIGN_IN_REQUIRED;
    // Checked before any API call: without one of these roles the API would refuse anyway.
    if (tenantAdminCheck(session.wids) === 'not-admin') {
      return {
        ok: false,
        reason: 'not-tenant-admin',
        upn: session.upn,
        message:
          'Your sign-in shows none of the roles that self-elevation needs: Global, Power Platform or Dynamics 365 Administrator, assigned directly to you (not through a group). ' +
          `If the role is eligible in Privileged Identity Management, activate it first (${PIM_URL}); it can take a while to reach Power Platform.`,
      };
    }
    const context = requirements.authenticationContext;
    const exchange = context
      ? await this.steppedUp(user, session.assertion, context)
      : await this.exchange(user, session.assertion);
    if (!exchange.ok) {
      if (exchange.reason === 'step-up-required') return { ...exchange, upn: session.upn };
      if (exchange.reason === 'error')
        return { ok: false, reason: 'error', message: exchange.message };
      await this.sessions.forget(user, session.assertion);
      return { ok: false, reason: 'sign-in-required', message: exchange.message };
    }
    const token = exchange.result.accessToken;
    if (hasDelegatedScope(token, APPLY_PERMISSION) === false) {
      return {
        ok: false,
        reason: 'permission-missing',
        message:
          `The bot's Entra app lacks the delegated Power Platform API permission ${APPLY_PERMISSION}, or it was never consented. ` +
          'An administrator must add it to the app registration and grant admin consent.',
      };
    }
    return { ok: true, token, upn: session.upn, adminRoles: tenantAdminRoleNames(session.wids) };
  }

  /**
   * The SSO assertion of the user's live sign-in, for the on-behalf-of exchange that keeps a
   * refresh token (later-tokens.ts); undefined when there is none. Never logged.
   */
  async assertionOf(user: UserKey): Promise<string | undefined> {
    return (await this.sessions.get(user))?.assertion;
  }

  /** Brings a step-up sign-in's tokens into the user's msal cache (step-up-sign-in.ts). */
  async adoptSignIn(user: UserKey, serializedCache: string): Promise<void> {
    const client = (this.options.steppedUp ?? this.options.msal).forUser(user);
    if (!isSteppedUpClient(client)) throw new Error('this token cache cannot take a sign-in');
    await client.adopt(serializedCache);
  }

  /** A token for another resource (an environment's Dataverse), from the same sign-in. */
  async resourceToken(user: Requester, resource: string): Promise<TokenResult> {
    const session = await this.sessions.get(user);
    if (!session) return SIGN_IN_REQUIRED;
    const exchange = await this.exchange(
      user,
      session.assertion,
      `${resource.replace(/\/+$/, '')}/.default`,
    );
    return exchange.ok
      ? { ok: true, token: exchange.result.accessToken }
      : { ok: false, reason: 'error', message: exchange.message };
  }

  /**
   * A Power Platform token satisfying `context`: a silent refresh with the claims (it succeeds
   * within the sign-in frequency after a step-up sign-in), else on-behalf-of with them. A token
   * counts only if its `acrs` holds the context.
   */
  private async steppedUp(user: UserKey, assertion: string, context: string): Promise<Exchange> {
    const claims = claimsFor(context);
    const scopes = [this.options.powerPlatformScope];
    const client = this.options.msal.forUser(user);
    const stepUpClient = (this.options.steppedUp ?? this.options.msal).forUser(user);
    if (isSteppedUpClient(stepUpClient)) {
      try {
        const result = await stepUpClient.acquireTokenSilentFor(user, { scopes, claims });
        if (result?.accessToken && satisfiesContext(result.accessToken, context))
          return { ok: true, result };
      } catch (error) {
        // Expected before any step-up (no account) or after its sign-in frequency: on-behalf-of says.
        this.options.logger.info('no stepped-up token in the cache', {
          errorCode: error instanceof AuthError ? error.errorCode : undefined,
        });
      }
    }
    const stepUp: Exchange = {
      ok: false,
      reason: 'step-up-required',
      claims,
      message: `This needs a fresh multi-factor sign-in (authentication context ${context}).`,
    };
    try {
      const result = await client.acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes,
        claims,
      });
      if (!result?.accessToken)
        return { ok: false, reason: 'error', message: 'The identity provider returned no token.' };
      return satisfiesContext(result.accessToken, context) ? { ok: true, result } : stepUp;
    } catch (error) {
      const challenge = challengeIn(error);
      if (challenge) return { ...stepUp, claims: challenge };
      return this.explain(error);
    }
  }

  private async exchange(
    user: UserKey,
    assertion: string,
    scope = this.options.powerPlatformScope,
  ): Promise<Exchange> {
    try {
      const result = await this.options.msal.forUser(user).acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [scope],
      });
      if (!result?.accessToken)
        return { ok: false, reason: 'error', message: 'The identity provider returned no token.' };
      return { ok: true, result };
    } catch (error) {
      return this.explain(error);
    }
  }

  /** Tells consent and interaction apart from everything else; only those two may prompt the user. */
  private explain(error: unknown): Exchange {
    const text =
      error instanceof AuthError
        ? `${error.errorCode} ${error.errorMessage} ${error.subError}`
        : String(error);
    const safe = redactText(
      error instanceof AuthError ? error.errorMessage || error.errorCode : String(error),
    ).slice(0, 300);
    this.options.logger.warn('on-behalf-of exchange failed', {
      errorCode: error instanceof AuthError ? error.errorCode : undefined,
      subError: error instanceof AuthError ? error.subError : undefined,
      message: safe,
    });
    if (CONSENT_CODES.test(text)) {
      return {
        ok: false,
        reason: 'consent-required',
        message: 'Your consent is needed before I can act for you in Power Platform.',
      };
    }
    if (INTERACTION_CODES.test(text) || error instanceof InteractionRequiredAuthError) {
      return {
        ok: false,
        reason: 'interaction-required',
        message:
          'Your organisation requires you to sign in again (multi-factor authentication or Conditional Access).',
      };
    }
    if (STALE_ASSERTION.test(text)) {
      return {
        ok: false,
        reason: 'stale-assertion',
        message: 'Your Teams sign-in has expired; please sign in again.',
      };
    }
    return {
      ok: false,
      reason: 'error',
      message: `The identity provider could not give me a token for you: ${safe}`,
    };
  }
}
