/**
 * What the token endpoint hands out: an access token for the requested resource, and for sign-ins
 * asking `openid`, an id token and `client_info` (from which msal-node builds its account). The
 * grants that give refresh tokens add theirs (refresh-tokens.ts).
 */
import { randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';

import type { RequestedScopes } from './scopes';
import type { SigningKeys } from './signing-keys';
import { pairwiseSubject } from './sso-token';
import type { IdpUser } from './users';
import { MICROSOFT_GRAPH_APP_ID } from './well-known-ids';

/** The success body of Entra's v2 token endpoint (the fields this provider sends). */
export interface TokenResponseBody {
  token_type: 'Bearer';
  /** Space separated, fully qualified (`https://api.powerplatform.com/UserManagement.Users.Apply`). */
  scope: string;
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
  id_token?: string;
  client_info?: string;
  /** When `offline_access` was asked by a grant that gives one (on-behalf-of, refresh token). */
  refresh_token?: string;
}

export interface IssueRequest {
  keys: SigningKeys;
  /** The issuer of the user's tenant. */
  issuer: string;
  clientId: string;
  /** Claims left undefined stay out of the tokens (an assertion without `wids` gives none). */
  user: IdpUser;
  requested: RequestedScopes;
  /** The permissions the access token carries in `scp`. */
  permissions: string[];
  lifetimeSeconds: number;
  /** Send an id token when `openid` was asked. */
  idToken: boolean;
  /** Send `client_info` (the caller sent `client_info=1`). */
  clientInfo: boolean;
  /** Put `<resource>/.default` back in `scope` when it was asked (msal's cache lookup needs it). */
  echoDefaultScope: boolean;
  /** Echoed into the id token. */
  nonce?: string;
  /** Authentication contexts the sign-in satisfied (`acrs`, in the access and id tokens). */
  acrs?: string[];
}

export async function issueTokens(request: IssueRequest): Promise<TokenResponseBody> {
  const { requested, user } = request;
  const now = Math.floor(Date.now() / 1000);
  const audience = requested.resource ?? MICROSOFT_GRAPH_APP_ID;
  const scp = requested.resource
    ? request.permissions
    : requested.oidc.filter((s) => s !== 'offline_access');
  const accessClaims: JWTPayload = {
    aud: audience,
    iss: request.issuer,
    iat: now,
    nbf: now,
    exp: now + request.lifetimeSeconds,
    azp: request.clientId,
    azpacr: '1',
    idtyp: 'user',
    name: user.name,
    oid: user.oid,
    preferred_username: user.upn,
    upn: user.upn,
    scp: scp.join(' '),
    sub: pairwiseSubject(user.oid, request.clientId),
    tid: user.tid,
    uti: randomUUID(),
    ver: '2.0',
    wids: user.wids,
    ...(request.acrs?.length ? { acrs: request.acrs } : {}),
  };
  const body: TokenResponseBody = {
    token_type: 'Bearer',
    scope: responseScope(requested, scp, request.echoDefaultScope),
    expires_in: request.lifetimeSeconds,
    ext_expires_in: request.lifetimeSeconds,
    access_token: await request.keys.sign(accessClaims),
  };
  if (request.idToken && requested.oidc.includes('openid')) {
    body.id_token = await request.keys.sign({
      aud: request.clientId,
      iss: request.issuer,
      iat: now,
      nbf: now,
      exp: now + 3600,
      name: user.name,
      oid: user.oid,
      preferred_username: user.upn,
      sub: pairwiseSubject(user.oid, request.clientId),
      tid: user.tid,
      ver: '2.0',
      ...(request.nonce !== undefined && { nonce: request.nonce }),
      ...(request.acrs?.length ? { acrs: request.acrs } : {}),
    });
  }
  if (request.clientInfo) {
    body.client_info = Buffer.from(JSON.stringify({ uid: user.oid, utid: user.tid })).toString(
      'base64url',
    );
  }
  return body;
}

function responseScope(requested: RequestedScopes, scp: string[], echoDefault: boolean): string {
  const resource = requested.resource;
  if (resource === undefined) return scp.join(' ');
  const scopes = scp.map((permission) => `${resource}/${permission}`);
  if (requested.wantsDefault && echoDefault) scopes.push(`${resource}/.default`);
  return scopes.join(' ');
}
