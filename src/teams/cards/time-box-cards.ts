/**
 * The cards of time-boxed elevation besides the request's own: the reminder before the end, the
 * end itself (how the removal went, with Remove now when it needs the user), the user's active
 * elevations (`elevations`) and every active elevation of the tenant for bot admins (`who is
 * elevated`). The buttons' verbs and data are what the handlers read: `done` {requestId},
 * `extend` {requestId, extendJustification}, `remove-now` {requestId}.
 */
import { Template } from 'adaptivecards-templating';
import type { ElevationRequest, TimeBox } from '../../elevation/request';
import {
  describeRemoval,
  type RemovalEnding,
  removalResultLabel,
} from '../../elevation/removal-text';
import { type AdaptiveCard, type Color, type Fact, fact, fill } from './card-template';
import { environmentFacts, isProduction, outcomeReader, requesterText } from './request-look';
import { clockIn, knownZone, timeLeftText } from './local-time';
import {
  extendable,
  extendTitle,
  latestEndText,
  lateBy,
  needsRemoveNow,
  phaseLook,
  removalStatusText,
} from './time-box-look';
import elevationsTemplate from './templates/elevations.json';
import requestStatusTemplate from './templates/request-status.json';

const templates = {
  status: new Template(requestStatusTemplate),
  elevations: new Template(elevationsTemplate),
};

/** A granted request with its time box: what every card here is drawn from. */
export type TimeBoxedRequest = ElevationRequest & { timeBox: TimeBox };

export interface TimeBoxCardOptions {
  /** When the card is drawn ("in 10 minutes", "52 minutes left", "3 minutes late"). */
  now: Date;
  /** The user's IANA time zone (Teams' `localTimezone`); UTC when absent. */
  timeZone?: string;
  /** ELEVATION_DEFAULT_MINUTES: what one Extend adds (named on its button). */
  extendMinutes?: number;
}

/** The request-status template's fields a card here leaves unused. */
const NO_STATUS_EXTRAS = { details: [], tryAgain: '', extendTitle: 'Extend' };

/** "Your elevation in X ends at 15:40, in 10 minutes": I'm done / Extend. */
export function reminderCard(request: TimeBoxedRequest, options: TimeBoxCardOptions): AdaptiveCard {
  const box = request.timeBox;
  const now = options.now.toISOString();
  const zone = options.timeZone;
  const canExtend = extendable(box);
  const left = timeLeftText(now, box.endsAt).replace(/ left$/, '');
  return fill(templates.status, {
    ...NO_STATUS_EXTRAS,
    icon: '⏳',
    color: 'Warning',
    headline: `Your elevation in ${request.environment.displayName} ends at ${clockIn(box.endsAt, zone, now)}, in ${left}`,
    explanation: 'Then the bot removes the System Administrator role it granted.',
    timeLine: '',
    nextStep: canExtend
      ? "Press I'm done if you have finished, or Extend if you need longer."
      : `Press I'm done if you have finished. It ${latestEndText(box, zone, now)}.`,
    nextStepLabel: 'What to do: ',
    facts: [
      ...environmentFacts(request.environment),
      ...fact('Justification', request.justification),
      ...fact('Granted at', clockIn(box.grantedAt, zone, now)),
      ...fact('Ends at', clockIn(box.endsAt, zone, now), 'Warning', 'Bolder'),
    ],
    done: 'yes',
    extend: canExtend ? 'yes' : '',
    extendTitle: extendTitle(box, options.extendMinutes, zone, now),
    removeNow: '',
    requestId: request.id,
  });
}

/** How each ending looks, on its card and in its chat message. */
export const ENDING_LOOK: Record<RemovalEnding['kind'], { icon: string; color: Color }> = {
  removed: { icon: '🔒', color: 'Good' },
  'already-gone': { icon: '🔒', color: 'Good' },
  'removed-by-microsoft': { icon: '🔒', color: 'Good' },
  kept: { icon: '✅', color: 'Default' },
  refused: { icon: '❌', color: 'Attention' },
  unavailable: { icon: '⏳', color: 'Warning' },
  'token-unavailable': { icon: '🚨', color: 'Attention' },
};

/** Whether Dataverse was asked: only then is there a status and a request id to show. */
function dataverseAnswer(
  ending: RemovalEnding,
): { status?: number; requestId?: string } | undefined {
  return ending.kind === 'kept' || ending.kind === 'token-unavailable' ? undefined : ending;
}

/**
 * "Your elevation in X has ended", for each way it ended: how the removal went and why, what to do
 * when the user must act (Remove now when the bot has no token for them), and Dataverse's request
 * id. `early`: ended by I'm done or Remove now; `nextAttempt`: when the bot tries again; `shared`:
 * whether others read it (default: whether the request's own card was in a group chat).
 */
export function removalEndedCard(
  request: TimeBoxedRequest,
  ending: RemovalEnding,
  options: TimeBoxCardOptions & { early?: boolean; nextAttempt?: Date; shared?: boolean },
): AdaptiveCard {
  const box = request.timeBox;
  const now = options.now.toISOString();
  const zone = options.timeZone;
  // Told where the request's card was (a group chat names the requester), unless the sender says.
  const reader =
    options.shared === undefined
      ? outcomeReader(request)
      : { thirdPersonName: options.shared ? request.requester.name : undefined };
  const name = request.environment.displayName;
  const text = describeRemoval(ending, {
    environmentName: name,
    early: options.early,
    reader,
    nextAttempt: options.nextAttempt
      ? clockIn(options.nextAttempt.toISOString(), zone, now)
      : undefined,
  });
  const look = ENDING_LOOK[ending.kind];
  // A kept role was never to be removed, so its end cannot be late.
  const late = options.early || ending.kind === 'kept' ? undefined : lateBy(box.endsAt, now);
  const answer = dataverseAnswer(ending);
  const facts: Fact[] = [
    ...environmentFacts(request.environment),
    ...fact('Justification', request.justification),
    ...fact('Granted at', clockIn(box.grantedAt, zone, now)),
    ...fact(options.early ? 'Was to end at' : 'Ended at', clockIn(box.endsAt, zone, now)),
    ...fact('Late by', late, 'Warning'),
    ...fact('Result', removalResultLabel(ending.kind, options.early), look.color, 'Bolder'),
  ];
  if (answer) {
    facts.push(
      ...fact('HTTP status', removalStatusText(answer.status)),
      // The id Dataverse support asks for; said plainly when Dataverse gave none.
      ...fact(
        'Dataverse request id',
        answer.requestId ?? 'none returned by Dataverse',
        'Default',
        'Bolder',
      ),
    );
  }
  const who = reader.thirdPersonName;
  return fill(templates.status, {
    ...NO_STATUS_EXTRAS,
    icon: look.icon,
    color: look.color,
    headline: `${who ? `${who}'s` : 'Your'} elevation in ${name} has ended`,
    // The ending's own headline, unless it only repeats the card's.
    timeLine:
      ending.kind === 'token-unavailable'
        ? 'The role is still there: it needs you to press Remove now.'
        : text.headline,
    explanation: text.explanation,
    nextStep: text.nextStep ?? '',
    nextStepLabel: text.settled ? 'Good to know: ' : 'What to do: ',
    facts,
    done: '',
    extend: '',
    removeNow: ending.kind === 'token-unavailable' ? 'yes' : '',
    requestId: request.id,
  });
}

/** One active elevation as a list item: where or who, until when, the phase, and its buttons. */
interface Item {
  headline: string;
  color: Color;
  lines: string[];
  done: string;
  extend: string;
  extendTitle: string;
  removeNow: string;
  requestId: string;
}

function timeLines(request: TimeBoxedRequest, zone: string | undefined, now: string): string[] {
  const box = request.timeBox;
  const until = clockIn(box.endsAt, zone, now);
  return box.phase === 'active'
    ? [`Until ${until} · ${timeLeftText(now, box.endsAt)}`]
    : [`Was due at ${until}`];
}

function environmentLine(request: ElevationRequest): string {
  const environment = request.environment;
  const type = isProduction(environment) ? `${environment.type} ⚠` : environment.type;
  return `${environment.displayName} (${type}) · ${environment.id}`;
}

/**
 * `elevations`: the user's active elevations (not final), soonest end first as the store gives
 * them: where, until when and how long is left, each with I'm done / Extend (Remove now when the
 * removal needs them). One justification input serves every Extend on the card.
 */
export function elevationsCard(
  requests: TimeBoxedRequest[],
  options: TimeBoxCardOptions,
): AdaptiveCard {
  const now = options.now.toISOString();
  const zone = options.timeZone;
  const items: Item[] = requests.map((request) => {
    const box = request.timeBox;
    const active = box.phase === 'active';
    const canExtend = active && extendable(box);
    const lines = [environmentLine(request), ...timeLines(request, zone, now)];
    if (!active) lines.push(phaseLook(request, zone, now).text);
    if (active && !canExtend) lines.push(`It ${latestEndText(box, zone, now)}.`);
    if (request.justification) lines.push(`Justification: ${request.justification}`);
    return {
      headline: request.environment.displayName,
      color: isProduction(request.environment) ? 'Attention' : 'Default',
      lines,
      done: active ? 'yes' : '',
      extend: canExtend ? 'yes' : '',
      extendTitle: extendTitle(box, options.extendMinutes, zone, now),
      removeNow: needsRemoveNow(box) ? 'yes' : '',
      requestId: request.id,
    };
  });
  return fill(templates.elevations, {
    title: 'Your active elevations',
    subtitle:
      items.length > 0
        ? `Times are ${knownZone(zone) ? 'your time' : 'UTC'}; the role is removed at the end of each.`
        : '',
    empty:
      'You have no active elevation: you hold no System Administrator role through me. Write "elevate me in <environment>" to start one.',
    items,
    more: '',
    extendInput: items.some((item) => item.extend === 'yes') ? 'yes' : '',
  });
}

/** How many elevations `who is elevated` lists before it says how many more there are. */
export const WHO_IS_ELEVATED_LIMIT = 25;

/**
 * `who is elevated`, for bot admins: every active elevation in the tenant (who, where, since,
 * until, justification, phase), soonest end first; past `limit` it says how many more there are.
 * `total`: how many there are in all, when the caller fetched only the first ones.
 */
export function whoIsElevatedCard(
  requests: TimeBoxedRequest[],
  options: TimeBoxCardOptions & { limit?: number; total?: number },
): AdaptiveCard {
  const now = options.now.toISOString();
  const zone = options.timeZone;
  const limit = options.limit ?? WHO_IS_ELEVATED_LIMIT;
  const total = Math.max(options.total ?? requests.length, requests.length);
  const shown = requests.slice(0, limit);
  const items: Item[] = shown.map((request) => {
    const box = request.timeBox;
    const phase = phaseLook(request, zone, now);
    const lines = [
      environmentLine(request),
      `Since ${clockIn(box.grantedAt, zone, now)} · ${timeLines(request, zone, now)[0]}`,
      `Phase: ${phase.text}`,
    ];
    if (box.extensions.length > 0) lines.push(`Extended ${box.extensions.length}×`);
    lines.push(`Justification: ${request.justification ?? 'none given'}`);
    return {
      headline: requesterText(request),
      color: phase.color === 'Attention' ? 'Attention' : 'Default',
      lines,
      done: '',
      extend: '',
      extendTitle: '',
      removeNow: '',
      requestId: request.id,
    };
  });
  const hidden = total - shown.length;
  return fill(templates.elevations, {
    title: 'Who is elevated',
    subtitle:
      total > 0
        ? `${total === 1 ? '1 active elevation' : `${total} active elevations`} in the tenant, soonest end first.`
        : '',
    empty: 'Nobody is elevated through me right now.',
    items,
    more:
      hidden > 0 ? `…and ${hidden} more, not shown. Each is in the audit of its environment.` : '',
    extendInput: '',
  });
}

/** The reminder in one line, for the activity feed and clients without cards. */
export function reminderSummary(request: TimeBoxedRequest, options: TimeBoxCardOptions): string {
  const now = options.now.toISOString();
  return `Your elevation in ${request.environment.displayName} ends at ${clockIn(request.timeBox.endsAt, options.timeZone, now)}`;
}

/** The end in one line, for the activity feed and clients without cards. */
export function removalSummary(request: TimeBoxedRequest, ending: RemovalEnding): string {
  return describeRemoval(ending, { environmentName: request.environment.displayName }).headline;
}
