/**
 * The on-behalf-of grant (`urn:ietf:params:oauth:grant-type:jwt-bearer`): the bot trades the user's
 * Teams SSO token for a delegated token to another resource (the Power Platform API). As Entra
 * does, the answer carries a refresh token when the request asks `offline_access` (msal-node
 * always does). With `claims` asking an authentication context the assertion's sign-in did not
 * satisfy (a Teams SSO token never does), the answer is the step-up challenge (step-up.ts).
 */
import { authenticateClient } from './client-auth';
import { checkAssertion } from './assertion-check';
import { entraError, missingParameter } from './entra-errors';
import { json } from './http-answers';
import { issueTokens } from './issued-tokens';
import type { GrantOutcome, ProviderState } from './provider-state';
import { grantedFor, readScopes } from './scopes';
import { readClaims, satisfies, stepUpRequired } from './step-up';
import { failureAnswer, type BehaviorDetails } from './user-behavior';
import { APPLY_ADMIN_ROLE_PERMISSION } from './well-known-ids';

export const OBO_GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

export async function oboGrant(
  state: ProviderState,
  tenant: string,
  form: URLSearchParams,
  authorization: string | undefined,
  correlationId?: string,
): Promise<GrantOutcome> {
  const client = authenticateClient(form, authorization, state.clients, {
    secretRequired: true,
    correlationId,
  });
  if (!client.ok) return { answer: client.answer };

  const assertion = form.get('assertion');
  if (!assertion) return { answer: missingParameter('assertion', correlationId) };
  const use = form.get('requested_token_use');
  if (use !== 'on_behalf_of') {
    return {
      answer: entraError(400, {
        error: 'invalid_request',
        code: 900144,
        text: `The request body must contain 'requested_token_use' with the value 'on_behalf_of' (got '${use ?? ''}').`,
        correlationId,
      }),
    };
  }
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
        text: 'An on-behalf-of request must name a resource, e.g. https://api.powerplatform.com/.default.',
        correlationId,
      }),
    };
  }

  const asked = readClaims(form.get('claims'), correlationId);
  if (!asked.ok) return { answer: asked.answer };

  const checked = await checkAssertion(state, tenant, assertion, correlationId);
  if (!checked.ok) return { answer: checked.answer, oid: checked.oid };
  const user = checked.user;
  if (!satisfies(checked.acrs, asked.acrs)) {
    return { answer: stepUpRequired(resource, asked.acrs, correlationId), oid: user.oid };
  }

  const behavior = state.behaviors.take(user.oid, 'on_behalf_of');
  if (behavior) {
    const failure = failureAnswer(behavior, {
      clientId: client.clientId,
      resource,
      correlationId,
      assertionExpiry: checked.expiry,
    });
    if (failure) return { answer: failure, oid: user.oid };
  }

  const grant = state.behaviors.grant(user.oid);
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
    user: { ...user, wids: grant?.wids ?? user.wids },
    requested,
    permissions: permissions.permissions,
    lifetimeSeconds: state.settings.accessTokenLifetimeSeconds,
    idToken: state.settings.oboAccountTokens,
    clientInfo: state.settings.oboAccountTokens && form.get('client_info') === '1',
    echoDefaultScope: state.settings.echoDefaultScope,
    acrs: asked.acrs,
  });
  if (state.settings.oboRefreshTokens && requested.oidc.includes('offline_access')) {
    body.refresh_token = state.refreshTokens.issue(
      { clientId: client.clientId, user },
      state.settings.refreshTokenLifetimeSeconds,
    );
  }
  return { answer: json(200, body, correlationHeader(correlationId)), oid: user.oid };
}

/** The user's granted permissions, less UserManagement.Users.Apply under `missing-permission`. */
export function grantedPermissions(
  state: ProviderState,
  oid: string,
  behavior?: BehaviorDetails,
): string[] {
  const scp = state.behaviors.grant(oid)?.scp;
  const granted =
    scp === undefined
      ? [...state.settings.defaultGrantedPermissions]
      : (Array.isArray(scp) ? scp : scp.split(' ')).filter((p) => p.length > 0);
  if (behavior?.kind !== 'missing-permission') return granted;
  const withheld = APPLY_ADMIN_ROLE_PERMISSION.toLowerCase();
  return granted.filter((permission) => permission.toLowerCase() !== withheld);
}

export function correlationHeader(correlationId?: string): Record<string, string> {
  return correlationId ? { 'client-request-id': correlationId } : {};
}
