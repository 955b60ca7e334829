/**
 * Cards are data: JSON templates beside this file, filled by one typed function per card.
 * Everything that came from a user or from the API is placed in TextRuns, which Adaptive Cards
 * never read as Markdown, so a justification like "[click](https://evil)" stays plain text.
 */
import { Template } from 'adaptivecards-templating';
import type { MatchReason } from '../../elevation/environment-resolution';
import type { ElevationNotification } from '../../elevation/notifications';
import {
  type ClosedBecause,
  type ElevationRequest,
  outcomeTime,
  type RoleCheck,
} from '../../elevation/request';
import { describeOutcome, describeStatus, type OutcomeReader } from '../../elevation/outcome-text';
import type { Environment } from '../../elevation/vocabulary';
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

/** "2026-11-26 14:28 UTC": TextRuns cannot use the card's DATE()/TIME() functions. */
function readableTime(iso: string): string {
  return `${new Date(iso).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * "14:38 UTC", or in the user's own time zone when Teams said which ("15:38 CET"). An unknown
 * zone name falls back to UTC.
 */
export function clockTime(iso: string, timeZone?: string): string {
  const format = (zone: string) =>
    new Intl.DateTimeFormat('en-GB', {
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZone: zone,
      timeZoneName: 'short',
    }).format(new Date(iso));
  if (timeZone) {
    try {
      return format(timeZone);
    } catch {
      // Not a zone this runtime knows: UTC is still true.
    }
  }
  return format('UTC');
}

/**
 * Who reads a request's card and its outcome: in a personal chat the requester alone ("you"); in
 * a group chat the others too, so the texts name the requester. The card's conversation decides.
 */
export function outcomeReader(request: ElevationRequest): OutcomeReader {
  const where = request.conversation as
    { conversation?: { conversationType?: string } } | undefined;
  const type = where?.conversation?.conversationType;
  const shared = type !== undefined && type !== 'personal';
  return {
    thirdPersonName: shared ? request.requester.name : undefined,
    adminRoles: request.requester.adminRoles,
  };
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
  /** The user's IANA time zone (Teams' `localTimezone`), for when the card expires; else UTC. */
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
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
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

/** A card closed without its Cancel being pressed says why (see ClosedBecause). */
function closedLook(
  because: ClosedBecause,
  request: ElevationRequest,
  reader: OutcomeReader,
): { headline: string; explanation: string } {
  const name = request.environment.displayName;
  const who = reader.thirdPersonName;
  switch (because.kind) {
    case 'replaced':
      return {
        headline: 'Replaced by a newer request',
        explanation: `${who ?? 'You'} asked again for ${name}: only the newest card can be used. Nothing was changed by this one.`,
      };
    case 'elevated-elsewhere':
      return {
        headline: `Closed: ${who ?? 'you'} elevated from another card`,
        explanation: `${who ?? 'You'} elevated in ${name} from another card, so this one can no longer be used. Nothing was changed by this one.`,
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

/** Up to this many candidates get a button each; more are picked from a list with one button. */
export const MAX_PICK_BUTTONS = 5;
/** Button labels longer than this are cut, so that a row of them fits on a phone. */
const MAX_LABEL_LENGTH = 28;

/** A button's label: the display name, cut short; the details are in the card's text. */
function shortLabel(text: string): string {
  const codePoints = Array.from(text.trim());
  if (codePoints.length <= MAX_LABEL_LENGTH) return text.trim();
  return `${codePoints.slice(0, MAX_LABEL_LENGTH - 1).join('')}\u2026`;
}

/** "Production ⚠ · westeurope · <id>": what tells two environments apart, beside the button. */
function pickDetails(environment: Environment): string {
  const type = isProduction(environment) ? `${environment.type} ⚠` : environment.type;
  return [type, environment.azureRegion ?? environment.geo, environment.id]
    .filter(Boolean)
    .join(' · ');
}

/** Labels are unique on a card: two "Shared" environments become "Shared (Sandbox)", "Shared (Trial)". */
function uniqueLabels(environments: Environment[]): string[] {
  const plain = environments.map((e) => shortLabel(e.displayName || e.id));
  const typed = plain.map((label, i) =>
    plain.indexOf(label) === plain.lastIndexOf(label)
      ? label
      : shortLabel(`${environments[i]!.displayName} (${environments[i]!.type})`),
  );
  return typed.map((label, i) =>
    typed.indexOf(label) === typed.lastIndexOf(label) ? label : `${label} #${i + 1}`,
  );
}

export interface PickCardInput {
  /** What the user typed; echoed in the card and kept on the request they pick. */
  query: string;
  candidates: Environment[];
  /** How many matched in all; the card says how many are not shown. */
  total: number;
  /** Only this person may pick (the `pick` verb checks it). */
  requesterId: string;
  /** Default "Several environments match". */
  title?: string;
  /** Default: "Which one did you mean by <query>?". Plain text (TextRuns). */
  lines?: string[];
  /** What a candidate's button does: `pick` opens the confirmation card, `audit-page` the audit. */
  verb?: 'pick' | 'audit-page';
  /**
   * Offers the `environments` list (when the words matched nothing, or not what was meant), or
   * with `words` the list of what they match. By default offered when not every candidate is shown.
   */
  offerEnvironments?: { purpose: 'elevate' | 'audit'; words?: string };
  /** Previous / Next of the `environments` list: the data each sends with `environments-page`. */
  pages?: { previous?: Record<string, string>; next?: Record<string, string> };
  /** Says what the candidates not shown are, when there are some. */
  moreText?: string;
  /** The data each candidate's button carries besides the environment id (default: query and requester). */
  data?: (environment: Environment) => Record<string, string>;
}

/**
 * The one way to choose an environment: one button per candidate (short label, details beside it)
 * up to MAX_PICK_BUTTONS, else a list with one button; and Cancel, which closes the card.
 */
export function pickCard(input: PickCardInput): AdaptiveCard {
  const verb = input.verb ?? 'pick';
  const data = input.data ?? (() => ({ query: input.query, requesterId: input.requesterId }));
  const asButtons = input.candidates.length <= MAX_PICK_BUTTONS;
  const labels = uniqueLabels(input.candidates);
  const rows = input.candidates.map((environment, i) => ({
    label: labels[i]!,
    name: environment.displayName,
    // A cut label leaves the whole name to the text beside it.
    details:
      asButtons && labels[i] !== environment.displayName
        ? `${environment.displayName} · ${pickDetails(environment)}`
        : pickDetails(environment),
    verb,
    data: { ...data(environment), environmentId: environment.id },
  }));
  const more = Math.max(0, input.total - input.candidates.length);
  // Candidates beyond the cap are reached through the list of everything the words match.
  const offer =
    input.offerEnvironments ??
    (more > 0
      ? {
          purpose: verb === 'audit-page' ? ('audit' as const) : ('elevate' as const),
          words: input.query,
        }
      : undefined);
  return fill(templates.pick, {
    title: input.title ?? 'Several environments match',
    lines: input.lines ?? [`Which one did you mean by "${input.query}"?`],
    buttons: asButtons ? rows : [],
    listed: asButtons ? [] : rows,
    choices: asButtons
      ? []
      : rows.map((row) => ({ title: row.label, value: row.data.environmentId })),
    listVerb: verb,
    listData: data(input.candidates[0] ?? ({} as Environment)),
    more,
    moreText: input.moreText ?? `${more} more match: type more of the name, or show them all.`,
    offerEnvironments: offer ? 'yes' : '',
    environmentsTitle: offer?.words ? 'Show all matches' : 'Show my environments',
    environmentsData: {
      words: offer?.words ?? '',
      offset: '0',
      purpose: offer?.purpose ?? 'elevate',
      requesterId: input.requesterId,
    },
    hasPrevious: input.pages?.previous ? 'yes' : '',
    previousData: input.pages?.previous ?? {},
    hasNext: input.pages?.next ? 'yes' : '',
    nextData: input.pages?.next ?? {},
    cancellable: input.candidates.length > 0 ? 'yes' : '',
    requesterId: input.requesterId,
  });
}

export interface NoticeOptions {
  title: string;
  lines: string[];
  color?: Color;
}

/** A short message with text that may contain user or API input. */
export function noticeCard(options: NoticeOptions): AdaptiveCard {
  return fill(templates.notice, {
    title: options.title,
    color: options.color ?? 'Default',
    lines: options.lines,
  });
}

const NOTIFICATION_LOOK: Record<
  ElevationNotification['kind'],
  { icon: string; color: Color; headline: string }
> = {
  succeeded: { icon: '✅', color: 'Good', headline: 'Elevation succeeded' },
  failed: { icon: '❌', color: 'Attention', headline: 'Elevation FAILED' },
  refused: { icon: '⛔', color: 'Warning', headline: 'Elevation refused: not a tenant admin' },
  'sign-in-refused': { icon: '🚨', color: 'Attention', headline: 'Refused sign-in tokens' },
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
    case 'sign-in-refused':
      return `Refused sign-in tokens for ${who}`;
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
      outcome
        ? outcome.ok
          ? 'Succeeded'
          : `Failed (${outcome.kind})`
        : notification.kind === 'sign-in-refused'
          ? 'Sign-in refused'
          : 'Refused before any call',
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
    tryAgain: '',
    requestId: '',
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
        ? closedLook(
            request.closedBecause,
            request,
            options.showRequester ? { thirdPersonName: request.requester.name } : {},
          ).headline
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
