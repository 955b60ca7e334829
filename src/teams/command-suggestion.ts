/**
 * A mistyped command ("elevat me in Contoso Dev", "hepl") is answered with the command meant,
 * not with the whole help. An elevation gets a button that sends the corrected message as the
 * user (Teams' imBack), so it runs through the same path, sign-in and confirmation card included.
 */
import { Template } from 'adaptivecards-templating';
import { CardFactory, type TurnContext } from 'botbuilder';
import type { Suggestion } from '../elevation/command';
import type { AdaptiveCard } from './cards/cards';
import didYouMeanTemplate from './cards/templates/did-you-mean.json';

const template = new Template(didYouMeanTemplate);

/** "Did you mean: elevate me in Contoso Dev", with a button for an elevation. */
export function didYouMeanCard(typed: string, suggestion: Suggestion): AdaptiveCard {
  return template.expand({
    $root: {
      typed,
      meant: suggestion.text,
      // Only an elevation is offered as a button: it still asks for confirmation on its card.
      runnable: suggestion.command.kind === 'elevate' ? 'elevate me' : '',
    },
  }) as AdaptiveCard;
}

export async function suggestCommand(
  context: TurnContext,
  typed: string,
  suggestion: Suggestion,
): Promise<void> {
  await context.sendActivity({
    attachments: [CardFactory.adaptiveCard(didYouMeanCard(typed, suggestion))],
  });
}
