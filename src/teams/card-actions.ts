/**
 * The buttons of a request's card and of the picker: Elevate (within the invoke's time budget,
 * else finished later in the conversation), Cancel, and picking an environment. The use case
 * decides; this turns its result into the card or message the clicker sees.
 */
import {
  type AdaptiveCardInvokeResponse,
  CardFactory,
  type ConversationReference,
  TurnContext,
} from 'botbuilder';
import type { ConfirmResult } from '../elevation/elevation-service';
import type { Requester } from '../elevation/request';
import { mayPickEnvironment } from '../elevation/who-may';
import { field } from './action-data';
import type { BotParts } from './bot-options';
import { requestStatusCard } from './cards/request-cards';
import { stepUpCard } from './cards/step-up-card';
import { askAgain, audienceOf, plainText } from './hints';
import {
  CARD_WITHOUT_REQUEST,
  cardResponse,
  loginRequest,
  MESSAGE,
  messageResponse,
  NOT_YOUR_PICKER,
  notRequester,
  PICK_ONE_FIRST,
  UNKNOWN_REQUEST,
} from './replies';
import {
  closeCard,
  confirmation,
  postOutcome,
  requestCardInPlace,
  showClosed,
  termsRefused,
} from './request-answers';
import { describeRefusal } from '../elevation/outcome-text';
import { showRequestStatus } from './show-request-status';
import { TIMED_OUT, within } from '../support/within';

/** Elevate: the outcome within the invoke budget, else "in progress" now and the outcome later. */
export async function elevateAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  const requestId = field(data, 'requestId');
  if (!requestId) return messageResponse(CARD_WITHOUT_REQUEST);
  const justification = field(data, 'justification');
  const confirming = bot.service.confirmElevation({
    requestId,
    clicker,
    justification,
    minutes: minutesOf(data),
  });
  const result = await within(confirming, bot.invokeBudgetMs);
  if (result !== TIMED_OUT) return confirmResponse(bot, context, result, justification);

  // The API (with its retries) is slow: answer Teams now, and finish the card when it is done.
  const reference = TurnContext.getConversationReference(context.activity);
  const cardMessageId = context.activity.replyToId;
  confirming
    .then((late) => finishLater(bot, reference, cardMessageId, late))
    .catch((error) => bot.logger.error('could not finish a slow elevation', { requestId, error }));
  const request = await bot.service.findRequest(requestId);
  if (!request) return messageResponse(UNKNOWN_REQUEST);
  return cardResponse(requestStatusCard({ ...request, state: 'executing' }));
}

/** The outcome of a confirmation that outlasted its invoke, delivered to the conversation. */
async function finishLater(
  bot: BotParts,
  reference: Partial<ConversationReference>,
  cardMessageId: string | undefined,
  result: ConfirmResult,
): Promise<void> {
  await bot.continueInConversation(reference, async (context) => {
    if (
      result.kind === 'executed' ||
      result.kind === 'expired' ||
      result.kind === 'already-handled'
    ) {
      const messageId = result.request.cardMessageId ?? cardMessageId;
      if (messageId) await showRequestStatus(context, messageId, result.request);
      if (result.kind === 'executed') {
        await postOutcome(context, result.request);
        await showClosed(bot, result.closed);
      }
      return;
    }
    if (result.kind === 'step-up-required') {
      const messageId = result.request.cardMessageId ?? cardMessageId;
      const card = CardFactory.adaptiveCard(stepUpCard(result.request, result.signInUrl));
      if (messageId)
        await context.updateActivity({ type: 'message', id: messageId, attachments: [card] });
      else await context.sendActivity({ attachments: [card] });
      return;
    }
    const response = await confirmResponse(bot, context, result, undefined);
    if (response.type === MESSAGE) await context.sendActivity(String(response.value));
  });
}

async function confirmResponse(
  bot: BotParts,
  context: TurnContext,
  result: ConfirmResult,
  justification: string | undefined,
): Promise<AdaptiveCardInvokeResponse> {
  switch (result.kind) {
    case 'unknown-request':
      return messageResponse(askAgain(plainText(audienceOf(context)), UNKNOWN_REQUEST));
    case 'not-requester':
      return messageResponse(notRequester(result.request.requester.name));
    case 'justification-required':
    case 'duration-refused':
    case 'policy-refused':
      return termsRefused(bot, context, result, justification);
    case 'approval-required':
      // The card as it stands: Ask for approval, or still waiting for the approvers.
      return cardResponse(confirmation(bot, result.request, context));
    case 'no-token':
      if (result.reason === 'sign-in-required' && bot.signIn) {
        // Teams signs the user in and sends the same action again, with the token.
        return loginRequest(bot.signInPrompt);
      }
      return messageResponse(`${describeRefusal(result.reason)}: ${result.message}`);
    case 'already-handled':
      return cardResponse(requestStatusCard(result.request));
    case 'step-up-required':
      // The sign-in link is the requester's: it stays on their view of the card.
      return cardResponse(stepUpCard(result.request, result.signInUrl));
    case 'expired':
      return closeCard(bot, context, result.request);
    case 'executed': {
      // The card for everyone and the outcome message, side by side.
      const [response] = await Promise.all([
        closeCard(bot, context, result.request),
        postOutcome(context, result.request),
        showClosed(bot, result.closed),
      ]);
      return response;
    }
  }
}

/** Cancel on a request's card. */
export async function cancelAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  const requestId = field(data, 'requestId');
  if (!requestId) return messageResponse(CARD_WITHOUT_REQUEST);
  const result = await bot.service.cancelElevation({ requestId, clicker });
  switch (result.kind) {
    case 'unknown-request':
      return messageResponse(UNKNOWN_REQUEST);
    case 'not-requester':
      return messageResponse(notRequester(result.request.requester.name));
    case 'already-handled':
      return cardResponse(requestStatusCard(result.request));
    case 'cancelled':
      // Approvers asked about it see it closed (approvals.ts).
      await bot.approvals?.closed(result.request);
      return closeCard(bot, context, result.request);
  }
}

/** An environment picked on a picker: its confirmation card takes the picker's place. */
export async function pickAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  const environmentId = field(data, 'environmentId');
  const query = field(data, 'query') ?? '';
  if (!mayPickEnvironment(clicker, field(data, 'requesterId'))) {
    return messageResponse(NOT_YOUR_PICKER);
  }
  if (!environmentId) return messageResponse(PICK_ONE_FIRST);
  const result = await bot.service.requestElevationIn(
    clicker,
    environmentId,
    query,
    minutesOf(data),
  );
  return requestCardInPlace(bot, context, clicker, result);
}

/** The duration chosen on the card (its `minutes` drop-down), when it holds a whole number. */
function minutesOf(data: unknown): number | undefined {
  const value = field(data, 'minutes');
  return value !== undefined && /^\d{1,6}$/.test(value) ? Number(value) : undefined;
}
