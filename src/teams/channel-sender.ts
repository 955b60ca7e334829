/**
 * Posts notification cards into Teams channels, as a new post (not a reply), and says what the
 * Bot Connector answered in the dispatcher's terms. The connector client already retries a 429
 * or 5xx a few times within one send (honouring Retry-After); what is still failing after that
 * comes back here as `retry`, and the outbox tries again later.
 */
import {
  type Activity,
  ActivityTypes,
  CardFactory,
  type CloudAdapter,
  type ConversationReference,
} from 'botbuilder';
import type { ChannelSubscription, ElevationNotification } from '../elevation/notifications';
import type { ChannelSender, SendResult } from '../elevation/ports';
import { notificationCard, notificationSummary } from './cards/notification-card';

/** The part of botframework-connector's ConnectorClient used here. */
interface Connector {
  conversations: {
    sendToConversation(
      conversationId: string,
      activity: Partial<Activity>,
      options?: { abortSignal?: AbortSignal },
    ): Promise<unknown>;
  };
}

interface RestErrorLike {
  statusCode?: number;
  code?: string;
  message?: string;
  response?: { headers?: { get?(name: string): string | undefined } };
}

export function createChannelSender(
  adapter: CloudAdapter,
  botId: string | undefined,
): ChannelSender {
  return {
    async send(
      subscription: ChannelSubscription,
      notification: ElevationNotification,
      signal: AbortSignal,
    ): Promise<SendResult> {
      const activity: Partial<Activity> = {
        type: ActivityTypes.Message,
        // Shown in the activity feed and to clients that cannot render cards.
        summary: notificationSummary(notification),
        attachments: [CardFactory.adaptiveCard(notificationCard(notification))],
      };
      // The adapter hands errors inside the callback to onTurnError, so they are caught in it.
      let result: SendResult = { kind: 'retry', reason: 'the connector was not called' };
      try {
        await adapter.continueConversationAsync(
          botId ?? '',
          subscription.reference as Partial<ConversationReference>,
          async (context) => {
            const connector = context.turnState.get<Connector>(adapter.ConnectorClientKey);
            try {
              // To the channel itself: a new post, not a reply in some thread.
              await connector.conversations.sendToConversation(subscription.channelId, activity, {
                abortSignal: signal,
              });
              result = { kind: 'delivered' };
            } catch (error) {
              result = classify(error as RestErrorLike);
            }
          },
        );
      } catch (error) {
        result = classify(error as RestErrorLike);
      }
      return result;
    },
  };
}

function classify(error: RestErrorLike): SendResult {
  const status = error.statusCode;
  const code = error.code ?? '';
  const reason = `${status ?? 'no response'}${code ? ` ${code}` : ''}${
    error.message ? `: ${error.message.slice(0, 200)}` : ''
  }`;
  if (status === 429) {
    const retryAfter = Number(error.response?.headers?.get?.('retry-after'));
    return {
      kind: 'retry',
      reason,
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined,
    };
  }
  if (status === 403 || status === 404) {
    // BotNotInConversationRoster, ConversationNotFound: the bot was removed or the channel is gone.
    return { kind: 'gone', reason };
  }
  if (status === undefined || status === 408 || status >= 500 || status === 401) {
    // No answer, a timeout, a server error, or a token the connector briefly refused.
    return { kind: 'retry', reason };
  }
  return { kind: 'failed', reason };
}
