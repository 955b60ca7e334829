/**
 * The bot's housekeeping, on a timer and once at start: turns the cards of requests nobody
 * confirmed in time into "expired" cards, for everyone in the conversation; reconciles requests a
 * stopped process left executing (the card stops offering Elevate and the user is told the outcome
 * is unknown); and, now and then, removes what retention allows.
 */
import type { CloudAdapter, ConversationReference } from 'botbuilder';
import type { ElevationService } from '../elevation/elevation-service';
import type { Logger } from '../log';
import { type Clock, systemClock } from '../elevation/ports';
import type { ElevationRequest } from '../elevation/request';
import { continueConversation } from './adapter';
import { outcomeMessage } from './replies';
import { showRequestStatus } from './show-request-status';

export interface ExpirySweeperOptions {
  service: ElevationService;
  adapter: CloudAdapter;
  botId?: string;
  logger: Logger;
  /** How often to look for expired requests. */
  intervalMs?: number;
  /** Retention and clean-up, run at most once per `maintenanceMs` (default an hour). */
  maintain?: () => Promise<void>;
  maintenanceMs?: number;
  /** Time source of the maintenance schedule (tests move it forward). */
  clock?: Clock;
}

export interface ExpirySweeper {
  /** One sweep now; resolves when the cards it found were updated. */
  sweep(): Promise<number>;
  stop(): void;
}

export function startExpirySweeper(options: ExpirySweeperOptions): ExpirySweeper {
  const { service, adapter, logger } = options;
  let running: Promise<number> | undefined;

  /** Shows a request's status on its card for everyone (and, with `tell`, says it in the chat). */
  const update = async (request: ElevationRequest, tell: boolean): Promise<void> => {
    if (!request.conversation) return;
    const messageId = request.cardMessageId;
    try {
      await continueConversation(
        adapter,
        options.botId,
        request.conversation as Partial<ConversationReference>,
        async (context) => {
          if (messageId) await showRequestStatus(context, messageId, request);
          const message = tell ? outcomeMessage(request) : undefined;
          if (message) await context.sendActivity(message);
        },
      );
    } catch (error) {
      logger.warn('could not update a card', { requestId: request.id, error });
    }
  };

  let lastMaintenance = 0;
  const sweepOnce = async (): Promise<number> => {
    const expired = await service.expireDue();
    for (const request of expired) {
      if (request.cardMessageId) await update(request, false);
    }
    for (const request of await service.reconcileAbandoned()) await update(request, true);
    const now = (options.clock ?? systemClock).now().getTime();
    if (options.maintain && now - lastMaintenance >= (options.maintenanceMs ?? 3_600_000)) {
      lastMaintenance = now;
      await options.maintain().catch((error) => logger.error('maintenance failed', { error }));
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
  // Once at start: what expired or was left executing while the bot was down.
  sweep().catch((error) => logger.error('expiry sweep failed', { error }));
  return { sweep, stop: () => clearInterval(timer) };
}
