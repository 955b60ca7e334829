/**
 * A mistyped command ("elevat me in Contoso Dev", "hepl") is answered with the command meant,
 * not with the whole help. An elevation gets a button that runs it for the person who typed it:
 * the confirmation card takes the suggestion's place, and Elevate there is still needed.
 */
import { Template } from 'adaptivecards-templating';
import { type AdaptiveCardInvokeResponse, CardFactory, type TurnContext } from 'botbuilder';
import { parseCommand, type Suggestion } from '../elevation/command';
import type { ElevationService, RequestResult } from '../elevation/elevation-service';
import type { Requester } from '../elevation/request';
import { mayRunSuggestion } from '../elevation/who-may';
import { field } from './action-data';
import type { AdaptiveCard } from './cards/card-template';
import didYouMeanTemplate from './cards/templates/did-you-mean.json';
import {
  signInFirst,
  messageResponse,
  NOT_YOUR_SUGGESTION,
  SUGGESTION_NOT_RUNNABLE,
} from './replies';
import type { SignInPromptOptions } from './sign-in-prompt';

const template = new Template(didYouMeanTemplate);

/** "Did you mean: elevate me in Contoso Dev", with a button for an elevation. */
export function didYouMeanCard(
  typed: string,
  suggestion: Suggestion,
  requesterId: string,
): AdaptiveCard {
  return template.expand({
    $root: {
      typed,
      meant: suggestion.text,
      // Only an elevation is offered as a button: it still asks for confirmation on its card.
      runnable: suggestion.command.kind === 'elevate' ? 'elevate me' : '',
      requesterId,
    },
  }) as AdaptiveCard;
}

/**
 * "Yes, elevate me": the suggested elevation, for the person who typed it only (the text is read
 * again, so the button can do nothing but an elevation). `answer` turns the request's result into
 * the card that replaces the suggestion.
 */
export async function runSuggestionResponse(
  service: ElevationService,
  clicker: Requester,
  data: unknown,
  signInPrompt: SignInPromptOptions | undefined,
  answer: (result: RequestResult) => Promise<AdaptiveCardInvokeResponse>,
): Promise<AdaptiveCardInvokeResponse> {
  if (!mayRunSuggestion(clicker, field(data, 'requesterId'))) {
    return messageResponse(NOT_YOUR_SUGGESTION);
  }
  const command = parseCommand(field(data, 'text') ?? '');
  if (command.kind !== 'elevate') return messageResponse(SUGGESTION_NOT_RUNNABLE);
  const result = await service.requestElevation(clicker, command.target);
  return signInFirst(result, signInPrompt) ?? answer(result);
}

export async function suggestCommand(
  context: TurnContext,
  typed: string,
  suggestion: Suggestion,
  requesterId: string,
): Promise<void> {
  await context.sendActivity({
    attachments: [CardFactory.adaptiveCard(didYouMeanCard(typed, suggestion, requesterId))],
  });
}
