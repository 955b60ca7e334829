/**
 * What the bot answers, built from use-case results: cards and invoke responses. Pure functions,
 * so that the handler in elevation-bot.ts stays a dispatch table.
 */
import type { Activity, AdaptiveCardInvokeResponse, InvokeResponse } from 'botbuilder';
import type { RequestResult } from '../elevation/elevation-service';
import { describeOutcome, describeStatus } from '../elevation/outcome-text';
import type { TokenRefusal } from '../elevation/vocabulary';
import type { ElevationRequest, Requester } from '../elevation/request';
import { type AdaptiveCard, noticeCard, outcomeReader, pickCard } from './cards/cards';
import { signInCard, type SignInPromptOptions } from './sign-in-prompt';

export const CARD = 'application/vnd.microsoft.card.adaptive';
export const MESSAGE = 'application/vnd.microsoft.activity.message';

export const NO_TOKEN_TITLE: Record<TokenRefusal, string> = {
  'sign-in-required': 'Sign-in needed',
  'permission-missing': 'The bot lacks a permission',
  'not-tenant-admin': 'You are not a tenant administrator',
  error: 'Could not sign you in',
};

/** Universal Actions' "sign in first": Teams signs the user in and retries the action. */
export function loginRequest(options: SignInPromptOptions): AdaptiveCardInvokeResponse {
  return {
    statusCode: 401,
    type: 'application/vnd.microsoft.activity.loginRequest',
    value: signInCard(options).content as Record<string, unknown>,
  };
}

export function cardResponse(card: AdaptiveCard): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: CARD, value: card };
}

/** Text shown to the clicker only; their card stays as it is. */
export function messageResponse(text: string): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: MESSAGE, value: text as unknown as Record<string, unknown> };
}

export function invokeResponse(status: number, body?: unknown): InvokeResponse {
  return { status, body };
}

/** Every request result other than a confirmation, as a card. */
export function requestResultCard(
  result: Exclude<RequestResult, { kind: 'confirm' }>,
  requester: Requester,
): AdaptiveCard {
  switch (result.kind) {
    case 'ambiguous':
      return pickCard({ ...result, requesterId: requester.aadObjectId });
    case 'not-found':
      // Never a dead end: the closest names to pick from, and the whole list to look through.
      return pickCard({
        query: result.query,
        candidates: result.suggestions,
        total: result.suggestions.length,
        requesterId: requester.aadObjectId,
        offerEnvironments: { purpose: 'elevate' },
        ...(result.suggestions.length > 0
          ? {
              title: 'Did you mean one of these?',
              lines: [`No environment you can see is called "${result.query}".`],
            }
          : {
              title: 'No environment found',
              lines: [
                `No environment you can see matches "${result.query}".`,
                'Show your environments to pick one, or search them by writing: environments <words>',
              ],
            }),
      });
    case 'no-dataverse':
      return noticeCard({
        title: 'This environment has no Dataverse',
        lines: [
          `${result.environment.displayName} (${result.environment.id}) has no Dataverse database, so there is no System Administrator role to receive. Add Dataverse to it first, or pick another environment.`,
        ],
        color: 'Warning',
      });
    case 'environment-disabled':
      return noticeCard({
        title: 'This environment is not available',
        lines: [
          `${result.environment.displayName} (${result.environment.id}) is in state "${result.environment.state}". Elevation is only possible in an enabled environment.`,
        ],
        color: 'Warning',
      });
    case 'no-token':
      return noticeCard({
        title: NO_TOKEN_TITLE[result.reason],
        lines: [result.message],
        color: result.reason === 'sign-in-required' ? 'Warning' : 'Attention',
      });
    case 'listing-failed': {
      const { failure } = result;
      const lines = [failure.message];
      if (failure.response.status || failure.response.attempts > 1)
        lines.push(`HTTP status: ${describeStatus(failure)}`);
      lines.push(`Correlation id: ${failure.response.correlationId ?? 'none returned by the API'}`);
      return noticeCard({ title: 'Could not list your environments', lines, color: 'Attention' });
    }
  }
}

/**
 * The outcome as a plain chat message (kept in the conversation's history), with the ids to quote;
 * in a group chat told in the third person ("Alex Wilber is now System Administrator in ...").
 */
export function outcomeMessage(request: ElevationRequest): Partial<Activity> | undefined {
  if (!request.outcome) return undefined;
  const outcome = request.outcome;
  const text = describeOutcome(outcome, outcomeReader(request));
  const correlationId = outcome.response.correlationId ?? 'none returned by the API';
  const lines = [
    `${outcome.ok ? '✅' : '❌'} ${text.headline} in ${request.environment.displayName}.`,
    // Each id on a line of its own, so that it can be copied whole.
    `Correlation id: ${correlationId}`,
  ];
  if (!outcome.ok && outcome.kind === 'interrupted') {
    lines.push(`Client request id: ${outcome.response.clientRequestId}`);
  }
  return { type: 'message', textFormat: 'plain', text: lines.join('\n\n') };
}
