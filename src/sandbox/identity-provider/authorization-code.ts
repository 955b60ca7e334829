/**
 * Authorization code with PKCE (S256), as the bot's consent page and its step-up sign-in use it.
 * There is nobody to ask, so the authorize endpoint shows no page: it signs in `login_hint` (or
 * the default user) and redirects straight back with a code. Signing in this way also resolves the
 * user's `consent-required` and `interaction-required` behaviors, as consenting in the popup
 * would; with `claims` asking authentication contexts it stands for the user completing MFA: the
 * code's tokens carry `acrs`, and its refresh token remembers the step-up (step-up.ts).
 */
import { createHash } from 'node:crypto';

import { authenticateClient } from './client-auth';
import { entraError, missingParameter } from './entra-errors';
import { errorPage, json, redirect, type Answer } from './http-answers';
import { issueTokens } from './issued-tokens';
import { correlationHeader, grantedPermissions } from './obo-grant';
import type { GrantOutcome, ProviderState } from './provider-state';
import { readScopes } from './scopes';
import { readClaims } from './step-up';
import { resolveUser } from './users';

export const CODE_GRANT_TYPE = 'authorization_code';

/** GET /{tenant}/oauth2/v2.0/authorize */
export function authorize(state: ProviderState, query: URLSearchParams): Answer {
  const clientId = query.get('client_id') ?? '';
  const client = state.clients.get(clientId.toLowerCase());
  if (!client) {
    return errorPage(
      400,
      'Sign-in failed',
      `AADSTS700016: Application with identifier '${clientId}' was not found in the directory.`,
    );
  }
  // Errors go back to the redirect URI only once it is known to be registered (RFC 6749 4.1.2.1).
  const redirectUri = query.get('redirect_uri') ?? '';
  if (!state.redirectUris.includes(redirectUri)) {
    return errorPage(
      400,
      'Sign-in failed',
      `AADSTS50011: The redirect URI '${redirectUri}' does not match the redirect URIs configured for the application '${client.clientId}'.`,
    );
  }
  const requestState = query.get('state') ?? undefined;
  const fail = (error: string, code: number, text: string): Answer =>
    redirect(
      withParams(redirectUri, {
        error,
        error_description: `AADSTS${code}: ${text}`,
        state: requestState,
      }),
    );

  const responseType = query.get('response_type');
  if (responseType !== 'code') {
    return fail(
      'unsupported_response_type',
      700054,
      `response_type '${responseType ?? ''}' is not enabled; use 'code'.`,
    );
  }
  const responseMode = query.get('response_mode');
  if (responseMode !== null && responseMode !== 'query') {
    return fail(
      'invalid_request',
      900144,
      `response_mode '${responseMode}' is not supported here; use 'query'.`,
    );
  }
  const scope = query.get('scope');
  if (!scope)
    return fail('invalid_request', 900144, "The request must contain the parameter 'scope'.");
  const reading = readScopes(scope);
  if (!reading.ok) return fail(reading.error, reading.code, reading.text);

  const challenge = query.get('code_challenge');
  const method = query.get('code_challenge_method');
  if (!challenge || method !== 'S256') {
    return fail(
      'invalid_request',
      9002325,
      'Proof Key for Code Exchange is required: send code_challenge with code_challenge_method=S256.',
    );
  }
  if (!/^[A-Za-z0-9_-]{43}$/.test(challenge)) {
    return fail(
      'invalid_request',
      9002325,
      'code_challenge must be a base64url SHA-256 digest (43 characters).',
    );
  }

  const asked = readClaims(query.get('claims'));
  if (!asked.ok) {
    return fail('invalid_request', 90014, 'The claims parameter is malformed.');
  }

  const hint = query.get('login_hint');
  const user = hint ? state.users.find(hint) : state.defaultUser;
  if (!user) {
    return fail(
      'login_required',
      50058,
      hint
        ? `No account matches the login_hint '${hint}' (register it with addUser).`
        : 'No user is signed in: pass login_hint or start the provider with a defaultUser.',
    );
  }
  state.behaviors.resolvedInteractively(user.oid);
  const code = state.codes.issue(
    {
      clientId: client.clientId,
      redirectUri,
      codeChallenge: challenge,
      user,
      requested: reading.scopes,
      nonce: query.get('nonce') ?? undefined,
      ...(asked.acrs.length > 0 && { stepUp: { acrs: asked.acrs, at: state.now() } }),
    },
    state.settings.codeLifetimeSeconds,
  );
  return redirect(withParams(redirectUri, { code, state: requestState }));
}

/** POST /{tenant}/oauth2/v2.0/token with grant_type=authorization_code */
export async function codeGrant(
  state: ProviderState,
  form: URLSearchParams,
  authorization: string | undefined,
  correlationId?: string,
): Promise<GrantOutcome> {
  // Without a secret, PKCE alone proves the caller (a browser page, like a SPA registration).
  const client = authenticateClient(form, authorization, state.clients, {
    secretRequired: false,
    correlationId,
  });
  if (!client.ok) return { answer: client.answer };
  const value = form.get('code');
  if (!value) return { answer: missingParameter('code', correlationId) };

  const invalidGrant = (code: number, text: string, oid?: string): GrantOutcome => ({
    oid,
    answer: entraError(400, { error: 'invalid_grant', code, text, correlationId }),
  });
  const redemption = state.codes.redeem(value);
  if (!redemption.ok) {
    switch (redemption.reason) {
      case 'redeemed':
        return invalidGrant(
          54005,
          'OAuth2 Authorization code was already redeemed, please retry with a new valid code.',
        );
      case 'expired':
        return invalidGrant(70008, 'The provided authorization code has expired.');
      case 'unknown':
        return invalidGrant(70000, 'The provided authorization code is not valid.');
    }
  }
  const issued = redemption.code;
  const oid = issued.user.oid;
  if (issued.clientId !== client.clientId) {
    return invalidGrant(70000, 'The authorization code was issued to another client.', oid);
  }
  if (form.get('redirect_uri') !== issued.redirectUri) {
    return invalidGrant(
      70000,
      'The redirect_uri does not match the one the authorization code was issued for.',
      oid,
    );
  }
  const verifier = form.get('code_verifier');
  if (!verifier) return invalidGrant(501481, 'The code_verifier is missing.', oid);
  if (!/^[A-Za-z0-9._~-]{43,128}$/.test(verifier) || s256(verifier) !== issued.codeChallenge) {
    return invalidGrant(
      501481,
      'The Code_Verifier does not match the code_challenge supplied in the authorization request.',
      oid,
    );
  }

  const user = resolveUser(issued.user);
  const requested = issued.requested;
  const granted = grantedPermissions(state, oid, state.behaviors.peek(oid));
  // The user saw the request interactively: asked permissions that are not granted are left out.
  const lowerGranted = granted.map((p) => p.toLowerCase());
  const permissions = requested.wantsDefault
    ? granted
    : requested.permissions.filter((p) => lowerGranted.includes(p.toLowerCase()));
  const body = await issueTokens({
    keys: state.keys,
    issuer: state.issuer(user.tid),
    clientId: client.clientId,
    user: { ...user, wids: state.behaviors.grant(oid)?.wids ?? user.wids },
    requested,
    permissions,
    lifetimeSeconds: state.settings.accessTokenLifetimeSeconds,
    idToken: true,
    clientInfo: form.get('client_info') === '1',
    echoDefaultScope: state.settings.echoDefaultScope,
    nonce: issued.nonce,
    acrs: issued.stepUp?.acrs,
  });
  // As Entra does for `offline_access`; it carries the step-up for later refreshes.
  if (requested.oidc.includes('offline_access')) {
    body.refresh_token = state.refreshTokens.issue(
      { clientId: client.clientId, user: issued.user, stepUp: issued.stepUp },
      state.settings.refreshTokenLifetimeSeconds,
    );
  }
  return { answer: json(200, body, correlationHeader(correlationId)), oid };
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

function withParams(url: string, params: Record<string, string | undefined>): string {
  const target = new URL(url);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) target.searchParams.set(name, value);
  }
  return target.toString();
}
