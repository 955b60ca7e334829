/**
 * The refresh-token grant (`grant_type=refresh_token`): a confidential client (secret or
 * certificate, as for on-behalf-of) redeems a refresh token it was given for an access token to
 * any resource the user consented to, with a rotated refresh token. Refusals as Entra words them:
 * an unknown token is malformed (AADSTS9002313), an expired one inactive (AADSTS700082), another
 * client's not valid (AADSTS70000); per-user behaviors (revoked, MFA, consent, sign-in frequency,
 * outage) apply unless they are aimed at on-behalf-of only. With `claims` asking authentication
 * contexts, the token's chain must start from a step-up to them within `stepUpLifetimeSeconds`;
 * otherwise the answer is the step-up challenge again (step-up.ts).
 */
import { authenticateClient } from './client-auth';
import { entraError, missingParameter } from './entra-errors';
import { json } from './http-answers';
import { issueTokens } from './issued-tokens';
import { correlationHeader, grantedPermissions } from './obo-grant';
import type { GrantOutcome, ProviderState } from './provider-state';
import { grantedFor, readScopes } from './scopes';
import { readClaims, stepUpHolds, stepUpRequired } from './step-up';
import { failureAnswer } from './user-behavior';
import { resolveUser } from './users';

export const REFRESH_GRANT_TYPE = 'refresh_token';

export async function refreshGrant(
  state: ProviderState,
  form: URLSearchParams,
  authorization: string | undefined,
  correlationId?: string,
): Promise<GrantOutcome> {
  const client = authenticateClient(form, authorization, state.clients, {
    secretRequired: true,
    correlationId,
  });
  if (!client.ok) return { answer: client.answer };
  const value = form.get('refresh_token');
  if (!value) return { answer: missingParameter('refresh_token', correlationId) };
  const scope = form.get('scope');
  if (!scope) return { answer: missingParameter('scope', correlationId) };
  const reading = readScopes(scope);
  if (!reading.ok) return { answer: entraError(400, { ...reading, correlationId }) };
  const requested = reading.scopes;
  const resource = requested.resource;
  if (resource === undefined) {
    return {
      answer: entraError(400, {
        error: 'invalid_scope',
        code: 70011,
        text: 'This provider redeems refresh tokens for a resource only, e.g. https://org.crm.dynamics.com/.default.',
        correlationId,
      }),
    };
  }

  const asked = readClaims(form.get('claims'), correlationId);
  if (!asked.ok) return { answer: asked.answer };

  const invalidGrant = (code: number, text: string, oid?: string): GrantOutcome => ({
    oid,
    answer: entraError(400, { error: 'invalid_grant', code, text, correlationId }),
  });
  const redemption = state.refreshTokens.redeem(value);
  if (!redemption.ok) {
    return redemption.reason === 'expired'
      ? invalidGrant(700082, 'The refresh token has expired due to inactivity.')
      : invalidGrant(9002313, 'Invalid request. Request is malformed or invalid.');
  }
  const issued = redemption.token;
  const user = resolveUser(issued.user);
  if (issued.clientId !== client.clientId) {
    return invalidGrant(
      70000,
      "The provided value for the 'refresh_token' is not valid: it was issued to another client.",
      user.oid,
    );
  }

  if (
    asked.acrs.length > 0 &&
    !stepUpHolds(issued.stepUp, asked.acrs, state.now(), state.settings.stepUpLifetimeSeconds)
  ) {
    return { answer: stepUpRequired(resource, asked.acrs, correlationId), oid: user.oid };
  }

  const behavior = state.behaviors.take(user.oid, 'refresh_token');
  // An assertion that has run out concerns on-behalf-of; a refresh has none.
  if (behavior && behavior.kind !== 'expired-assertion') {
    const failure = failureAnswer(behavior, {
      clientId: client.clientId,
      resource,
      correlationId,
    });
    if (failure) return { answer: failure, oid: user.oid };
  }

  const permissions = grantedFor(requested, grantedPermissions(state, user.oid, behavior));
  if (!permissions.ok) {
    return {
      oid: user.oid,
      answer: entraError(400, {
        error: 'invalid_grant',
        code: 65001,
        text: `The user or administrator has not consented to use the application with ID '${client.clientId}' for '${permissions.missing.map((p) => `${resource}/${p}`).join(' ')}'. Send an interactive authorization request for this user and resource.`,
        suberror: 'consent_required',
        correlationId,
      }),
    };
  }

  const body = await issueTokens({
    keys: state.keys,
    issuer: state.issuer(user.tid),
    clientId: client.clientId,
    // The roles the user holds now (a PIM activation may have ended since the first token).
    user: { ...user, wids: state.behaviors.grant(user.oid)?.wids ?? user.wids },
    requested,
    permissions: permissions.permissions,
    lifetimeSeconds: state.settings.accessTokenLifetimeSeconds,
    idToken: state.settings.oboAccountTokens,
    clientInfo: state.settings.oboAccountTokens && form.get('client_info') === '1',
    echoDefaultScope: state.settings.echoDefaultScope,
    acrs: asked.acrs,
  });
  if (requested.oidc.includes('offline_access')) {
    body.refresh_token = state.refreshTokens.issue(
      { clientId: client.clientId, user: issued.user, stepUp: issued.stepUp },
      state.settings.refreshTokenLifetimeSeconds,
    );
  }
  return { answer: json(200, body, correlationHeader(correlationId)), oid: user.oid };
}
