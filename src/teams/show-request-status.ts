/** Puts a request's status card in place of the card on an existing message, for everyone. */
import { CardFactory, type TurnContext } from 'botbuilder';
import type { ElevationRequest } from '../elevation/request';
import type { AdaptiveCard } from './cards/card-template';
import { requestStatusCard, type StatusOptions } from './cards/request-cards';

/** `options.extendMinutes`: what one Extend adds, so that its button says until when. */
export async function showRequestStatus(
  context: TurnContext,
  messageId: string,
  request: ElevationRequest,
  options: StatusOptions = {},
): Promise<AdaptiveCard> {
  const card = requestStatusCard(request, options);
  await context.updateActivity({
    type: 'message',
    id: messageId,
    attachments: [CardFactory.adaptiveCard(card)],
  });
  return card;
}
