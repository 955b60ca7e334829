/**
 * Validates the Teams SSO token (an Entra v2 access token for the bot's own app) before the bot
 * exchanges it on behalf of the user: signed by Entra for this app, requested by a Teams client,
 * issued to the user who sent the activity, in the activity's tenant. Every refusal carries a typed
 * reason and is logged with the reason and non-secret claims (tid, kid, oid), never with the token.
 */
import { compactVerify, decodeJwt, decodeProtectedHeader, errors, type KeyLike } from 'jose';

import type { Clock } from '../elevation/ports';
import { systemClock } from '../elevation/ports';
import type { HttpClient } from '../http/http-client';
import { Logger, silentLogger } from '../log';
import { createJwksSource, JwksSource } from './jwks';
import { TEAMS_CLIENTS } from './teams-clients';

export interface SsoTokenValidatorOptions {
  /** The Entra authority host, e.g. `https://login.microsoftonline.com`; keys and issuer derive from it. */
  authorityHost: string;
  /** Accepted `aud` values: the SSO app's client id and `api://botid-<BOT_ID>`. */
  audiences: string[];
  /** Tenants whose users may sign in; empty means any tenant. */
  allowedTenantIds: string[];
  /** Delegated scope the token must carry in `scp`. */
  requiredScope?: string;
  /** Tolerated difference between Entra's clock and ours when checking `exp`, `nbf` and `iat`. */
  clockSkewSeconds?: number;
  /** Where signing keys come from; built from `http` when absent. */
  jwks?: JwksSource;
  /** The one outbound HTTP client, used to build `jwks` when it is not given. */
  http?: Pick<HttpClient, 'request'>;
  /** Where refusals (warn) and acceptances (debug) are logged. */
  logger?: Logger;
  /** Time source for the time claims. */
  clock?: Clock;
}

const DEFAULTS = {
  requiredScope: 'access_as_user',
  // Two minutes absorbs NTP drift between Entra and an App Service instance, yet keeps the extra
  // life of a leaked expired token short (Microsoft's .NET default of five minutes is generous).
  clockSkewSeconds: 120,
} as const;

/** Far above any real Entra access token (a few KB, more with many `wids`); refused unread. */
const MAX_TOKEN_LENGTH = 16_384;
/** Three base64url parts; the signature may be empty so that `alg: none` is named as such. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The one algorithm Entra signs access tokens with; symmetric ones would let a key holder forge. */
const ALGORITHM = 'RS256';

export type SsoRefusal =
  | 'malformed'
  | 'unsupported-algorithm'
  | 'unknown-key'
  | 'keys-unavailable'
  | 'bad-signature'
  | 'wrong-audience'
  | 'wrong-issuer'
  | 'tenant-not-allowed'
  | 'wrong-tenant'
  | 'wrong-client'
  | 'expired'
  | 'not-yet-valid'
  | 'missing-scope'
  | 'wrong-user';

/** What a valid token says about the user. */
export interface SsoClaims {
  oid: string;
  tid: string;
  name?: string;
  /** `upn`, or `preferred_username` when `upn` is absent (guests, some account types). */
  upn?: string;
  /** The delegated scopes of `scp`. */
  scopes: string[];
  /** Directory role template ids; undefined when the claim is absent, which is not "no roles". */
  wids?: string[];
  /** Expiry, in seconds since the epoch. */
  exp: number;
}

export type SsoValidation =
  { ok: true; claims: SsoClaims } | { ok: false; reason: SsoRefusal; message: string };

/** Who sent the activity the token came with, as Teams says: the token must be theirs. */
export interface TokenSender {
  aadObjectId: string;
  /** The activity's tenant (`conversation.tenantId`, or `channelData.tenant.id`). */
  tenantId: string;
}

export interface SsoTokenValidator {
  /** Checks the token, and that it was issued to the user who sent the activity, in its tenant. */
  validate(token: string, expected: TokenSender): Promise<SsoValidation>;
}

type Refused = Extract<SsoValidation, { ok: false }>;

/** Non-secret facts learnt while checking, for the log line. */
interface Seen {
  tid?: string;
  kid?: string;
  oid?: string;
}

export function createSsoTokenValidator(options: SsoTokenValidatorOptions): SsoTokenValidator {
  const settings = { ...DEFAULTS, ...definedOnly(options) };
  const host = options.authorityHost.replace(/\/+$/, '');
  const logger = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  if (options.audiences.length === 0) throw new TypeError('audiences must not be empty');
  const jwks = options.jwks ?? jwksFrom(host, options.http, logger);
  const allowedTenants = new Set(options.allowedTenantIds.map((id) => id.toLowerCase()));
  const audiences = new Set(options.audiences);
  const clients = new Set<string>(Object.values(TEAMS_CLIENTS));

  async function check(token: string, expected: TokenSender, seen: Seen) {
    const header = readHeader(token);
    if (!header.ok) return header;
    seen.kid = header.kid;

    // Read before the signature is checked, only to choose whose keys and issuer apply.
    const unverified = readTenant(token);
    if (!unverified.ok) return unverified;
    seen.tid = unverified.tid;
    // Also before fetching keys: a forged token cannot make us fetch keys of a foreign tenant.
    if (allowedTenants.size > 0 && !allowedTenants.has(unverified.tid.toLowerCase())) {
      return refuse('tenant-not-allowed', `Tenant ${unverified.tid} may not use this bot.`);
    }
    // A token of one tenant never speaks for an activity of another (a guest's home tenant, or a
    // token carried over from elsewhere): the user is acting in the activity's tenant.
    if (unverified.tid.toLowerCase() !== expected.tenantId.toLowerCase()) {
      return refuse(
        'wrong-tenant',
        `The token is of tenant ${unverified.tid}, the message of tenant ${describe(expected.tenantId)}.`,
      );
    }

    const key = await jwks.getKey(unverified.tid, header.kid, ALGORITHM);
    if (!key.ok) return refuse(key.reason, key.message);

    const verified = await verifySignature(token, key.key);
    if (!verified.ok) return verified;
    const payload = verified.payload;
    if (typeof payload.oid === 'string') seen.oid = payload.oid.slice(0, 64);

    return checkClaims(payload, unverified.tid, expected);
  }

  function checkClaims(
    payload: Record<string, unknown>,
    tid: string,
    expected: TokenSender,
  ): SsoValidation {
    const aud = payload.aud;
    const audienceList = Array.isArray(aud) ? aud : [aud];
    if (!audienceList.some((item) => typeof item === 'string' && audiences.has(item))) {
      return refuse('wrong-audience', `The token is for ${describe(aud)}, not for this bot.`);
    }

    // Only Teams asks for this token: one requested by another app the user consented to (or by
    // a script with the user's credentials) is not the Teams sign-in the bot acts on.
    const client = payload.ver === '1.0' ? payload.appid : payload.azp;
    if (typeof client !== 'string' || !clients.has(client.toLowerCase())) {
      return refuse(
        'wrong-client',
        `The token was requested by ${describe(client)}, not by a Teams client.`,
      );
    }

    // The signed payload is the one tid was read from; the issuer must name that same tenant.
    const issuer = `${host}/${tid}/v2.0`;
    if (payload.iss !== issuer) {
      return refuse(
        'wrong-issuer',
        `The token was issued by ${describe(payload.iss)}, not ${issuer}.`,
      );
    }

    const now = clock.now().getTime() / 1000;
    const skew = settings.clockSkewSeconds;
    const { exp, nbf, iat } = payload;
    if (typeof exp !== 'number' || !Number.isFinite(exp)) {
      return refuse('malformed', 'The token has no expiry.');
    }
    if (!isOptionalTime(nbf) || !isOptionalTime(iat)) {
      return refuse('malformed', 'The token has an unreadable nbf or iat.');
    }
    if (now - skew >= exp) return refuse('expired', 'The token has expired.');
    if ((nbf !== undefined && nbf > now + skew) || (iat !== undefined && iat > now + skew)) {
      return refuse('not-yet-valid', 'The token is not valid yet.');
    }

    const scopes = typeof payload.scp === 'string' ? payload.scp.split(' ').filter(Boolean) : [];
    if (!scopes.includes(settings.requiredScope)) {
      return refuse(
        'missing-scope',
        `The token does not grant the ${settings.requiredScope} scope.`,
      );
    }

    const oid = payload.oid;
    if (typeof oid !== 'string' || oid === '') {
      return refuse('malformed', 'The token names no user (oid).');
    }
    if (oid.toLowerCase() !== expected.aadObjectId.toLowerCase()) {
      return refuse(
        'wrong-user',
        'The token belongs to another user than the one who sent the message.',
      );
    }

    return { ok: true, claims: claimsOf(payload, oid, tid, scopes, exp) };
  }

  return {
    async validate(token, expected) {
      const seen: Seen = {};
      const result = await check(token, expected, seen);
      if (result.ok) {
        logger.debug('sso token accepted', { tid: seen.tid, kid: seen.kid, oid: seen.oid });
      } else {
        logger.warn('sso token refused', {
          reason: result.reason,
          detail: result.message,
          tid: seen.tid,
          kid: seen.kid,
          oid: seen.oid,
        });
      }
      return result;
    },
  };
}

function jwksFrom(host: string, http: SsoTokenValidatorOptions['http'], logger: Logger) {
  if (!http) throw new TypeError('either jwks or http must be given');
  return createJwksSource({ authorityHost: host, http, logger });
}

function refuse(reason: SsoRefusal, message: string): Refused {
  return { ok: false, reason, message };
}

/** The header's algorithm and key id, read without trusting them. */
function readHeader(token: string): Refused | { ok: true; kid: string } {
  if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) {
    return refuse('malformed', 'The token is not a compact JWT.');
  }
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return refuse('malformed', 'The token header is not readable JSON.');
  }
  if (header.alg !== ALGORITHM) {
    return refuse(
      'unsupported-algorithm',
      `The token is signed with ${describe(header.alg)}; only ${ALGORITHM} is accepted.`,
    );
  }
  if (typeof header.kid !== 'string' || header.kid === '') {
    return refuse('malformed', 'The token header names no signing key (kid).');
  }
  return { ok: true, kid: header.kid.slice(0, 128) };
}

/** The tenant id of the unverified payload. */
function readTenant(token: string): Refused | { ok: true; tid: string } {
  let payload: { tid?: unknown };
  try {
    payload = decodeJwt(token);
  } catch {
    return refuse('malformed', 'The token payload is not readable JSON.');
  }
  if (typeof payload.tid !== 'string' || !GUID.test(payload.tid)) {
    return refuse('malformed', 'The token has no tenant id (tid).');
  }
  return { ok: true, tid: payload.tid };
}

async function verifySignature(
  token: string,
  key: KeyLike,
): Promise<Refused | { ok: true; payload: Record<string, unknown> }> {
  let bytes: Uint8Array;
  try {
    ({ payload: bytes } = await compactVerify(token, key, { algorithms: [ALGORITHM] }));
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === errors.JWSSignatureVerificationFailed.code) {
      return refuse('bad-signature', 'The token signature does not match the signing key.');
    }
    if (code === errors.JOSEAlgNotAllowed.code) {
      return refuse('unsupported-algorithm', `Only ${ALGORITHM} is accepted.`);
    }
    return refuse('malformed', 'The token could not be verified as a JWS.');
  }
  try {
    const payload: unknown = JSON.parse(new TextDecoder().decode(bytes));
    if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
      return { ok: true, payload: payload as Record<string, unknown> };
    }
  } catch {
    // Falls through to the refusal below.
  }
  return refuse('malformed', 'The token payload is not a JSON object.');
}

function claimsOf(
  payload: Record<string, unknown>,
  oid: string,
  tid: string,
  scopes: string[],
  exp: number,
): SsoClaims {
  const text = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);
  const wids = Array.isArray(payload.wids)
    ? payload.wids.filter((item): item is string => typeof item === 'string')
    : undefined;
  return {
    oid,
    tid,
    name: text(payload.name),
    upn: text(payload.upn) ?? text(payload.preferred_username),
    scopes,
    wids,
    exp,
  };
}

function isOptionalTime(value: unknown): value is number | undefined {
  return value === undefined || (typeof value === 'number' && Number.isFinite(value));
}

/** A claim value for a message: short, whatever the token holds. */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 100 ? `${text.slice(0, 100)}...` : text;
}

/** Drops undefined fields so they do not overwrite defaults. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(value).filter(([, item]) => item !== undefined),
  ) as Partial<T>;
}
