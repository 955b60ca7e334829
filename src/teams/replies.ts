/**
 * What the bot answers, built from use-case results: its sentences, cards and invoke responses.
 * Pure functions and constants, so that the handlers only choose which answer to give; no
 * sentence a user reads is written anywhere else (hints.ts adds the commands to write).
 */
import {
  type Activity,
  type AdaptiveCardInvokeResponse,
  CardFactory,
  type InvokeResponse,
} from 'botbuilder';
import type { RequestResult } from '../elevation/elevation-service';
import { describeFilter, type ChannelSubscription } from '../elevation/notifications';
import type { SubscribeResult } from '../elevation/subscription-service';
import { describeOutcome, describeRefusal, describeStatus } from '../elevation/outcome-text';
import { describeRemoval, type RemovalEnding } from '../elevation/removal-text';
import { formatMinutes } from '../elevation/duration';
import type { ElevationRequest, Requester } from '../elevation/request';
import type { AdaptiveCard } from './cards/card-template';
import { noticeCard, type NoticeOptions } from './cards/notice-card';
import { pickCard } from './cards/pick-card';
import { outcomeReader } from './cards/request-look';
import { ENDING_LOOK } from './cards/time-box-cards';
import { clockIn } from './cards/local-time';
import {
  type Audience,
  helpLines,
  nameNotType,
  notifyUsage,
  plainText,
  type TextFormat,
  whoAreTheAdmins,
} from './hints';
import { signInCard, type SignInPromptOptions } from './sign-in-prompt';

export const CARD = 'application/vnd.microsoft.card.adaptive';
export const MESSAGE = 'application/vnd.microsoft.activity.message';

/** Universal Actions' "sign in first": Teams signs the user in and retries the action. */
export function loginRequest(options: SignInPromptOptions): AdaptiveCardInvokeResponse {
  return {
    statusCode: 401,
    type: 'application/vnd.microsoft.activity.loginRequest',
    value: signInCard(options).content as Record<string, unknown>,
  };
}

/**
 * A button pressed while the bot holds no token for the user (the sign-in ran out): the
 * loginRequest that makes Teams sign them in and send the same click again, with the token;
 * undefined when the result is anything else or sign-in is not set up.
 */
export function signInFirst(
  result: { kind: string; reason?: unknown },
  prompt: SignInPromptOptions | undefined,
): AdaptiveCardInvokeResponse | undefined {
  return result.kind === 'no-token' && result.reason === 'sign-in-required' && prompt
    ? loginRequest(prompt)
    : undefined;
}

export function cardResponse(card: AdaptiveCard): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: CARD, value: card };
}

/** Text shown to the clicker only; their card stays as it is. */
export function messageResponse(text: string): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: MESSAGE, value: text as unknown as Record<string, unknown> };
}

export function invokeResponse(status: number, body?: unknown): InvokeResponse {
  return { status, body };
}

/** A short card as a message; every line is plain text (TextRuns), whatever it contains. */
export function noticeActivity(notice: NoticeOptions): Partial<Activity> {
  return { attachments: [CardFactory.adaptiveCard(noticeCard(notice))] };
}

/** The activity says nobody (no Entra user): nothing is done. */
export const NOT_A_TEAMS_USER = 'I can only act for signed-in Microsoft Teams users.';
/** The user's tenant is not in ALLOWED_TENANT_IDS. */
export const TENANT_NOT_ALLOWED = 'This bot is not enabled for your organisation.';
export const CARD_WITHOUT_REQUEST = 'This card is missing its request; ask again.';
export const CARD_WITHOUT_ENVIRONMENT = 'This card is missing its environment; ask again.';
export const UNKNOWN_REQUEST = 'I no longer know this request.';
export const BUTTON_NOT_SUPPORTED = 'This button is no longer supported.';
export const SUGGESTION_NOT_RUNNABLE = 'This button no longer works; ask again.';
export const PICK_ONE_FIRST = 'Pick one environment first.';
export const NOT_YOUR_PICKER =
  'Only the person who asked can pick the environment. Ask me yourself to elevate.';
export const NOT_YOUR_LIST = 'Only the person who asked can close this list.';
export const NOT_YOUR_SUGGESTION =
  'Only the person who wrote this can use the button. Ask me yourself.';
export const HISTORY_ELSEWHERE =
  'I show your history in our personal chat only. Write `history` there.';
export const ENVIRONMENTS_ELSEWHERE =
  'Ask me for your environments in a personal or group chat with me, not in a channel.';
export const EXCHANGE_WITHOUT_TOKEN = 'The token exchange carried no token.';
export const SIGN_IN_NOT_SET_UP = 'Sign-in is not set up in this deployment.';

/** The title and lines above a list of environments to pick from. */
export interface ListText {
  title: string;
  lines: string[];
}

/** `environments [words]` (or its audit variant) found nothing: why, and what to do. */
export function noEnvironmentListed(words: string): ListText {
  return {
    title: 'No environment found',
    lines: [
      words
        ? `No environment you can see matches "${words}".`
        : 'You cannot see any environment: ask a Power Platform administrator for access.',
    ],
  };
}

/** A page of `environments [words]`: which part of the list it is, and what a button does. */
export function environmentsListed(
  purpose: 'elevate' | 'audit',
  words: string,
  range: { first: number; last: number; total: number },
): ListText {
  const shown = `${range.first}–${range.last} of ${range.total}`;
  return {
    title:
      purpose === 'audit' ? 'Which environment do you want the audit of?' : 'Your environments',
    lines: [
      words
        ? `Environments you can see matching "${words}": ${shown}.`
        : `Environments you can see: ${shown}.`,
      purpose === 'audit'
        ? 'Press one to read its audit.'
        : 'Press one to elevate yourself in it (you confirm on the next card).',
    ],
  };
}

/** `audit <words>` matched several environments (no title: the picker's own), or none. */
export function auditPickerText(
  found: 'ambiguous' | 'close' | 'none',
  query: string,
): { title?: string; lines: string[] } {
  switch (found) {
    case 'ambiguous':
      return { lines: [`Which one did you mean by "${query}"? Press one to read its audit.`] };
    case 'close':
      return {
        title: 'Did you mean one of these?',
        lines: [`No environment you can see is called "${query}". Press one to read its audit.`],
      };
    case 'none':
      return {
        title: 'No environment found',
        lines: [`No environment you can see matches "${query}".`],
      };
  }
}

/**
 * The title of a `history` or `audit` page, and what it says when empty; `page` is the newest
 * one, or one a Newer or Older button asked for.
 */
export function requestPageText(
  of: 'history' | 'audit',
  page: 'newest' | 'newer' | 'older',
): { title: string; empty: string } {
  const newest = page === 'newest';
  const empty = newest ? undefined : page === 'newer' ? 'Nothing newer.' : 'Nothing older.';
  return of === 'history'
    ? {
        title: newest ? 'Your recent elevations' : 'Your earlier elevations',
        empty: empty ?? 'You have not asked me for any elevation yet.',
      }
    : {
        title: newest
          ? 'Recent elevations in the environment'
          : 'Earlier elevations in the environment',
        empty: empty ?? 'Nobody has asked me for an elevation in this environment.',
      };
}

/** Someone other than the requester pressed Elevate or Cancel. */
export function notRequester(requesterName: string): string {
  return `Only ${requesterName} can confirm or cancel this request.`;
}

/** Someone other than the requester pressed Try again. */
export function notYourFailure(requesterName: string): string {
  return `Only ${requesterName} can try this again. To elevate yourself, ask me yourself.`;
}

/** A token carried by a card action was refused (shown to the clicker). */
export function signInRefusedOnClick(message: string): string {
  return `Could not sign you in: ${message}`;
}

/** A token exchange was refused (told in the chat). */
export function signInRefusedInChat(message: string): string {
  return `I could not sign you in: ${message}`;
}

/** Cancel on a picker. */
export const PICKER_CLOSED: NoticeOptions = {
  title: 'Cancelled',
  lines: ['You picked no environment, so nothing was changed.'],
};

/** A message the bot did not understand, and no command close to it. */
export function notUnderstood(typed: string, audience: Audience): NoticeOptions {
  return {
    title: 'I did not understand that',
    lines: [`You wrote: "${typed}"`, ...helpLines(plainText(audience)).filter(Boolean)],
  };
}

const REFUSED_TITLE = 'Sorry, you cannot do that';

/** `audit <environment>` from someone who is not a bot administrator. */
export function auditNotAllowed(admins: { names: string[]; unnamed: number }): NoticeOptions {
  return {
    title: REFUSED_TITLE,
    lines: [
      "Only the bot's administrators can read the audit of an environment, and you are not one of them. Your attempt was recorded.",
      whoAreTheAdmins(admins),
      'Write “history” in our personal chat for your own elevations.',
    ],
    color: 'Warning',
  };
}

/** A page button of an audit card, pressed by someone who is not a bot administrator. */
export function auditPageNotAllowed(admins: { names: string[]; unnamed: number }): string {
  return `Only the bot's administrators can read the audit of an environment. ${whoAreTheAdmins(admins)}`;
}

/** `notify ...` outside a team channel. */
export const NOTIFY_IN_CHANNELS: NoticeOptions = {
  title: 'Notifications go to team channels',
  lines: [
    'Write "@Elevation notify here" in the channel of a team that should get a card for each elevation.',
  ],
};

const REFUSALS_POSTED =
  'Attempts by users without a tenant admin role are posted too, whatever the filter.';

/** `notify here` or `notify off` from someone who is not a bot administrator. */
export function notifyNotAllowed(
  f: TextFormat,
  admins: { names: string[]; unnamed: number },
): NoticeOptions {
  return {
    title: REFUSED_TITLE,
    lines: [
      "Only the bot's administrators can change this channel's notifications, and you are not one of them. Your attempt was recorded.",
      whoAreTheAdmins(admins),
      `Write ${f.command('notify status')} to see what this channel receives.`,
    ],
    color: 'Warning',
  };
}

/** `notify here for ...` with a filter the bot could not read. */
export function notifyBadFilter(f: TextFormat, problem: string): NoticeOptions {
  return { title: 'Nothing changed', lines: [problem, notifyUsage(f)], color: 'Warning' };
}

/** `notify here` done. */
export function subscribed(
  f: TextFormat,
  result: Extract<SubscribeResult, { kind: 'subscribed' }>,
): NoticeOptions {
  return {
    title: result.replaced ? '🔔 Subscription updated' : '🔔 Subscribed',
    lines: [
      `This channel now gets a card for ${describeFilter(result.subscription.filter)}: who, where, the justification, the outcome and its correlation id, for failures too.`,
      ...(result.closeToType ? [nameNotType(f, result.closeToType)] : []),
      REFUSALS_POSTED,
      `Write ${f.command('notify off')} to stop.`,
    ],
    color: 'Good',
  };
}

/** `notify off` done, or nothing to stop. */
export function unsubscribed(kind: 'unsubscribed' | 'not-subscribed'): NoticeOptions {
  return kind === 'unsubscribed'
    ? {
        title: '🔕 Unsubscribed',
        lines: ['This channel no longer gets elevation notifications.'],
      }
    : { title: 'Nothing to stop', lines: ['This channel was not subscribed; nothing changed.'] };
}

/** `notify status`: what the channel receives, and whether the asker may change it. */
export function notifyStatus(
  f: TextFormat,
  subscription: ChannelSubscription | undefined,
  mayChange: boolean,
): NoticeOptions {
  const who = mayChange
    ? `You can change this with ${f.command('notify here')} or ${f.command('notify off')}.`
    : "Only the bot's administrators can change this.";
  return {
    title: subscription ? '🔔 This channel is subscribed' : 'This channel is not subscribed',
    lines: subscription
      ? [
          `It gets a card for ${describeFilter(subscription.filter)}.`,
          REFUSALS_POSTED,
          `Subscribed by ${subscription.createdBy.name} on ${subscription.createdAt.slice(0, 10)}.`,
          who,
        ]
      : ['It gets no elevation notifications.', who],
  };
}

/** Why a duration was refused, naming the maximum. */
export function durationRefusedText(maxMinutes: number): string {
  return `An elevation lasts at most ${formatMinutes(maxMinutes)} (ELEVATION_MAX_MINUTES). Ask again for ${formatMinutes(maxMinutes)} or less, for example: elevate me in <environment> for 1h`;
}

/** Every request result other than a confirmation, as a card. */
export function requestResultCard(
  result: Exclude<RequestResult, { kind: 'confirm' }>,
  requester: Requester,
): AdaptiveCard {
  switch (result.kind) {
    case 'ambiguous':
      return pickCard({ ...result, requesterId: requester.aadObjectId });
    case 'not-found':
      // Never a dead end: the closest names to pick from, and the whole list to look through.
      return pickCard({
        query: result.query,
        minutes: result.minutes,
        candidates: result.suggestions,
        total: result.suggestions.length,
        requesterId: requester.aadObjectId,
        offerEnvironments: { purpose: 'elevate' },
        ...(result.suggestions.length > 0
          ? {
              title: 'Did you mean one of these?',
              lines: [`No environment you can see is called "${result.query}".`],
            }
          : {
              title: 'No environment found',
              lines: [
                `No environment you can see matches "${result.query}".`,
                'Show your environments to pick one, or search them by writing: environments <words>',
              ],
            }),
      });
    case 'no-dataverse':
      return noticeCard({
        title: 'This environment has no Dataverse',
        lines: [
          `${result.environment.displayName} (${result.environment.id}) has no Dataverse database, so there is no System Administrator role to receive. Add Dataverse to it first, or pick another environment.`,
        ],
        color: 'Warning',
      });
    case 'environment-disabled':
      return noticeCard({
        title: 'This environment is not available',
        lines: [
          `${result.environment.displayName} (${result.environment.id}) is in state "${result.environment.state}". Elevation is only possible in an enabled environment.`,
        ],
        color: 'Warning',
      });
    case 'duration-refused':
      return noticeCard({
        title: 'That is longer than allowed',
        lines: [result.problem ?? durationRefusedText(result.maxMinutes)],
        color: 'Warning',
      });
    case 'policy-refused':
      return noticeCard({
        title:
          result.because === 'rate-limit'
            ? `Refused: too many elevations (rule '${result.rule}')`
            : `Refused: outside the allowed hours (rule '${result.rule}')`,
        lines: [
          `${result.environment.displayName} (${result.environment.id}): ${result.text}`,
          `What to do: ${result.nextStep}`,
        ],
        color: 'Attention',
      });
    case 'no-token':
      return noticeCard({
        title: describeRefusal(result.reason),
        lines: [result.message],
        color: result.reason === 'sign-in-required' ? 'Warning' : 'Attention',
      });
    case 'listing-failed': {
      const { failure } = result;
      const lines = [failure.message];
      if (failure.response.status || failure.response.attempts > 1)
        lines.push(`HTTP status: ${describeStatus(failure)}`);
      lines.push(`Correlation id: ${failure.response.correlationId ?? 'none returned by the API'}`);
      return noticeCard({ title: 'Could not list your environments', lines, color: 'Attention' });
    }
  }
}

/**
 * The outcome as a plain chat message (kept in the conversation's history), with the ids to quote;
 * in a group chat told in the third person ("Alex Wilber is now System Administrator in ...").
 */
export function outcomeMessage(
  request: ElevationRequest,
  options: { timeZone?: string } = {},
): Partial<Activity> | undefined {
  if (!request.outcome) return undefined;
  const outcome = request.outcome;
  const text = describeOutcome(outcome, outcomeReader(request));
  const correlationId = outcome.response.correlationId ?? 'none returned by the API';
  const lines = [
    `${outcome.ok ? '✅' : '❌'} ${text.headline} in ${request.environment.displayName}.`,
    // A time-boxed grant says when it ends, in place of "the role stays until it is removed".
    ...(outcome.ok && request.timeBox?.phase === 'active'
      ? [
          `Until ${clockIn(request.timeBox.endsAt, options.timeZone ?? request.requester.timeZone, request.timeBox.grantedAt)}: then the role is removed again.`,
        ]
      : []),
    // Each id on a line of its own, so that it can be copied whole.
    `Correlation id: ${correlationId}`,
  ];
  if (!outcome.ok && outcome.kind === 'interrupted') {
    lines.push(`Client request id: ${outcome.response.clientRequestId}`);
  }
  return { type: 'message', textFormat: 'plain', text: lines.join('\n\n') };
}

/**
 * The end of a time-boxed elevation as a plain chat message (kept in the conversation's history):
 * what happened, why, and what to do when the user must act; Dataverse's request id is in the
 * explanation. `nextAttempt`: when the bot tries again, as the user's clock says it.
 */
export function removalMessage(
  request: ElevationRequest,
  ending: RemovalEnding,
  options: { early?: boolean; nextAttempt?: string } = {},
): Partial<Activity> {
  const text = describeRemoval(ending, {
    environmentName: request.environment.displayName,
    early: options.early,
    reader: outcomeReader(request),
    nextAttempt: options.nextAttempt,
  });
  const lines = [`${ENDING_LOOK[ending.kind].icon} ${text.headline}.`, text.explanation];
  if (text.nextStep)
    lines.push(`${text.settled ? 'Good to know' : 'What to do'}: ${text.nextStep}`);
  return { type: 'message', textFormat: 'plain', text: lines.join('\n\n') };
}
