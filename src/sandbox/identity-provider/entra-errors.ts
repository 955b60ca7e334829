/**
 * Error answers in Entra ID's shape: `{ error, error_description, error_codes, timestamp, trace_id,
 * correlation_id, suberror?, claims? }`, the description starting with `AADSTS<code>:` and ending
 * with the trace and correlation ids. msal-node reads `error`, `suberror` and the description to
 * decide between InteractionRequiredAuthError and ServerError, so these fields are what matter.
 */
import { randomUUID } from 'node:crypto';

import { json, type Answer } from './http-answers';

export interface EntraErrorBody {
  error: string;
  error_description: string;
  error_codes: number[];
  timestamp: string;
  trace_id: string;
  correlation_id: string;
  error_uri?: string;
  suberror?: string;
  claims?: string;
}

export interface EntraErrorDetails {
  /** OAuth error (`invalid_grant`, `invalid_client`, `interaction_required`, …). */
  error: string;
  /** The AADSTS number. */
  code: number;
  /** The sentence after `AADSTS<code>:`. */
  text: string;
  /** The caller's `client-request-id`; a fresh id when it sent none. */
  correlationId?: string;
  suberror?: string;
  /** A claims challenge (JSON), as Conditional Access sends with MFA errors. */
  claims?: string;
  headers?: Record<string, string>;
}

export function entraError(status: number, details: EntraErrorDetails): Answer {
  const traceId = randomUUID();
  const correlationId = details.correlationId ?? randomUUID();
  const timestamp = new Date()
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
  const body: EntraErrorBody = {
    error: details.error,
    error_description:
      `AADSTS${details.code}: ${details.text} Trace ID: ${traceId} ` +
      `Correlation ID: ${correlationId} Timestamp: ${timestamp}`,
    error_codes: [details.code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    ...(details.suberror !== undefined && { suberror: details.suberror }),
    ...(details.claims !== undefined && { claims: details.claims }),
  };
  return json(status, body, {
    'x-ms-request-id': traceId,
    'client-request-id': correlationId,
    ...details.headers,
  });
}

/** A required form field is missing. */
export function missingParameter(name: string, correlationId?: string): Answer {
  return entraError(400, {
    error: 'invalid_request',
    code: 900144,
    text: `The request body must contain the following parameter: '${name}'.`,
    correlationId,
  });
}
