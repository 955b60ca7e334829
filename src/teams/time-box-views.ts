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
import type { AdaptiveCard } from './cards/card-template';
import { noticeCard, type NoticeOptions } from './cards/notice-card';
import { clockTime } from './cards/request-look';
import { formatDuration } from './replies';

export const TIME_BOXES_OFF = 'Time-boxed elevation is not set up in this deployment.';

/** The reminder, or how the elevation ended, as a message for the chat it was asked in. */
export function timeBoxEventActivity(event: TimeBoxEvent): Partial<Activity> {
  if (event.kind === 'reminder') {
    const { request } = event;
    const box = request.timeBox!;
    return {
      attachments: [
        CardFactory.adaptiveCard(
          noticeCard({
            title: `Your elevation in ${request.environment.displayName} ends soon`,
            lines: [`It ends at ${clockTime(box.endsAt, request.requester.timeZone)}.`],
          }),
        ),
      ],
    };
  }
  return endedActivity(event);
}

/** How an elevation ended (or why its role is still there), for the chat. */
export function endedActivity(event: Extract<TimeBoxEvent, { kind: 'ended' }>): Partial<Activity> {
  const { request, ending } = event;
  const where = request.environment.displayName;
  const result = 'result' in ending ? ending.result : undefined;
  const lines: string[] = [ending.kind];
  if (result?.requestId) lines.push(`Dataverse request id: ${result.requestId}`);
  return {
    attachments: [
      CardFactory.adaptiveCard(noticeCard({ title: `Your elevation in ${where}`, lines })),
    ],
  };
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
      return `An elevation lasts at most ${formatDuration(settings.maxMinutes)} from its grant; this one already ends then.`;
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

export function elevationsCard(active: ElevationRequest[], _requester: Requester): AdaptiveCard {
  return noticeCard({
    title: 'Your active elevations',
    lines:
      active.length === 0
        ? ['None.']
        : active.map(
            (r) =>
              `${r.environment.displayName}: until ${clockTime(r.timeBox!.endsAt, r.requester.timeZone)}`,
          ),
  });
}

export function whoIsElevatedCard(active: ElevationRequest[]): AdaptiveCard {
  return noticeCard({
    title: 'Who is elevated',
    lines:
      active.length === 0
        ? ['Nobody.']
        : active.map(
            (r) =>
              `${r.requester.name} in ${r.environment.displayName} until ${clockTime(r.timeBox!.endsAt)}`,
          ),
  });
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
