/**
 * The token Teams hands the bot in `signin/tokenExchange`: a v2 access token for the bot's SSO app,
 * scope `access_as_user`, requested by the Teams client. `MintOptions` builds every bad variant a
 * validator must refuse (wrong audience, expired, unsigned, symmetric, foreign key, missing claims).
 */
import { createHash, randomUUID } from 'node:crypto';
import type { JWTPayload } from 'jose';

import type { SigningKeys, SigningVariant } from './signing-keys';
import { resolveUser, type IdpUser } from './users';
import { SSO_SCOPE, TEAMS_CLIENT_ID } from './well-known-ids';

export interface MintOptions {
  /** Claims to add or replace, e.g. `{ aud: 'someone-else' }` or `{ scp: 'User.Read' }`. */
  claims?: Record<string, unknown>;
  /** Claims to leave out, e.g. `['wids']` or `['oid']`. */
  omit?: string[];
  /** Seconds from `iat` to `exp`; 0 or negative values give an already expired token. */
  lifetimeSeconds?: number;
  /** `iat`, seconds since the epoch; now by default. */
  issuedAt?: number;
  /** `nbf`, seconds since the epoch; `iat` by default (set it in the future for "not yet valid"). */
  notBefore?: number;
  /** How to sign; `current-key` (a good token) by default. */
  signWith?: SigningVariant;
  /** HMAC secret for `signWith: 'hs256'`; the current public key's PEM by default. */
  hs256Secret?: string;
}

const DEFAULTS = { lifetimeSeconds: 3600 } as const;

export interface SsoTokenContext {
  keys: SigningKeys;
  /** The issuer for a tenant id. */
  issuer: (tenantId: string) => string;
  /** Audience unless overridden: the SSO app's client id or its `api://botid-…` URI. */
  audience: string;
}

export async function mintSsoToken(
  context: SsoTokenContext,
  user: IdpUser,
  options: MintOptions = {},
): Promise<string> {
  const person = resolveUser(user);
  const issuedAt = options.issuedAt ?? Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {
    aud: context.audience,
    iss: context.issuer(person.tid),
    iat: issuedAt,
    nbf: options.notBefore ?? issuedAt,
    exp: issuedAt + (options.lifetimeSeconds ?? DEFAULTS.lifetimeSeconds),
    azp: TEAMS_CLIENT_ID,
    azpacr: '0',
    name: person.name,
    oid: person.oid,
    preferred_username: person.upn,
    upn: person.upn,
    scp: SSO_SCOPE,
    sub: pairwiseSubject(person.oid, context.audience),
    tid: person.tid,
    uti: randomUUID(),
    ver: '2.0',
    wids: person.wids,
    ...options.claims,
  };
  for (const name of options.omit ?? []) delete claims[name];
  return context.keys.sign(claims as JWTPayload, options.signWith, options.hs256Secret);
}

/** Entra's `sub` differs per app for the same user; a hash gives the same stable, opaque shape. */
export function pairwiseSubject(oid: string, appId: string): string {
  return createHash('sha256').update(`${oid}|${appId}`).digest('base64url').slice(0, 43);
}
