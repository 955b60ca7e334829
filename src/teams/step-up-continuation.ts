/**
 * After a step-up sign-in (step-up MFA), the request carries on by itself: it is confirmed again
 * for its requester with the justification and duration the Elevate click left on it, and the
 * outcome is told in the request's conversation, as a click's would be: the card updated for
 * everyone, the outcome posted, the cards it closed updated.
 */
import { CardFactory, type ConversationReference, type TurnContext } from 'botbuilder';
import type { ElevationService } from '../elevation/elevation-service';
import type { ConfirmResult } from '../elevation/elevation-results';
import { describeRefusal } from '../elevation/outcome-text';
import type { Logger } from '../log';
import { stepUpCard } from './cards/step-up-card';
import { postOutcome } from './request-answers';
import { showClosedCards } from './show-closed-cards';
import { showRequestStatus } from './show-request-status';

export interface StepUpContinuationOptions {
  service: ElevationService;
  logger: Logger;
  continueInConversation: (
    reference: Partial<ConversationReference>,
    logic: (context: TurnContext) => Promise<void>,
  ) => Promise<void>;
  /** What one Extend adds (time-boxed elevation), so that the outcome card's button says it. */
  extendMinutes?: number;
}

/** Confirms a stepped-up request again and tells the outcome; failures are logged, never thrown. */
export async function continueAfterStepUp(
  options: StepUpContinuationOptions,
  requestId: string,
): Promise<ConfirmResult | undefined> {
  const log = options.logger.child({ requestId });
  try {
    const request = await options.service.findRequest(requestId);
    if (!request) return undefined;
    const result = await options.service.confirmElevation({
      requestId,
      clicker: request.requester,
      justification: request.justification,
      minutes: request.minutes,
    });
    log.info('carried on after step-up', { result: result.kind });
    if (request.conversation) {
      await options.continueInConversation(
        request.conversation as Partial<ConversationReference>,
        (context) => tell(options, context, result, request.cardMessageId),
      );
    }
    return result;
  } catch (error) {
    log.error('could not carry on after step-up', { error });
    return undefined;
  }
}

async function tell(
  options: StepUpContinuationOptions,
  context: TurnContext,
  result: ConfirmResult,
  cardMessageId: string | undefined,
): Promise<void> {
  const status = { extendMinutes: options.extendMinutes };
  switch (result.kind) {
    case 'executed':
      if (cardMessageId) await showRequestStatus(context, cardMessageId, result.request, status);
      await postOutcome(context, result.request);
      await showClosedCards(result.closed, options.continueInConversation, options.logger);
      return;
    case 'expired':
    case 'already-handled':
      if (cardMessageId) await showRequestStatus(context, cardMessageId, result.request, status);
      return;
    case 'step-up-required': {
      // Still not satisfied (e.g. the sign-in frequency ran out meanwhile): a fresh link.
      const card = CardFactory.adaptiveCard(stepUpCard(result.request, result.signInUrl));
      if (cardMessageId)
        await context.updateActivity({ type: 'message', id: cardMessageId, attachments: [card] });
      else await context.sendActivity({ attachments: [card] });
      return;
    }
    case 'no-token':
      await context.sendActivity(
        `The elevation could not carry on after your sign-in. ${describeRefusal(result.reason)}: ${result.message}`,
      );
      return;
    case 'policy-refused':
      await context.sendActivity(
        `The elevation could not carry on after your sign-in. ${result.problem}`,
      );
      return;
    case 'justification-required':
    case 'duration-refused':
    case 'not-requester':
    case 'unknown-request':
      await context.sendActivity(
        'The elevation could not carry on after your sign-in; press Elevate on its card again.',
      );
      return;
  }
}
