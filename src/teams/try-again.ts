/**
 * "Try again" on a failure card: a fresh request for the same environment, with a new
 * confirmation card (and a new justification), for the requester only. The failed request stays
 * as it was: its card keeps the outcome and its correlation id, which support may still need.
 */
import { type AdaptiveCardInvokeResponse, CardFactory, TurnContext } from 'botbuilder';
import type { ElevationService } from '../elevation/elevation-service';
import type { ElevationRequest, Requester } from '../elevation/request';
import { mayActOnRequest } from '../elevation/who-may';
import { field } from './action-data';
import type { AdaptiveCard } from './cards/card-template';
import { requestStatusCard } from './cards/request-cards';
import { askAgain, audienceOf, plainText } from './hints';
import {
  cardResponse,
  signInFirst,
  messageResponse,
  notYourFailure,
  requestResultCard,
  UNKNOWN_REQUEST,
} from './replies';
import type { SignInPromptOptions } from './sign-in-prompt';

export interface TryAgainOptions {
  service: Pick<ElevationService, 'findRequest' | 'requestElevationIn' | 'rememberCard'>;
  /** The confirmation card for the new request, as the bot draws it. */
  confirmation: (request: ElevationRequest) => AdaptiveCard;
  /** Where sign-in is set up: a click without a sign-in asks Teams for one, then comes back. */
  signInPrompt?: SignInPromptOptions;
}

export async function tryAgain(
  context: TurnContext,
  clicker: Requester,
  data: unknown,
  options: TryAgainOptions,
): Promise<AdaptiveCardInvokeResponse> {
  const requestId = field(data, 'requestId');
  const failed = requestId !== undefined ? await options.service.findRequest(requestId) : undefined;
  if (!failed) return messageResponse(askAgain(plainText(audienceOf(context)), UNKNOWN_REQUEST));
  if (!mayActOnRequest(clicker, failed)) {
    return messageResponse(notYourFailure(failed.requester.name));
  }
  // Only a failure is tried again (the button is on no other card): anything else stays as it is.
  if (failed.state !== 'failed') return cardResponse(requestStatusCard(failed));
  const result = await options.service.requestElevationIn(
    clicker,
    failed.environment.id,
    failed.query,
  );
  const signIn = signInFirst(result, options.signInPrompt);
  if (signIn) return signIn;
  const card =
    result.kind === 'confirm'
      ? options.confirmation(result.request)
      : requestResultCard(result, clicker);
  const sent = await context.sendActivity({ attachments: [CardFactory.adaptiveCard(card)] });
  if (result.kind === 'confirm' && sent?.id) {
    await options.service.rememberCard(
      result.request.id,
      // The new card lives in this conversation, as a message of its own.
      TurnContext.getConversationReference(context.activity),
      sent.id,
    );
  }
  // The failure card stays as it is for the clicker: the new card is below it.
  return cardResponse(requestStatusCard(failed));
}
