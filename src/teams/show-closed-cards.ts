/**
 * Cards closed by a newer request or by an execution from another card (only one card per person
 * and environment stays usable) say so for everyone in their conversation: each one's message,
 * recorded with setCardMessage, is updated in place. The store already closed them, so a card
 * that cannot be updated (Teams unreachable, no message recorded yet) still calls nothing.
 */
import type { ConversationReference, TurnContext } from 'botbuilder';
import type { ElevationRequest } from '../elevation/request';
import type { Logger } from '../log';
import { showRequestStatus } from './show-request-status';

export async function showClosedCards(
  closed: ElevationRequest[],
  continueInConversation: (
    reference: Partial<ConversationReference>,
    logic: (context: TurnContext) => Promise<void>,
  ) => Promise<void>,
  logger: Logger,
): Promise<void> {
  await Promise.all(
    closed.map(async (request) => {
      const messageId = request.cardMessageId;
      if (!request.conversation || !messageId) return;
      try {
        await continueInConversation(
          request.conversation as Partial<ConversationReference>,
          async (context) => {
            await showRequestStatus(context, messageId, request);
          },
        );
      } catch (error) {
        logger.warn('could not update a closed card', { requestId: request.id, error });
      }
    }),
  );
}
