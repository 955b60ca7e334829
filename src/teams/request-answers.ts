/**
 * How a request's result reaches the conversation, from a message or from a click: the
 * confirmation card sent (or put in place of the clicked card) and remembered as the request's
 * card, the sign-in asked for, the cards a request closed updated, the outcome posted.
 */
import { type AdaptiveCardInvokeResponse, CardFactory, TurnContext } from 'botbuilder';
import type { RequestResult } from '../elevation/elevation-service';
import type { MatchReason } from '../elevation/environment-resolution';
import type { ElevationRequest, Requester } from '../elevation/request';
import type { BotParts } from './bot-options';
import type { AdaptiveCard } from './cards/card-template';
import { timeZoneOf } from './cards/local-time';
import { confirmationCard, requestStatusCard } from './cards/request-cards';
import { confirmationPolicy } from './policy-command';
import { audienceOf } from './hints';
import { cardResponse, durationRefusedText, outcomeMessage, requestResultCard } from './replies';
import { showClosedCards } from './show-closed-cards';
import { showRequestStatus } from './show-request-status';
import { signInCard, type SignInPromptOptions } from './sign-in-prompt';

/** Answers "elevate me in X" with the card its result calls for. */
export async function sendRequestResult(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
  result: RequestResult,
  commandText: string,
): Promise<void> {
  if (result.kind === 'no-token' && result.reason === 'sign-in-required' && bot.signIn) {
    // Ask Teams for the SSO token; the command continues by itself once it arrives.
    await bot.pendingCommands.remember(
      context.activity.conversation.id,
      requester.aadObjectId,
      commandText,
    );
    await context.sendActivity({ attachments: [signInCard(bot.signInPrompt)] });
    return;
  }
  if (result.kind === 'confirm') {
    const sent = await context.sendActivity({
      attachments: [
        CardFactory.adaptiveCard(
          confirmation(bot, result.request, context, {
            matched: result.reason,
            lastExecution: result.lastExecution,
          }),
        ),
      ],
    });
    if (sent?.id) {
      await bot.service.rememberCard(
        result.request.id,
        TurnContext.getConversationReference(context.activity),
        sent.id,
      );
    }
    await showClosed(bot, result.replaced);
    return;
  }
  await context.sendActivity({
    attachments: [CardFactory.adaptiveCard(requestResultCard(result, requester))],
  });
}

export function confirmation(
  bot: BotParts,
  request: ElevationRequest,
  context: TurnContext,
  extra: {
    problem?: string;
    justification?: string;
    /** Why this environment, when the words were not its exact id, display name or URL. */
    matched?: MatchReason;
    /** The requester's last elevation there, when it was recent. */
    lastExecution?: ElevationRequest;
  } = {},
): AdaptiveCard {
  return confirmationCard(request, {
    ...confirmationPolicy(bot.service.guardrails, request, bot.timeBoxes?.settings),
    timeZone: timeZoneOf(context.activity),
    shared: audienceOf(context).shared,
    now: new Date(),
    ...extra,
  });
}

/**
 * The confirmation card again, saying what is wrong with the justification or duration given, or
 * why the rule's hours or rate limit refuse it now.
 */
export function termsRefused(
  bot: BotParts,
  context: TurnContext,
  refused:
    | {
        kind: 'justification-required' | 'policy-refused';
        request: ElevationRequest;
        problem: string;
      }
    | { kind: 'duration-refused'; request: ElevationRequest; maxMinutes: number; problem?: string },
  justification: string | undefined,
): AdaptiveCardInvokeResponse {
  const problem =
    refused.kind === 'duration-refused'
      ? (refused.problem ?? durationRefusedText(refused.maxMinutes))
      : refused.problem;
  return cardResponse(confirmation(bot, refused.request, context, { problem, justification }));
}

/** The cards a new request or an execution closed say why, for everyone. */
export function showClosed(bot: BotParts, closed: ElevationRequest[]): Promise<void> {
  return showClosedCards(closed, bot.continueInConversation, bot.logger);
}

/** Where a click needs a sign-in, Teams is asked for it (loginRequest) when sign-in is set up. */
export function signInPromptOf(bot: BotParts): SignInPromptOptions | undefined {
  return bot.signIn ? bot.signInPrompt : undefined;
}

/** A request opened from a button: its card replaces the card the button was on. */
export async function requestCardInPlace(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  result: RequestResult,
): Promise<AdaptiveCardInvokeResponse> {
  if (result.kind !== 'confirm') return cardResponse(requestResultCard(result, clicker));
  // The picked confirmation replaces the pick card, so that message is now the request's card.
  if (context.activity.replyToId) {
    await bot.service.rememberCard(
      result.request.id,
      TurnContext.getConversationReference(context.activity),
      context.activity.replyToId,
    );
  }
  await showClosed(bot, result.replaced);
  return cardResponse(
    confirmation(bot, result.request, context, {
      matched: result.reason,
      lastExecution: result.lastExecution,
    }),
  );
}

/**
 * Replaces the card for everyone: the invoke response only changes it for the clicker, so the
 * original message is updated too.
 */
export async function closeCard(
  bot: BotParts,
  context: TurnContext,
  request: ElevationRequest,
): Promise<AdaptiveCardInvokeResponse> {
  const messageId = request.cardMessageId ?? context.activity.replyToId;
  const options = { extendMinutes: bot.timeBoxes?.settings.defaultMinutes };
  if (messageId) {
    try {
      return cardResponse(await showRequestStatus(context, messageId, request, options));
    } catch (error) {
      bot.logger.warn('could not update the card for everyone', {
        requestId: request.id,
        error,
      });
    }
  }
  return cardResponse(requestStatusCard(request, options));
}

/** The outcome as a chat message too, so it stays readable in the conversation's history. */
export async function postOutcome(context: TurnContext, request: ElevationRequest): Promise<void> {
  const message = outcomeMessage(request);
  if (message) await context.sendActivity(message);
}
