/**
 * POST /{tenant}/oauth2/v2.0/token: reads the form, hands it to the grant named by `grant_type`,
 * and describes the call for `tokenRequests` without its secrets, assertion, code, verifier or
 * refresh token.
 */
import type { IncomingMessage } from 'node:http';

import { codeGrant, CODE_GRANT_TYPE } from './authorization-code';
import { entraError, missingParameter, type EntraErrorBody } from './entra-errors';
import { readForm, type Answer } from './http-answers';
import { OBO_GRANT_TYPE, oboGrant } from './obo-grant';
import type { GrantOutcome, ProviderState } from './provider-state';
import { REFRESH_GRANT_TYPE, refreshGrant } from './refresh-grant';

/** One call to the token endpoint, without secrets, assertions, codes, verifiers or refresh tokens. */
export interface RecordedTokenRequest {
  /** `grant_type` as sent. */
  grantType: string;
  clientId?: string;
  scope?: string;
  requestedTokenUse?: string;
  /** The `claims` parameter as sent (a claims challenge, e.g. for an authentication context). */
  claims?: string;
  /** The tenant path segment the request was sent to. */
  tenant: string;
  /** Whose token it was, once the assertion or code named a user. */
  oid?: string;
  /** When it arrived (ISO 8601). */
  time: string;
  status: number;
  /** The OAuth error and AADSTS number of a failure. */
  error?: string;
  errorCode?: number;
  /** The caller's client-request-id, echoed as the correlation id. */
  correlationId?: string;
}

export async function tokenEndpoint(
  state: ProviderState,
  req: IncomingMessage,
  target: URL,
  tenant: string,
): Promise<{ answer: Answer; record: RecordedTokenRequest }> {
  const time = new Date().toISOString();
  const form = await readForm(req);
  if (!form) {
    const answer = entraError(413, {
      error: 'invalid_request',
      code: 900144,
      text: 'The request body is too large.',
    });
    return {
      answer,
      record: { grantType: '', tenant, time, status: 413, error: 'invalid_request' },
    };
  }
  const correlationId = clientRequestId(
    form.get('client-request-id') ??
      target.searchParams.get('client-request-id') ??
      firstHeader(req.headers['client-request-id']),
  );
  const grantType = form.get('grant_type') ?? '';
  const outcome = await grant(
    state,
    tenant,
    grantType,
    form,
    req.headers.authorization,
    correlationId,
  );
  const failure = outcome.answer.status >= 400 ? errorOf(outcome.answer) : undefined;
  return {
    answer: outcome.answer,
    record: {
      grantType,
      clientId: form.get('client_id') ?? undefined,
      scope: form.get('scope') ?? undefined,
      requestedTokenUse: form.get('requested_token_use') ?? undefined,
      claims: form.get('claims') ?? undefined,
      tenant,
      oid: outcome.oid,
      time,
      status: outcome.answer.status,
      error: failure?.error,
      errorCode: failure?.error_codes[0],
      correlationId,
    },
  };
}

function grant(
  state: ProviderState,
  tenant: string,
  grantType: string,
  form: URLSearchParams,
  authorization: string | undefined,
  correlationId: string | undefined,
): Promise<GrantOutcome> | GrantOutcome {
  switch (grantType) {
    case OBO_GRANT_TYPE:
      return oboGrant(state, tenant, form, authorization, correlationId);
    case CODE_GRANT_TYPE:
      return codeGrant(state, form, authorization, correlationId);
    case REFRESH_GRANT_TYPE:
      return refreshGrant(state, form, authorization, correlationId);
    case '':
      return { answer: missingParameter('grant_type', correlationId) };
    default:
      return {
        answer: entraError(400, {
          error: 'unsupported_grant_type',
          code: 70003,
          text: `The app requested an unsupported grant type '${grantType}'.`,
          correlationId,
        }),
      };
  }
}

/** Echoed in answers and logs, so only a plain id is taken from the caller. */
function clientRequestId(value: string | null | undefined): string | undefined {
  return value && /^[A-Za-z0-9-]{1,64}$/.test(value) ? value : undefined;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function errorOf(answer: Answer): EntraErrorBody | undefined {
  try {
    return JSON.parse(answer.body ?? '') as EntraErrorBody;
  } catch {
    return undefined;
  }
}
