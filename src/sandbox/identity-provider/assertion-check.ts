/**
 * The checks Entra makes on an on-behalf-of assertion: signed by this provider with RS256 under a
 * published key, within its time range, issued for one of the SSO audiences by the user's tenant.
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';

import { entraError } from './entra-errors';
import type { Answer } from './http-answers';
import type { ProviderState } from './provider-state';
import { assertionOutOfTime } from './user-behavior';
import type { IdpUser } from './users';

/** `acrs`: the authentication contexts the assertion's sign-in satisfied (Teams SSO: none). */
export type AssertionCheck =
  | { ok: true; user: IdpUser; expiry?: number; acrs?: string[] }
  | { ok: false; answer: Answer; oid?: string };

/** Tenant path segments that do not name one tenant. */
const MULTI_TENANT_PATHS = ['common', 'organizations'];

export async function checkAssertion(
  state: ProviderState,
  pathTenant: string,
  assertion: string,
  correlationId?: string,
): Promise<AssertionCheck> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(assertion, state.keys.verificationKeys(), {
      algorithms: ['RS256'],
    }));
  } catch (error) {
    if (error instanceof errors.JWTExpired) {
      return { ok: false, answer: assertionOutOfTime(numeric(error.payload.exp), correlationId) };
    }
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf') {
      return { ok: false, answer: assertionOutOfTime(numeric(error.payload.exp), correlationId) };
    }
    return { ok: false, answer: refused(signatureReason(error), correlationId) };
  }

  const oid = typeof claims.oid === 'string' ? claims.oid : undefined;
  const tid = typeof claims.tid === 'string' ? claims.tid : undefined;
  if (!oid || !tid) {
    return {
      ok: false,
      answer: entraError(400, {
        error: 'invalid_grant',
        code: 50027,
        text: 'JWT token is invalid or malformed: the assertion names no user (oid and tid are required).',
        correlationId,
      }),
    };
  }
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.some((aud) => typeof aud === 'string' && state.ssoAudiences.includes(aud))) {
    return {
      ok: false,
      oid,
      answer: refused(
        `Assertion audience '${audiences.join(' ')}' does not match an application that accepts on-behalf-of assertions here.`,
        correlationId,
      ),
    };
  }
  if (claims.iss !== state.issuer(tid)) {
    return {
      ok: false,
      oid,
      answer: refused(
        `Assertion issuer '${String(claims.iss)}' is not trusted for tenant '${tid}'.`,
        correlationId,
      ),
    };
  }
  if (
    !MULTI_TENANT_PATHS.includes(pathTenant.toLowerCase()) &&
    pathTenant.toLowerCase() !== tid.toLowerCase()
  ) {
    return {
      ok: false,
      oid,
      answer: refused(
        `Assertion is from tenant '${tid}', not from '${pathTenant}'.`,
        correlationId,
      ),
    };
  }
  const upn = typeof claims.upn === 'string' ? claims.upn : claims.preferred_username;
  return {
    ok: true,
    expiry: numeric(claims.exp),
    acrs: Array.isArray(claims.acrs)
      ? claims.acrs.filter((a): a is string => typeof a === 'string')
      : undefined,
    user: {
      oid,
      tid,
      name: typeof claims.name === 'string' ? claims.name : undefined,
      upn: typeof upn === 'string' ? upn : undefined,
      wids: Array.isArray(claims.wids)
        ? claims.wids.filter((w): w is string => typeof w === 'string')
        : undefined,
    },
  };
}

/** AADSTS50013: Entra's answer to an assertion it will not accept. */
function refused(reason: string, correlationId?: string): Answer {
  return entraError(400, { error: 'invalid_grant', code: 50013, text: reason, correlationId });
}

function signatureReason(error: unknown): string {
  if (error instanceof errors.JWKSNoMatchingKey) {
    return 'Assertion failed signature validation. [Reason - The key was not found.]';
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return 'Assertion failed signature validation. [Reason - Only RS256 signed assertions are accepted.]';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return 'Assertion failed signature validation. [Reason - The signature does not match the key.]';
  }
  return 'Assertion failed signature validation. [Reason - The assertion is not a well-formed signed JWT.]';
}

function numeric(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}
