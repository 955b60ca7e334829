/**
 * How approval reaches people in Teams: the approvers' card posted to the approvers' channel (a
 * new post) and to listed approvers' personal chats, every copy redrawn with the decision or the
 * expiry, and the requester's card redrawn with a line in their chat. The use case
 * (approvals.ts) decides when; this only posts and updates.
 */
import { CardFactory, type ConversationReference, type TurnContext } from 'botbuilder';
import type { ApprovalMessenger, ApprovalTarget } from '../elevation/approvals';
import type { ElevationStore } from '../elevation/ports';
import type { ApprovalCardCopy, ElevationRequest } from '../elevation/request';
import type { Logger } from '../log';
import { approverCard } from './cards/approval-cards';
import { clockTime } from './cards/request-look';
import { showRequestStatus } from './show-request-status';

export interface ApprovalMessengerOptions {
  store: Pick<ElevationStore, 'findConversation'>;
  logger: Logger;
  continueInConversation: (
    reference: Partial<ConversationReference>,
    logic: (context: TurnContext) => Promise<void>,
  ) => Promise<void>;
}

/** What the requester reads in their chat once the approvers decided, or did not in time. */
export function approvalMessage(request: ElevationRequest): string | undefined {
  const approval = request.policy?.approval;
  if (!approval) return undefined;
  const where = request.environment.displayName;
  const by = approval.decidedBy?.name ?? 'An approver';
  switch (approval.status) {
    case 'approved':
      return `${by} approved your elevation in ${where}${approval.reason ? `: "${approval.reason}"` : ''}. Press Elevate on the card before ${clockTime(request.expiresAt, request.requester.timeZone)}.`;
    case 'denied':
      return `${by} denied your elevation in ${where}: "${approval.reason ?? ''}". Nothing was changed.`;
    case 'expired':
      return `No decision within ${approval.timeoutMinutes} minutes on your elevation in ${where}; ask again. Nothing was changed.`;
    default:
      return undefined;
  }
}

export function createApprovalMessenger(options: ApprovalMessengerOptions): ApprovalMessenger {
  const { logger } = options;

  const postOne = async (
    request: ElevationRequest,
    target: ApprovalTarget,
  ): Promise<ApprovalCardCopy | undefined> => {
    let copy: ApprovalCardCopy | undefined;
    try {
      await options.continueInConversation(
        target.reference as Partial<ConversationReference>,
        async (context) => {
          const sent = await context.sendActivity({
            // Shown in the activity feed and to clients that cannot render cards.
            summary: `${request.requester.name} asks for approval to elevate in ${request.environment.displayName}`,
            attachments: [CardFactory.adaptiveCard(approverCard(request))],
          });
          if (sent?.id)
            copy = {
              conversationId: target.conversationId,
              messageId: sent.id,
              ...(target.approver && { approver: target.approver }),
            };
        },
      );
    } catch (error) {
      logger.warn('could not post an approval card', {
        requestId: request.id,
        conversationId: target.conversationId,
        error,
      });
    }
    return copy;
  };

  return {
    async post(request, targets) {
      const copies = await Promise.all(targets.map((target) => postOne(request, target)));
      return copies.filter((copy): copy is ApprovalCardCopy => copy !== undefined);
    },

    async redraw(request) {
      const card = CardFactory.adaptiveCard(approverCard(request));
      await Promise.all(
        (request.policy?.approval?.cards ?? []).map(async (copy) => {
          const record = await options.store.findConversation(copy.conversationId);
          if (!record) return;
          await options
            .continueInConversation(record.reference as Partial<ConversationReference>, (context) =>
              context
                .updateActivity({ type: 'message', id: copy.messageId, attachments: [card] })
                .then(() => undefined),
            )
            .catch((error: unknown) =>
              logger.warn('could not redraw an approval card', {
                requestId: request.id,
                conversationId: copy.conversationId,
                error,
              }),
            );
        }),
      );
    },

    async tellRequester(request) {
      if (!request.conversation) return;
      await options.continueInConversation(
        request.conversation as Partial<ConversationReference>,
        async (context) => {
          if (request.cardMessageId)
            await showRequestStatus(context, request.cardMessageId, request);
          const message = approvalMessage(request);
          if (message) await context.sendActivity(message);
        },
      );
    },
  };
}
