/**
 * The cards of one request: the confirmation (Elevate / Cancel) and the request as it stands
 * (outcome with its correlation id, cancelled, expired, in progress), which replaces it.
 */
import { Template } from 'adaptivecards-templating';
import type { MatchReason } from '../../elevation/environment-resolution';
import { type ElevationRequest, outcomeTime, type RoleCheck } from '../../elevation/request';
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
    problem: options.problem ?? '',
    expiresAt: clockTime(request.expiresAt, options.timeZone),
    requesterName: request.requester.name,
    matchedField: options.matched?.field ?? '',
    matchedValue: options.matched?.value ?? '',
    recent: options.lastExecution
      ? recentElevationText(options.lastExecution, request.createdAt, {
          thirdPersonName: options.shared ? request.requester.name : undefined,
          adminRoles: request.requester.adminRoles,
        })
      : '',
  });
}

/** The request as it stands: outcome with correlation id, or cancelled / expired / in progress. */
export function requestStatusCard(request: ElevationRequest): AdaptiveCard {
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
    (request.state === 'expired'
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
  facts.push(...fact('Time', readableTime(request.updatedAt)));
  return fill(templates.requestStatus, {
    icon: look.icon,
    color: look.color,
    headline: text?.headline ?? look.headline,
    explanation,
    nextStep: (text && 'nextStep' in text ? text.nextStep : undefined) ?? '',
    nextStepLabel: outcome?.ok ? 'Good to know: ' : 'What to do: ',
    facts,
    // On success the API's diagnostic lines add nothing a person needs (they stay in the audit).
    details: outcome && !outcome.ok ? outcome.details : [],
    // A failure can be asked again from its card (the requester only: the bot checks who clicks).
    tryAgain: request.state === 'failed' ? 'yes' : '',
    requestId: request.id,
  });
}
