/**
 * Step-up to a Conditional Access authentication context, as Entra does it: a token request whose
 * `claims` parameter asks `acrs` values (`{"access_token":{"acrs":{"essential":true,"value":"c1"}}}`)
 * is answered only when the user's sign-in satisfies them; otherwise 400 interaction_required
 * (AADSTS50076) with `claims`, the challenge the interactive sign-in must carry. Teams SSO
 * assertions never carry `acrs`, so on-behalf-of with such claims always asks for the step-up; the
 * authorize endpoint with them stands for the user completing MFA, and a refresh token remembers
 * when that happened: the context holds for `stepUpLifetimeSeconds` (a sign-in frequency), after
 * which the refresh answers with the challenge again.
 */
import { entraError } from './entra-errors';
import type { Answer } from './http-answers';

/** An interactive step-up: the contexts satisfied and when (ms since the epoch). */
export interface StepUp {
  acrs: string[];
  at: number;
}

export type ClaimsReading = { ok: true; acrs: string[] } | { ok: false; answer: Answer };

const CONTEXT_ID = /^c([1-9]|[1-9][0-9])$/;

/** The authentication contexts a request's `claims` asks for; none without `claims`. */
export function readClaims(claims: string | null, correlationId?: string): ClaimsReading {
  if (claims === null || claims.trim() === '') return { ok: true, acrs: [] };
  const malformed = (why: string): ClaimsReading => ({
    ok: false,
    answer: entraError(400, {
      error: 'invalid_request',
      code: 90014,
      text: `The claims parameter is malformed: ${why}.`,
      correlationId,
    }),
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(claims);
  } catch {
    return malformed('it is not JSON');
  }
  const acrs = (parsed as { access_token?: { acrs?: { value?: unknown; values?: unknown } } })
    ?.access_token?.acrs;
  if (acrs === undefined) return { ok: true, acrs: [] };
  const values = [
    ...(typeof acrs.value === 'string' ? [acrs.value] : []),
    ...(Array.isArray(acrs.values) ? acrs.values : []),
  ];
  if (values.length === 0 || !values.every((v) => typeof v === 'string' && CONTEXT_ID.test(v)))
    return malformed('access_token.acrs must name authentication contexts c1 to c99');
  return { ok: true, acrs: [...new Set(values as string[])] };
}

/** The challenge Entra sends back: the same contexts, as the sign-in must ask them. */
export function challengeFor(acrs: string[]): string {
  const asked = acrs.length === 1 ? { value: acrs[0] } : { values: acrs };
  return JSON.stringify({ access_token: { acrs: { essential: true, ...asked } } });
}

/** Whether `held` (what the sign-in satisfied) covers every context `asked`. */
export function satisfies(held: readonly string[] | undefined, asked: readonly string[]): boolean {
  return asked.every((context) => held?.includes(context) ?? false);
}

/** Whether a step-up still counts at `now` for the contexts asked. */
export function stepUpHolds(
  stepUp: StepUp | undefined,
  asked: readonly string[],
  now: number,
  lifetimeSeconds: number,
): boolean {
  return (
    stepUp !== undefined &&
    satisfies(stepUp.acrs, asked) &&
    now - stepUp.at < lifetimeSeconds * 1000
  );
}

/** 400 interaction_required with the claims challenge, as Conditional Access answers. */
export function stepUpRequired(resource: string, acrs: string[], correlationId?: string): Answer {
  return entraError(400, {
    error: 'interaction_required',
    code: 50076,
    text: `Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '${resource}' (authentication context ${acrs.join(', ')}).`,
    claims: challengeFor(acrs),
    correlationId,
  });
}
