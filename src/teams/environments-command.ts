/**
 * `environments [words]`: the environments the user can see, listed with their own token (like
 * elevation), narrowed by the words, a page at a time, each with a button that opens its
 * confirmation card (or, from `audit`, its audit). Also the way out of a name that matched nothing.
 */
import type { AdaptiveCardInvokeResponse } from 'botbuilder';
import { CardFactory, type TurnContext } from 'botbuilder';
import type { ElevationService, RequestResult } from '../elevation/elevation-service';
import { searchEnvironments } from '../elevation/environment-search';
import type { Requester } from '../elevation/request';
import type { AdaptiveCard } from './cards/card-template';
import { pickCard } from './cards/pick-card';
import { field } from './action-data';
import {
  cardResponse,
  ENVIRONMENTS_ELSEWHERE,
  environmentsListed,
  signInFirst,
  noEnvironmentListed,
  requestResultCard,
} from './replies';
import type { SignInPromptOptions } from './sign-in-prompt';

/** Environments per page: each gets a button, and a card holds five of them comfortably. */
export const ENVIRONMENTS_PAGE_SIZE = 5;

/** What the list's buttons do: elevate (`environments`, "elevate me in ...") or read the audit. */
export type ListPurpose = 'elevate' | 'audit';

export interface EnvironmentsPage {
  words: string;
  /** Index of the first environment shown. */
  offset: number;
  purpose: ListPurpose;
}

type Failure = Exclude<RequestResult, { kind: 'confirm' }>;

/** One page of the list as a card, or why the list could not be read. */
export async function environmentsCard(
  service: ElevationService,
  requester: Requester,
  page: EnvironmentsPage,
): Promise<{ kind: 'card'; card: AdaptiveCard } | { kind: 'failed'; result: Failure }> {
  const listed = await service.environmentsVisibleTo(requester);
  if (listed.kind !== 'ok') return { kind: 'failed', result: listed };
  const matching = searchEnvironments(listed.environments, page.words);
  const requesterId = requester.aadObjectId;
  if (matching.length === 0) {
    return {
      kind: 'card',
      card: pickCard({
        ...noEnvironmentListed(page.words),
        query: page.words,
        candidates: [],
        total: 0,
        requesterId,
        offerEnvironments: page.words ? { purpose: page.purpose } : undefined,
      }),
    };
  }
  // A page past the end (the list shrank since the card was sent) shows the last one.
  const lastOffset =
    Math.floor((matching.length - 1) / ENVIRONMENTS_PAGE_SIZE) * ENVIRONMENTS_PAGE_SIZE;
  const offset = Math.min(Math.max(0, page.offset), lastOffset);
  const shown = matching.slice(offset, offset + ENVIRONMENTS_PAGE_SIZE);
  const at = (from: number): Record<string, string> => ({
    words: page.words,
    offset: String(from),
    purpose: page.purpose,
    requesterId,
  });
  return {
    kind: 'card',
    card: pickCard({
      ...environmentsListed(page.purpose, page.words, {
        first: offset + 1,
        last: offset + shown.length,
        total: matching.length,
      }),
      query: page.words,
      candidates: shown,
      total: shown.length,
      requesterId,
      verb: page.purpose === 'audit' ? 'audit-page' : 'pick',
      // The request records what was picked: the display name, as if typed.
      data: (environment): Record<string, string> =>
        page.purpose === 'audit' ? {} : { query: environment.displayName, requesterId },
      pages: {
        previous: offset > 0 ? at(Math.max(0, offset - ENVIRONMENTS_PAGE_SIZE)) : undefined,
        next:
          offset + shown.length < matching.length ? at(offset + ENVIRONMENTS_PAGE_SIZE) : undefined,
      },
    }),
  };
}

/**
 * The `environments` message. A failure (sign-in needed, listing failed) goes to `onFailure`, the
 * bot's one way of answering those (it remembers the command until the sign-in arrives).
 */
export async function showEnvironments(
  context: TurnContext,
  service: ElevationService,
  requester: Requester,
  words: string,
  onFailure: (result: Failure) => Promise<void>,
): Promise<void> {
  if (context.activity.conversation?.conversationType === 'channel') {
    // Listing needs the user's sign-in, which Teams does not give in channels.
    await context.sendActivity(ENVIRONMENTS_ELSEWHERE);
    return;
  }
  if (!service.hasFreshEnvironments(requester)) await context.sendActivity({ type: 'typing' });
  const answer = await environmentsCard(service, requester, {
    words,
    offset: 0,
    purpose: 'elevate',
  });
  if (answer.kind === 'failed') {
    await onFailure(answer.result);
    return;
  }
  await context.sendActivity({ attachments: [CardFactory.adaptiveCard(answer.card)] });
}

/**
 * Previous / Next / "Show my environments": the page for the clicker, from their own list (whoever's
 * card it was). Sign-in expired: Teams signs them in and retries (loginRequest).
 */
export async function environmentsPageResponse(
  service: ElevationService,
  clicker: Requester,
  data: unknown,
  signInPrompt: SignInPromptOptions | undefined,
): Promise<AdaptiveCardInvokeResponse> {
  const offset = Number.parseInt(field(data, 'offset') ?? '0', 10);
  const answer = await environmentsCard(service, clicker, {
    words: (field(data, 'words') ?? '').slice(0, 200),
    offset: Number.isFinite(offset) ? offset : 0,
    purpose: field(data, 'purpose') === 'audit' ? 'audit' : 'elevate',
  });
  if (answer.kind === 'card') return cardResponse(answer.card);
  const { result } = answer;
  return signInFirst(result, signInPrompt) ?? cardResponse(requestResultCard(result, clicker));
}
