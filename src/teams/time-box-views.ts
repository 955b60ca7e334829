/**
 * The words and cards of time-boxed elevation as the handlers and the runner send them: the
 * reminder, how an elevation ended, the `elevations` and `who is elevated` lists, and the
 * refusals of I'm done and Extend.
 */
import type { Activity } from 'botbuilder';
import { CardFactory } from 'botbuilder';
import type { ElevationRequest, Requester } from '../elevation/request';
import type {
  EndNowResult,
  ExtendResult,
  TimeBoxEvent,
  TimeBoxSettings,
} from '../elevation/time-boxes';
import { type NoticeOptions } from './cards/notice-card';
import {
  elevationsCard,
  reminderCard,
  reminderSummary,
  removalEndedCard,
  removalSummary,
  type TimeBoxedRequest,
  whoIsElevatedCard,
} from './cards/time-box-cards';
import { formatMinutes } from '../elevation/duration';

export const TIME_BOXES_OFF = 'Time-boxed elevation is not set up in this deployment.';

/** The reminder, or how the elevation ended, as a card for the chat it was asked in. */
export function timeBoxEventActivity(
  event: TimeBoxEvent,
  settings?: Pick<TimeBoxSettings, 'defaultMinutes'>,
): Partial<Activity> {
  const { request } = event;
  const options = {
    now: new Date(),
    timeZone: request.requester.timeZone,
    extendMinutes: settings?.defaultMinutes,
  };
  if (event.kind === 'reminder') {
    const card = reminderCard(timeBoxed(request), options);
    return {
      attachments: [CardFactory.adaptiveCard(card)],
      summary: reminderSummary(timeBoxed(request), options),
    };
  }
  return endedActivity(event, settings);
}

/** How an elevation ended (or why its role is still there), as a card for the chat. */
export function endedActivity(
  event: Extract<TimeBoxEvent, { kind: 'ended' }>,
  settings?: Pick<TimeBoxSettings, 'defaultMinutes'>,
): Partial<Activity> {
  const request = timeBoxed(event.request);
  const box = request.timeBox;
  const card = removalEndedCard(request, event.ending, {
    now: new Date(),
    timeZone: request.requester.timeZone,
    extendMinutes: settings?.defaultMinutes,
    early: event.early,
    nextAttempt: box.phase === 'overdue' && box.dueAt ? new Date(box.dueAt) : undefined,
  });
  return {
    attachments: [CardFactory.adaptiveCard(card)],
    summary: removalSummary(request, event.ending),
  };
}

/** Every request handed here was granted with a time box. */
function timeBoxed(request: ElevationRequest): TimeBoxedRequest {
  if (!request.timeBox) throw new Error(`request ${request.id} has no time box`);
  return request as TimeBoxedRequest;
}

export function endNowRefusal(result: Exclude<EndNowResult, { kind: 'ended' }>): string {
  switch (result.kind) {
    case 'unknown-request':
      return 'I no longer know this elevation.';
    case 'not-requester':
      return `Only ${result.request.requester.name} can end this elevation.`;
    case 'not-active':
      return 'This elevation has already ended: there is nothing to remove.';
    case 'in-progress':
      return 'The role is being removed right now; the outcome follows here.';
    case 'sign-in-required':
      return 'Please sign in so that I can remove the role as you.';
  }
}

export function extendRefusal(
  result: Exclude<ExtendResult, { kind: 'extended' | 'unknown-request' | 'not-requester' }>,
  settings: TimeBoxSettings,
): string {
  switch (result.kind) {
    case 'not-active':
      return 'This elevation has ended, or its role is being removed: it cannot be extended.';
    case 'justification-required':
      return `Say why you need more time: ${result.problem}`;
    case 'at-limit':
      return `An elevation lasts at most ${formatMinutes(settings.maxMinutes)} from its grant; this one already ends then.`;
  }
}

export function noActiveElevation(
  target: string | undefined,
  active: ElevationRequest[],
): NoticeOptions {
  return {
    title: 'Nothing to end',
    lines: [
      target
        ? `You have no elevation in "${target}" that is still active.`
        : 'You have no elevation that is still active.',
      ...(active.length > 0
        ? [`Active: ${active.map((r) => r.environment.displayName).join(', ')}`]
        : []),
    ],
  };
}

export function whichElevation(target: string | undefined): NoticeOptions {
  return {
    title: 'Which one?',
    lines: [
      target
        ? `More than one of your elevations matches "${target}". Press I'm done on the one to end.`
        : "You have more than one active elevation. Press I'm done on the one to end.",
    ],
  };
}

/** `elevations`: the requester's elevations not yet ended. */
export function elevationsActivity(
  active: ElevationRequest[],
  requester: Requester,
  settings: Pick<TimeBoxSettings, 'defaultMinutes'>,
): Partial<Activity> {
  return {
    attachments: [
      CardFactory.adaptiveCard(
        elevationsCard(active.map(timeBoxed), {
          now: new Date(),
          timeZone: requester.timeZone,
          extendMinutes: settings.defaultMinutes,
        }),
      ),
    ],
  };
}

/** `who is elevated`: every elevation not yet ended in the tenant, in the asker's time. */
export function whoIsElevatedActivity(
  active: ElevationRequest[],
  asker: Requester,
): Partial<Activity> {
  return {
    attachments: [
      CardFactory.adaptiveCard(
        whoIsElevatedCard(active.map(timeBoxed), { now: new Date(), timeZone: asker.timeZone }),
      ),
    ],
  };
}

export function whoIsElevatedNotAllowed(admins: {
  names: string[];
  unnamed: number;
}): NoticeOptions {
  return {
    title: 'Not allowed',
    lines: [
      "Only the bot's administrators can list everyone's elevations. Your attempt was recorded.",
      admins.names.length > 0 ? `They are: ${admins.names.join(', ')}` : '',
    ].filter((line) => line.length > 0),
    color: 'Warning',
  };
}
