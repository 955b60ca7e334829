/**
 * The cards of one request: the confirmation (Elevate / Cancel) and the request as it stands
 * (outcome with its correlation id, cancelled, expired, in progress), which replaces it.
 */
import { Template } from 'adaptivecards-templating';
import type { MatchReason } from '../../elevation/environment-resolution';
import {
  type ElevationRequest,
  outcomeTime,
  type RoleCheck,
  type TimeBox,
} from '../../elevation/request';
import {
  ADMIN_CENTER_URL,
  describeRemoval,
  type RemovalEnding,
  removalResultLabel,
} from '../../elevation/removal-text';
import {
  countOf,
  describeOutcome,
  describeStatus,
  type OutcomeReader,
} from '../../elevation/outcome-text';
import { type AdaptiveCard, type Fact, fact, fill } from './card-template';
import {
  clockTime,
  closedLook,
  environmentFacts,
  isProduction,
  outcomeReader,
  readableTime,
  requesterText,
  STATE_LOOK,
} from './request-look';
import { formatMinutes } from '../../elevation/duration';
import { durationInput } from './duration-input';
import { approvalAskCard, approvalExpiredText, approvalStatusCard } from './approval-cards';
import { clockIn, timeLeftText } from './local-time';
import {
  extendable,
  extendTitle,
  latestEndText,
  lateBy,
  needsRemoveNow,
  phaseLook,
  removalStatusText,
} from './time-box-look';
import confirmationTemplate from './templates/confirmation.json';
import requestStatusTemplate from './templates/request-status.json';

const templates = {
  confirmation: new Template(confirmationTemplate),
  requestStatus: new Template(requestStatusTemplate),
};

/** What Dataverse said, before and after the elevation. */
function ROLE_CHECK_TEXT(check: RoleCheck, reader: OutcomeReader): string {
  switch (check.result) {
    case 'already-admin':
      return `${reader.thirdPersonName ?? 'You'} already held System Administrator before this elevation.`;
    case 'newly-granted':
      return 'Newly granted: Dataverse shows the role now and did not before.';
    case 'not-visible-yet':
      return 'Granted, but Dataverse does not show the role yet; it can take a few minutes.';
    case 'not-checked':
      return `Could not check in Dataverse (${check.reason}).`;
  }
}

export interface ConfirmationOptions {
  justificationRequired: boolean;
  /** Shown under the input when the last press was refused (e.g. empty justification). */
  problem?: string;
  /** What the user had typed, kept when the card is shown again. */
  justification?: string;
  /** The user's IANA time zone (Teams' `localTimezone` or clientInfo), for when the card expires; else UTC. */
  timeZone?: string;
  /** Others read the card too (a group chat): it names the requester instead of saying "you". */
  shared?: boolean;
  /** Why this environment, when the words were not its exact id, display name or URL. */
  matched?: MatchReason;
  /** The requester's last elevation in this environment, when it was recent (said on the card). */
  lastExecution?: ElevationRequest;
  /**
   * Time-boxed elevation: the durations offered (ELEVATION_DEFAULT_MINUTES, ELEVATION_MAX_MINUTES).
   * Absent: the card offers no duration and says the role stays until it is removed.
   */
  durations?: { defaultMinutes: number; maxMinutes: number };
  /** When the card is drawn, for "until 15:40 if you elevate now"; the request's creation else. */
  now?: Date;
  /** The policy rule that applies, what it allows, said on the card (POLICY_FILE). */
  policy?: string;
  /** What the rule asks of the justification (its patternHelp), shown under the input. */
  justificationHint?: string;
}

/** "3 minutes", "1 hour": how long before `to` `from` was, in the largest whole unit. */
function timeBetween(from: string, to: string): string {
  const minutes = Math.max(0, Math.floor((Date.parse(to) - Date.parse(from)) / 60_000));
  const [count, unit] =
    minutes < 60
      ? [minutes, 'minute']
      : minutes < 48 * 60
        ? [Math.floor(minutes / 60), 'hour']
        : [Math.floor(minutes / 1440), 'day'];
  return countOf(count, unit);
}

/**
 * "You elevated here 3 minutes ago; it succeeded." or "You tried to elevate here 1 hour ago:
 * Elevation failed (userNotPartOfSecurityGroup).", as of when the new request was made.
 */
function recentElevationText(last: ElevationRequest, now: string, reader: OutcomeReader): string {
  const elapsed = Date.parse(now) - Date.parse(outcomeTime(last));
  const when =
    elapsed < 60_000 ? 'less than a minute ago' : `${timeBetween(outcomeTime(last), now)} ago`;
  const outcome = last.outcome;
  const who = reader.thirdPersonName ?? 'You';
  if (!outcome || outcome.ok) return `${who} elevated here ${when}; it succeeded.`;
  const { headline } = describeOutcome(outcome, reader);
  const code = outcome.errorCode && !headline.includes(':') ? ` (${outcome.errorCode})` : '';
  return `${who} tried to elevate here ${when}: ${headline}${code}.`;
}

/** "You are about to make yourself System Administrator in X": Elevate / Cancel. */
export function confirmationCard(
  request: ElevationRequest,
  options: ConfirmationOptions,
): AdaptiveCard {
  // A request that needs a second person asks for approval instead (approval-cards.ts).
  const approval = request.policy?.approval;
  if (approval?.status === 'not-asked') return approvalAskCard(request, options);
  if (approval && request.state === 'requested') return approvalStatusCard(request, options);
  return fill(templates.confirmation, {
    requestId: request.id,
    intro: options.shared
      ? `${request.requester.name} asks to become System Administrator in `
      : 'You are about to make yourself System Administrator in ',
    environmentName: request.environment.displayName,
    production: isProduction(request.environment),
    facts: [
      ...environmentFacts(request.environment),
      ...fact('Requested by', requesterText(request)),
    ],
    justificationRequired: options.justificationRequired,
    justification: options.justification ?? '',
    policy: options.policy ?? '',
    justificationHint: options.justificationHint ?? '',
    problem: options.problem ?? '',
    expiresAt: clockTime(request.expiresAt, options.timeZone),
    requesterName: request.requester.name,
    matchedField: options.matched?.field ?? '',
    matchedValue: options.matched?.value ?? '',
    ...durationInput(request, options),
    recent: options.lastExecution
      ? recentElevationText(options.lastExecution, request.createdAt, {
          thirdPersonName: options.shared ? request.requester.name : undefined,
          adminRoles: request.requester.adminRoles,
        })
      : '',
  });
}

/** What a status card needs besides the request, for a time-boxed elevation's times. */
export interface StatusOptions {
  /** When the card is drawn: "52 minutes left" counts from it (the present moment else). */
  now?: Date;
  /** The user's IANA time zone (Teams' `localTimezone`); the requester's, else UTC. */
  timeZone?: string;
  /** ELEVATION_DEFAULT_MINUTES: what one Extend adds (named on its button). */
  extendMinutes?: number;
}

type TimeBoxed = ElevationRequest & { timeBox: TimeBox };

/**
 * What a succeeded, time-boxed request's card adds: until when and how long is left, the phase,
 * the extensions and the removal, and which buttons apply (I'm done / Extend while active, Remove
 * now when the removal needs the user, none once final).
 */
function timeBoxLook(request: TimeBoxed, options: StatusOptions, reader: OutcomeReader) {
  const box = request.timeBox;
  // Drawn now unless told otherwise, in the requester's own zone as their client reported it.
  const now = (options.now ?? new Date()).toISOString();
  const zone = options.timeZone ?? request.requester.timeZone;
  const phase = phaseLook(request, zone, now);
  const until = clockIn(box.endsAt, zone, now);
  const active = box.phase === 'active';
  const canExtend = active && extendable(box);
  const late = lateBy(box.endsAt, now);
  const timeLine = active
    ? `Until ${until} · ${timeLeftText(now, box.endsAt)}`
    : box.phase === 'overdue' || box.phase === 'removing'
      ? `Was due at ${until}${late ? ` · ${late} late` : ''}`
      : '';
  // Once over, the grant's present tense ("you are System Administrator") is no longer true; a
  // role held before was granted by nobody here, and stays.
  const ending: RemovalEnding | undefined =
    box.phase === 'kept' ? { kind: 'kept' } : box.phase === 'removed' ? box.lastRemoval : undefined;
  const over =
    box.phase === 'removed' || box.phase === 'kept'
      ? {
          icon: box.phase === 'removed' ? '🔒' : '✅',
          headline:
            box.phase === 'removed'
              ? 'Elevation over: System Administrator removed'
              : `Elevated: ${reader.thirdPersonName ? `${reader.thirdPersonName} already held` : 'you already held'} System Administrator, so it is kept`,
          explanation: ending
            ? describeRemoval(ending, {
                environmentName: request.environment.displayName,
                early: Boolean(box.endedEarlyBy),
                reader,
              }).explanation
            : undefined,
        }
      : undefined;
  const who = reader.thirdPersonName;
  const nextStep = active
    ? `The role is removed at ${until}. ${who ? `${who} can press` : 'Press'} I'm done when finished${
        canExtend ? ', or Extend for longer' : ''
      }.${canExtend ? '' : ` It ${latestEndText(box, zone, now)}.`}`
    : box.phase === 'overdue'
      ? needsRemoveNow(box)
        ? 'The role is still there: press Remove now to remove it at once.'
        : `The role is still there: remove it in the Power Platform admin center (${ADMIN_CENTER_URL}).`
      : '';
  const facts: Fact[] = [
    ...fact('Time box', phase.text, phase.color, 'Bolder'),
    ...fact('Granted at', clockIn(box.grantedAt, zone, now)),
    // A kept role does not end with the elevation: an end time would say the opposite.
    ...fact('Ends at', box.phase === 'kept' ? undefined : clockIn(box.endsAt, zone, now)),
    ...box.extensions.flatMap((e) =>
      fact(
        'Extended',
        `by ${formatMinutes(e.minutes)} at ${clockIn(e.at, zone, now)}: ${e.justification}`,
      ),
    ),
  ];
  if (box.lastRemoval) {
    facts.push(
      ...fact('Removal', removalResultLabel(box.lastRemoval.kind, Boolean(box.endedEarlyBy))),
      ...fact(
        'Removal HTTP status',
        box.lastRemoval.status === undefined
          ? undefined
          : removalStatusText(box.lastRemoval.status),
      ),
      ...fact('Dataverse request id', box.lastRemoval.requestId),
    );
  }
  return {
    over,
    timeLine,
    nextStep,
    facts,
    done: active ? 'yes' : '',
    extend: canExtend ? 'yes' : '',
    extendTitle: extendTitle(box, options.extendMinutes, zone, now),
    removeNow: needsRemoveNow(box) ? 'yes' : '',
    nextStepLabel: box.phase === 'overdue' ? 'What to do: ' : 'Good to know: ',
  };
}

/**
 * The request as it stands: outcome with correlation id, or cancelled / expired / in progress;
 * a time-boxed success also says until when, the phase, and carries I'm done / Extend / Remove now.
 */
export function requestStatusCard(
  request: ElevationRequest,
  options: StatusOptions = {},
): AdaptiveCard {
  const approval = request.policy?.approval;
  if (request.state === 'requested' && approval && approval.status !== 'not-asked')
    return approvalStatusCard(request, options);
  const approvalExpired = request.state === 'expired' && approval?.status === 'expired';
  const look = STATE_LOOK[request.state];
  const outcome = request.outcome;
  const reader = outcomeReader(request);
  const text = outcome
    ? describeOutcome(outcome, reader)
    : request.state === 'cancelled' && request.closedBecause
      ? closedLook(request.closedBecause, request, reader)
      : undefined;
  const explanation =
    text?.explanation ??
    (approvalExpired
      ? approvalExpiredText(approval)
      : request.state === 'expired'
        ? 'Nobody confirmed this request in time, so nothing was changed. Ask again to get a new card.'
        : request.state === 'cancelled'
          ? 'Nothing was changed.'
          : request.state === 'executing'
            ? 'The Power Platform API is still answering. This card will show the outcome as soon as it arrives.'
            : '');
  const facts: Fact[] = [
    ...environmentFacts(request.environment),
    ...fact('Requested by', requesterText(request)),
    ...fact('Justification', request.justification),
  ];
  if (outcome) {
    facts.push(
      ...fact('HTTP status', describeStatus(outcome)),
      ...fact('Error code', outcome.ok ? undefined : outcome.errorCode),
      // The id Microsoft support asks for; shown verbatim, or said plainly when absent.
      ...fact(
        'Correlation id',
        outcome.response.correlationId ?? 'none returned by the API',
        'Default',
        'Bolder',
      ),
      ...fact('Client request id', outcome.response.clientRequestId),
    );
  } else if (request.clientRequestId) {
    facts.push(...fact('Client request id', request.clientRequestId));
  }
  if (request.roleCheck)
    facts.push(...fact('Role check', ROLE_CHECK_TEXT(request.roleCheck, reader)));
  const timeBox =
    request.state === 'succeeded' && request.timeBox
      ? timeBoxLook(request as TimeBoxed, options, reader)
      : undefined;
  if (timeBox) facts.push(...timeBox.facts);
  facts.push(...fact('Time', readableTime(request.updatedAt)));
  return fill(templates.requestStatus, {
    icon: timeBox?.over?.icon ?? look.icon,
    color: look.color,
    headline:
      timeBox?.over?.headline ??
      text?.headline ??
      (approvalExpired ? 'Approval expired' : look.headline),
    explanation: timeBox?.over?.explanation ?? explanation,
    timeLine: timeBox?.timeLine ?? '',
    // A time-boxed grant does not stay "until it is removed": its own next step says when it ends.
    nextStep: timeBox?.nextStep ?? (text && 'nextStep' in text ? text.nextStep : undefined) ?? '',
    nextStepLabel: timeBox?.nextStepLabel ?? (outcome?.ok ? 'Good to know: ' : 'What to do: '),
    facts,
    done: timeBox?.done ?? '',
    extend: timeBox?.extend ?? '',
    extendTitle: timeBox?.extendTitle ?? '',
    removeNow: timeBox?.removeNow ?? '',
    // On success the API's diagnostic lines add nothing a person needs (they stay in the audit).
    details: outcome && !outcome.ok ? outcome.details : [],
    // A failure can be asked again from its card (the requester only: the bot checks who clicks).
    tryAgain: request.state === 'failed' ? 'yes' : '',
    requestId: request.id,
  });
}
