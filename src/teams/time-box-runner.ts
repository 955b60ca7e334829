/**
 * The clock of time-boxed elevations: runs what is due (reminders, removals at the end, retries,
 * removals a stopped process left) and tells each outcome in the chat where the elevation was
 * asked, updating its card for everyone. It wakes at the next due time the store knows of, and at
 * least every `pollMs` (another instance may have added an earlier one); once at start, so that a
 * bot that was down removes what is overdue at once (the card says how late).
 */
import type { CloudAdapter, ConversationReference } from 'botbuilder';
import type { TimeBoxEvent, TimeBoxService } from '../elevation/time-boxes';
import type { Logger } from '../log';
import { continueConversation } from './adapter';
import { showRequestStatus } from './show-request-status';
import { timeBoxEventActivity } from './time-box-views';

export interface TimeBoxRunnerOptions {
  timeBoxes: TimeBoxService;
  adapter: CloudAdapter;
  botId?: string;
  logger: Logger;
  /** The longest sleep between two looks at the store. */
  pollMs?: number;
}

export interface TimeBoxRunner {
  /** One run now; resolves when its events were told. */
  run(): Promise<TimeBoxEvent[]>;
  stop(): void;
}

/** Due times further than this are looked at again later rather than slept on. */
const DEFAULT_POLL_MS = 15_000;
/** A little after the due time, so that the store's comparison with "now" holds. */
const WAKE_SLACK_MS = 50;

export function startTimeBoxRunner(options: TimeBoxRunnerOptions): TimeBoxRunner {
  const { timeBoxes, adapter, logger } = options;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  let running: Promise<TimeBoxEvent[]> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const tell = async (event: TimeBoxEvent): Promise<void> => {
    const { request } = event;
    if (!request.conversation) return;
    try {
      await continueConversation(
        adapter,
        options.botId,
        request.conversation as Partial<ConversationReference>,
        async (context) => {
          // The card shows the elevation as it stands for everyone, whatever is said below it.
          if (request.cardMessageId)
            await showRequestStatus(context, request.cardMessageId, request, {
              extendMinutes: timeBoxes.settings.defaultMinutes,
            });
          if (event.kind === 'reminder' || event.tell)
            await context.sendActivity(timeBoxEventActivity(event, timeBoxes.settings));
        },
      );
    } catch (error) {
      logger.warn('could not tell a time box event', { requestId: request.id, error });
    }
  };

  const runOnce = async (): Promise<TimeBoxEvent[]> => {
    // Until nothing is due: a backlog (a bot that was down) is worked off in batches.
    const all: TimeBoxEvent[] = [];
    for (let batch = 0; batch < 20; batch++) {
      const events = await timeBoxes.runDue();
      await Promise.all(events.map(tell));
      all.push(...events);
      if (events.length === 0) break;
    }
    return all;
  };

  const schedule = async (): Promise<void> => {
    if (stopped) return;
    let delay = pollMs;
    try {
      const next = await timeBoxes.nextDue();
      if (next) delay = Math.min(pollMs, Math.max(0, next.getTime() - Date.now()) + WAKE_SLACK_MS);
    } catch (error) {
      logger.warn('could not read the next time box due', { error });
    }
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(tick, delay);
    timer.unref();
  };

  const run = (): Promise<TimeBoxEvent[]> => {
    // Runs never overlap: a slow one is awaited rather than doubled.
    running ??= runOnce().finally(() => {
      running = undefined;
    });
    return running;
  };

  const tick = (): void => {
    run()
      .catch((error) => logger.error('time box run failed', { error }))
      .finally(() => void schedule());
  };

  tick();
  return {
    run: async () => {
      const events = await run();
      void schedule();
      return events;
    },
    stop: () => {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
