/**
 * Step-up MFA with Conditional Access authentication contexts, the token side: the claims
 * challenge asked for a context, the `acrs` a token carries, and the challenge Entra sends back.
 *
 * How msal-node 7 treats `claims` (verified in its source): on-behalf-of and silent requests
 * given claims skip the access token cache and go to Entra (OnBehalfOfClient.acquireToken,
 * SilentFlowClient.acquireCachedToken); a silent one then redeems the account's refresh token with
 * the claims. Entra answers a request it cannot satisfy with 400 interaction_required and a
 * `claims` challenge, which msal puts on the InteractionRequiredAuthError it throws.
 */
import { type AuthenticationResult, InteractionRequiredAuthError } from '@azure/msal-node';
import type { UserKey } from './shared-secrets';

/** What a user's msal client offers beyond on-behalf-of (msal-client.ts). */
export interface SteppedUpClient {
  /** A refresh with `claims` for the user's cached account; null when none is cached. */
  acquireTokenSilentFor(
    user: UserKey,
    request: { scopes: string[]; claims: string },
  ): Promise<AuthenticationResult | null>;
  /** Brings tokens redeemed by another client (the step-up sign-in) into this user's cache. */
  adopt(serializedCache: string): Promise<void>;
}

export function isSteppedUpClient(client: object): client is SteppedUpClient {
  return 'acquireTokenSilentFor' in client && 'adopt' in client;
}

/** The claims challenge that asks a token to satisfy an authentication context, as Entra spells it. */
export function claimsFor(authenticationContext: string): string {
  return JSON.stringify({
    access_token: { acrs: { essential: true, value: authenticationContext } },
  });
}

/**
 * The authentication contexts a token's `acrs` claim holds. Read without verifying the signature:
 * the token came straight from the identity provider, and the API it is for verifies it.
 */
export function acrsOf(token: string): string[] {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as {
      acrs?: unknown;
    };
    return Array.isArray(payload.acrs)
      ? payload.acrs.filter((a): a is string => typeof a === 'string')
      : [];
  } catch {
    return [];
  }
}

/** Whether `token` satisfies the authentication context. */
export function satisfiesContext(token: string, authenticationContext: string): boolean {
  return acrsOf(token).includes(authenticationContext);
}

/** The claims challenge Entra answered with, when the error carries one. */
export function challengeIn(error: unknown): string | undefined {
  if (!(error instanceof InteractionRequiredAuthError)) return undefined;
  return error.claims && error.claims.trim() !== '' ? error.claims : undefined;
}
