/**
 * The card of a request whose rule asks for a fresh multi-factor sign-in (step-up MFA): what is
 * needed and why, and the single-use link to sign in (Action.OpenUrl). The elevation then carries
 * on by itself; this card is replaced by its outcome.
 */
import { Template } from 'adaptivecards-templating';
import type { ElevationRequest } from '../../elevation/request';
import { type AdaptiveCard, fill } from './card-template';
import stepUpTemplate from './templates/step-up.json';

const template = new Template(stepUpTemplate);

export function stepUpCard(request: ElevationRequest, signInUrl: string): AdaptiveCard {
  const rule = request.policy?.rule ?? '';
  return fill(template, {
    text: `${request.environment.displayName} needs a fresh MFA sign-in (rule '${rule}'). Verify, then the elevation carries on by itself.`,
    until: `The link works once, for ${request.requester.name} only, for a few minutes.`,
    url: signInUrl,
  });
}
