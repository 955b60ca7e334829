/**
 * Turns the confirmation cards of requests nobody confirmed in time into "expired" cards, for
 * everyone in the conversation, without waiting for a click.
 */
import type { CloudAdapter, ConversationReference } from 'botbuilder';
import type { ElevationService } from '../elevation/elevation-service';
import type { Logger } from '../log';
import { continueConversation } from './adapter';
import { showRequestStatus } from './show-request-status';

export interface ExpirySweeperOptions {
  service: ElevationService;
  adapter: CloudAdapter;
  botId?: string;
  logger: Logger;
  /** How often to look for expired requests. */
  intervalMs?: number;
}

export interface ExpirySweeper {
  /** One sweep now; resolves when the cards it found were updated. */
  sweep(): Promise<number>;
  stop(): void;
}

export function startExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  const { service, adapter, logger } = options;
  let running: Promise<number> | undefined;

  const sweepOnce = async (): Promise<number> => {
    const expired = await service.expireDue();
    for (const request of expired) {
      if (!request.conversation || !request.cardMessageId) continue;
      const messageId = request.cardMessageId;
      try {
        await continueConversation(
          adapter,
          options.botId,
          request.conversation as Partial<ConversationReference>,
          async (context) => {
            await showRequestStatus(context, messageId, request);
          },
        );
      } catch (error) {
        logger.warn('could not mark an expired card', { requestId: request.id, error });
      }
    }
    return expired.length;
  };

  const sweep = (): Promise<number> => {
    // Sweeps never overlap: a slow one is awaited rather than doubled.
    running ??= sweepOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const timer = setInterval(() => {
    sweep().catch((error) => logger.error('expiry sweep failed', { error }));
  }, options.intervalMs ?? 30_000);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
