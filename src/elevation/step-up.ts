/**
 * Step-up MFA in the elevation story: when the rule that applied to a request asks for a
 * Conditional Access authentication context (`request.policy.stepUp`), Elevate asks the token
 * with it. When the user's sign-in does not satisfy it yet, what the click chose (justification,
 * duration) is kept on the request, which stays `requested`; the step-up is audited; and the
 * requester gets a single-use sign-in link. Once they are back, stepped up, the app confirms the
 * request again with what was kept (app.ts), and the token now satisfies the context.
 */
import { requestAudit } from './request-audit';
import type { ConfirmResult } from './elevation-results';
import type {
  Clock,
  ElevationStore,
  StepUpLinks,
  StepUpRequired,
  TokenResult,
  UserTokens,
} from './ports';
import type { ElevationRequest } from './request';

export interface StepUpParts {
  store: ElevationStore;
  clock: Clock;
  tokens: UserTokens;
  /** Where the requester signs in again; absent: a rule asking for step-up cannot be met. */
  stepUp?: StepUpLinks;
}

/** The requester's token, satisfying the request's authentication context when its rule asks one. */
export function requestToken(
  parts: StepUpParts,
  request: ElevationRequest,
): Promise<TokenResult | StepUpRequired> {
  const context = request.policy?.stepUp;
  return context
    ? parts.tokens.powerPlatformToken(request.requester, { authenticationContext: context })
    : parts.tokens.powerPlatformToken(request.requester);
}

/**
 * The sign-in lacks the context: the click's choices are kept on the request (a guarded write
 * that leaves it `requested`), audited as `step-up-required`, and the sign-in link returned.
 */
export async function askStepUp(
  parts: StepUpParts,
  request: ElevationRequest,
  required: StepUpRequired,
  chosen: { justification?: string; minutes?: number },
): Promise<ConfirmResult> {
  const context = request.policy?.stepUp ?? '';
  if (!parts.stepUp) {
    return {
      kind: 'no-token',
      request,
      reason: 'error',
      message: `The rule '${request.policy?.rule ?? ''}' asks for a fresh multi-factor sign-in, but this bot has no step-up sign-in set up.`,
    };
  }
  const now = parts.clock.now();
  // Open for as long as the link, and a minute to carry on: MFA can take the card's last minute.
  const linkEnds = now.getTime() + (parts.stepUp.linkMinutes + 1) * 60_000;
  const kept = await parts.store.transition(
    request.id,
    {
      from: ['requested'],
      to: 'requested',
      at: now,
      unexpiredAt: now,
      guard: (current) => current.state === 'requested',
      set: {
        justification: chosen.justification || undefined,
        minutes: chosen.minutes,
        expiresAt: new Date(Math.max(Date.parse(request.expiresAt), linkEnds)).toISOString(),
      },
    },
    {
      audit: requestAudit('step-up-required', request, now, request.requester.aadObjectId, {
        rule: request.policy?.rule,
        context,
      }),
    },
  );
  if (!kept) {
    // Another click won the race, or the request just expired: report what stands.
    const current = await parts.store.findRequest(request.id);
    if (!current) return { kind: 'unknown-request' };
    return current.state === 'expired'
      ? { kind: 'expired', request: current }
      : { kind: 'already-handled', request: current };
  }
  // The sign-in knows the user's principal name (the link hints it to Entra); Teams does not.
  const signInUrl = await parts.stepUp.signInUrl(
    { ...kept, requester: { ...kept.requester, upn: required.upn ?? kept.requester.upn } },
    context,
    required.claims,
  );
  return { kind: 'step-up-required', request: kept, signInUrl };
}
