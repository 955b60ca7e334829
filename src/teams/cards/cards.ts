/**
 * Cards are data: JSON templates beside this file, filled by one typed function per card.
 * Everything that came from a user or from the API is placed in TextRuns, which Adaptive Cards
 * never read as Markdown, so a justification like "[click](https://evil)" stays plain text.
 */
import { Template } from 'adaptivecards-templating';
import type { ElevationNotification } from '../../elevation/notifications';
import {
  type ClosedBecause,
  type ElevationRequest,
  outcomeTime,
  type RoleCheck,
} from '../../elevation/request';
import { describeOutcome, describeStatus } from '../../elevation/outcome-text';
import type { Environment } from '../../powerplatform/model';
import confirmationTemplate from './templates/confirmation.json';
import historyTemplate from './templates/history.json';
import noticeTemplate from './templates/notice.json';
import pickTemplate from './templates/pick.json';
import requestStatusTemplate from './templates/request-status.json';

export type AdaptiveCard = Record<string, unknown> & { type: 'AdaptiveCard' };

type Color = 'Default' | 'Good' | 'Attention' | 'Warning' | 'Accent';

interface Fact {
  title: string;
  value: string;
  color: Color;
  weight: 'Default' | 'Bolder';
}

const templates = {
  confirmation: new Template(confirmationTemplate),
  history: new Template(historyTemplate),
  notice: new Template(noticeTemplate),
  pick: new Template(pickTemplate),
  requestStatus: new Template(requestStatusTemplate),
};

function fill(template: Template, data: object): AdaptiveCard {
  return template.expand({ $root: data }) as AdaptiveCard;
}

function fact(
  title: string,
  value: string | undefined,
  color: Color = 'Default',
  weight: Fact['weight'] = 'Default',
): Fact[] {
  return value ? [{ title, value, color, weight }] : [];
}

export function isProduction(environment: Environment): boolean {
  return environment.type.toLowerCase() === 'production';
}

/** Adaptive Cards' TIME()/DATE() functions want RFC 3339 without fractions of a second. */
function cardTime(iso: string): string {
  return new Date(iso).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** What Dataverse said, before and after the elevation. */
function ROLE_CHECK_TEXT(check: RoleCheck): string {
  switch (check.result) {
    case 'already-admin':
      return 'You already held System Administrator before this elevation.';
    case 'newly-granted':
      return 'Newly granted: Dataverse shows the role now and did not before.';
    case 'not-visible-yet':
      return 'Granted, but Dataverse does not show the role yet; it can take a few minutes.';
    case 'not-checked':
      return `Could not check in Dataverse (${check.reason}).`;
  }
}

/** "2026-11-26 14:28 UTC": TextRuns cannot use the card's DATE()/TIME() functions. */
function readableTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function region(environment: Environment): string | undefined {
  const parts = [environment.azureRegion, environment.geo].filter(Boolean);
  return parts.length ? parts.join(' / ') : undefined;
}

function environmentFacts(environment: Environment): Fact[] {
  const production = isProduction(environment);
  return [
    ...fact('Environment', environment.displayName, 'Default', 'Bolder'),
    ...fact('Id', environment.id),
    ...fact(
      'Type',
      production ? `${environment.type} ⚠` : environment.type,
      production ? 'Attention' : 'Default',
      production ? 'Bolder' : 'Default',
    ),
    ...fact('State', environment.state),
    ...fact('Region', region(environment)),
    ...fact('Dataverse URL', environment.dataverseUrl),
  ];
}

function requesterText(request: ElevationRequest): string {
  const { name, upn } = request.requester;
  return upn && upn !== name ? `${name} (${upn})` : name;
}

export interface ConfirmationOptions {
  justificationRequired: boolean;
  /** Shown under the input when the last press was refused (e.g. empty justification). */
  problem?: string;
  /** What the user had typed, kept when the card is shown again. */
  justification?: string;
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
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/**
 * "You elevated here 3 minutes ago; it succeeded." or "You tried to elevate here 1 hour ago:
 * Elevation failed (userNotPartOfSecurityGroup).", as of when the new request was made.
 */
function recentElevationText(last: ElevationRequest, now: string): string {
  const elapsed = Date.parse(now) - Date.parse(outcomeTime(last));
  const when =
    elapsed < 60_000 ? 'less than a minute ago' : `${timeBetween(outcomeTime(last), now)} ago`;
  const outcome = last.outcome;
  if (!outcome || outcome.ok) return `You elevated here ${when}; it succeeded.`;
  const { headline } = describeOutcome(outcome);
  const code = outcome.errorCode && !headline.includes(':') ? ` (${outcome.errorCode})` : '';
  return `You tried to elevate here ${when}: ${headline}${code}.`;
}

/** "You are about to make yourself System Administrator in X": Elevate / Cancel. */
export function confirmationCard(
  request: ElevationRequest,
  options: ConfirmationOptions,
): AdaptiveCard {
  return fill(templates.confirmation, {
    requestId: request.id,
    environmentName: request.environment.displayName,
    production: isProduction(request.environment),
    facts: [
      ...environmentFacts(request.environment),
      ...fact('Requested by', requesterText(request)),
    ],
    justificationRequired: options.justificationRequired,
    justification: options.justification ?? '',
    problem: options.problem ?? '',
    expiresAt: cardTime(request.expiresAt),
    requesterName: request.requester.name,
    recent: options.lastExecution
      ? recentElevationText(options.lastExecution, request.createdAt)
      : '',
  });
}

/** A card closed without its Cancel being pressed says why (see ClosedBecause). */
function closedLook(
  because: ClosedBecause,
  request: ElevationRequest,
): { headline: string; explanation: string } {
  const name = request.environment.displayName;
  switch (because.kind) {
    case 'replaced':
      return {
        headline: 'Replaced by a newer request',
        explanation: `You asked again for ${name}: only the newest card can be used. Nothing was changed by this one.`,
      };
    case 'elevated-elsewhere':
      return {
        headline: 'Closed: you elevated from another card',
        explanation: `You elevated in ${name} from another card, so this one can no longer be used. Nothing was changed by this one.`,
      };
  }
}

const STATE_LOOK: Record<
  ElevationRequest['state'],
  { icon: string; color: Color; headline: string }
> = {
  requested: { icon: '⏳', color: 'Default', headline: 'Waiting for confirmation' },
  executing: { icon: '⏳', color: 'Accent', headline: 'Elevation in progress' },
  succeeded: { icon: '✅', color: 'Good', headline: 'Elevated' },
  failed: { icon: '❌', color: 'Attention', headline: 'Elevation failed' },
  cancelled: { icon: '🚫', color: 'Default', headline: 'Elevation cancelled' },
  expired: { icon: '⌛', color: 'Warning', headline: 'Elevation request expired' },
};

/** The request as it stands: outcome with correlation id, or cancelled / expired / in progress. */
export function requestStatusCard(request: ElevationRequest): AdaptiveCard {
  const look = STATE_LOOK[request.state];
  const outcome = request.outcome;
  const text = outcome
    ? describeOutcome(outcome)
    : request.state === 'cancelled' && request.closedBecause
      ? closedLook(request.closedBecause, request)
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
  if (request.roleCheck) facts.push(...fact('Role check', ROLE_CHECK_TEXT(request.roleCheck)));
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
  });
}

function choiceTitle(environment: Environment): string {
  const where = [
    environment.type,
    environment.azureRegion ?? environment.geo,
    environment.domainName,
  ].filter(Boolean);
  return `${environment.displayName} (${where.join(', ')})`;
}

/** Several environments matched: the requester picks one. */
export function pickCard(input: {
  query: string;
  candidates: Environment[];
  total: number;
  requesterId: string;
}): AdaptiveCard {
  return fill(templates.pick, {
    query: input.query,
    requesterId: input.requesterId,
    choices: input.candidates.map((e) => ({ title: choiceTitle(e), value: e.id })),
    more: Math.max(0, input.total - input.candidates.length),
  });
}

export interface NoticeOptions {
  title: string;
  lines: string[];
  color?: Color;
  /** Environments offered as buttons ("Did you mean"). */
  suggestions?: Environment[];
  query?: string;
  requesterId?: string;
}

/** A short message with text that may contain user or API input. */
export function noticeCard(options: NoticeOptions): AdaptiveCard {
  return fill(templates.notice, {
    title: options.title,
    color: options.color ?? 'Default',
    lines: options.lines,
    suggestions: (options.suggestions ?? []).map((e) => ({
      title: choiceTitle(e),
      value: e.id,
      query: options.query ?? '',
      requesterId: options.requesterId ?? '',
    })),
  });
}

const NOTIFICATION_LOOK: Record<
  ElevationNotification['kind'],
  { icon: string; color: Color; headline: string }
> = {
  succeeded: { icon: '✅', color: 'Good', headline: 'Elevation succeeded' },
  failed: { icon: '❌', color: 'Attention', headline: 'Elevation FAILED' },
  refused: { icon: '⛔', color: 'Warning', headline: 'Elevation refused: not a tenant admin' },
};

function personText(person: ElevationNotification['requester']): string {
  return person.upn && person.upn !== person.name ? `${person.name} (${person.upn})` : person.name;
}

/** One line for the activity feed and for clients without cards. */
export function notificationSummary(notification: ElevationNotification): string {
  const who = personText(notification.requester);
  const where = notification.environment?.displayName ?? notification.query ?? 'an environment';
  switch (notification.kind) {
    case 'succeeded':
      return `${who} elevated to System Administrator in ${where}`;
    case 'failed':
      return `Elevation failed: ${who} in ${where}`;
    case 'refused':
      return `Elevation refused: ${who} is not a tenant admin`;
  }
}

/** What a subscribed channel sees: who, where, why, the outcome and its correlation id. */
export function notificationCard(notification: ElevationNotification): AdaptiveCard {
  const look = NOTIFICATION_LOOK[notification.kind];
  const environment = notification.environment;
  const outcome = notification.outcome;
  const production = environment ? environment.type.toLowerCase() === 'production' : false;
  const facts: Fact[] = [
    ...fact('Who', personText(notification.requester), 'Default', 'Bolder'),
    ...fact('User id', notification.requester.aadObjectId),
    ...fact('Environment', environment?.displayName, 'Default', 'Bolder'),
    ...fact('Environment id', environment?.id),
    ...fact(
      'Type',
      environment && production ? `${environment.type} ⚠` : environment?.type,
      production ? 'Attention' : 'Default',
      production ? 'Bolder' : 'Default',
    ),
    ...fact('Asked for', notification.query),
    ...fact('Justification', notification.justification),
    ...fact(
      'Outcome',
      outcome ? (outcome.ok ? 'Succeeded' : `Failed (${outcome.kind})`) : 'Refused before any call',
      outcome?.ok ? 'Good' : 'Attention',
      'Bolder',
    ),
    ...fact('Reason', outcome?.message ?? notification.reason),
    ...fact('HTTP status', outcome?.status),
    ...fact('Error code', outcome?.errorCode),
  ];
  if (outcome) {
    facts.push(
      ...fact(
        'Correlation id',
        outcome.correlationId ?? 'none returned by the API',
        'Default',
        'Bolder',
      ),
      ...fact('Client request id', outcome.clientRequestId),
    );
  }
  facts.push(...fact('Time', preciseTime(notification.at)));
  return fill(templates.requestStatus, {
    icon: look.icon,
    color: look.color,
    headline: look.headline,
    explanation: notificationSummary(notification),
    nextStep: '',
    nextStepLabel: '',
    facts,
    details: [],
  });
}

/** "2026-11-26 14:28:05 UTC": to the second, for lining up with other logs. */
function preciseTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

export interface HistoryCardOptions {
  title: string;
  subtitle?: string;
  /** Said when there is nothing to list. */
  empty: string;
  /** Whose request each item is (for lists of several people's requests). */
  showRequester: boolean;
  /** The Action.Execute that fetches the next, older page; absent on the last page. */
  older?: { verb: string; data: Record<string, string> };
  /** The Action.Execute that fetches the newer page before this one; absent on the first. */
  newer?: { verb: string; data: Record<string, string> };
}

/**
 * A page of requests by outcome time, newest first: what happened, where, when it came to its
 * outcome, why, and the ids to quote.
 */
export function historyCard(
  requests: ElevationRequest[],
  options: HistoryCardOptions,
): AdaptiveCard {
  const items = requests.map((request) => {
    const look = STATE_LOOK[request.state];
    const outcome = request.outcome;
    // Someone else's request is told in the third person: the outcome texts say "you".
    const headline = !outcome
      ? request.state === 'cancelled' && request.closedBecause
        ? closedLook(request.closedBecause, request).headline
        : look.headline
      : options.showRequester
        ? outcome.ok
          ? look.headline
          : `${look.headline} (${outcome.kind})`
        : describeOutcome(outcome).headline;
    const lines = [
      `${request.environment.displayName} (${request.environment.type}) · ${request.environment.id}`,
      `${readableTime(outcomeTime(request))}${options.showRequester ? ` · ${requesterText(request)}` : ''}`,
    ];
    if (request.justification) lines.push(`Justification: ${request.justification}`);
    if (outcome) {
      lines.push(`Correlation id: ${outcome.response.correlationId ?? 'none returned by the API'}`);
    }
    return { headline: `${look.icon} ${headline}`, color: look.color, lines };
  });
  return fill(templates.history, {
    title: options.title,
    subtitle: options.subtitle ?? '',
    empty: options.empty,
    items,
    older: options.older ? 'yes' : '',
    olderVerb: options.older?.verb ?? '',
    olderData: options.older?.data ?? {},
    newer: options.newer ? 'yes' : '',
    newerVerb: options.newer?.verb ?? '',
    newerData: options.newer?.data ?? {},
  });
}
