/**
 * `history` and `audit <environment>` as cards of a few requests each, by outcome time, newest
 * first, with **Newer** and **Older** buttons. A button carries the place it pages from (the
 * outcome time and id of the first or last request shown); who may see what is decided by the
 * caller, on every page.
 */
import type { ElevationService } from '../elevation/elevation-service';
import type { Page, PageCursor } from '../elevation/ports';
import { type ElevationRequest, outcomeTime, type Requester } from '../elevation/request';
import type { AdaptiveCard } from './cards/card-template';
import { field } from './action-data';
import { historyCard } from './cards/history-card';
import { requestPageText } from './replies';

/** Requests per page of `history` and `audit`. */
export const PAGE_SIZE = 5;

/** Which page a button asks for: older than a request, newer than one, or (neither) the newest. */
export type PageRequest = { before?: PageCursor; after?: PageCursor };

/** The page a Newer or Older button's data asks for; anything malformed asks for the newest. */
export function pageRequested(data: unknown): PageRequest {
  const cursor = (at?: string, id?: string): PageCursor | undefined =>
    at !== undefined && id !== undefined ? { at, id } : undefined;
  const after = cursor(field(data, 'after'), field(data, 'afterId'));
  if (after) return { after };
  const before = cursor(field(data, 'before'), field(data, 'beforeId'));
  return before ? { before } : {};
}

interface Loaded {
  shown: ElevationRequest[];
  older?: Record<string, string>;
  newer?: Record<string, string>;
}

/** One page, and the data of the buttons to the pages beside it (absent where there are none). */
async function load(
  list: (page: Page) => Promise<ElevationRequest[]>,
  requested: PageRequest,
): Promise<Loaded> {
  const found = await list({ limit: PAGE_SIZE + 1, ...requested });
  const more = found.length > PAGE_SIZE;
  // A Newer page is the PAGE_SIZE just newer than its cursor: the extra one is the newest.
  const shown = requested.after ? found.slice(more ? 1 : 0) : found.slice(0, PAGE_SIZE);
  const first = shown[0];
  const last = shown[shown.length - 1];
  const hasOlder = requested.after ? true : more;
  const hasNewer = requested.after ? more : requested.before !== undefined;
  return {
    shown,
    older: hasOlder && last ? { before: outcomeTime(last), beforeId: last.id } : undefined,
    newer: hasNewer && first ? { after: outcomeTime(first), afterId: first.id } : undefined,
  };
}

/** The newest page, or the one a Newer or Older button asked for. */
function whichPage(requested: PageRequest): 'newest' | 'newer' | 'older' {
  if (requested.after) return 'newer';
  return requested.before !== undefined ? 'older' : 'newest';
}

/** The requester's own requests. */
export async function historyPage(
  service: ElevationService,
  requester: Requester,
  requested: PageRequest,
): Promise<AdaptiveCard> {
  const page = await load((p) => service.historyOf(requester, p), requested);
  return historyCard(page.shown, {
    ...requestPageText('history', whichPage(requested)),
    showRequester: false,
    older: page.older ? { verb: 'history-page', data: page.older } : undefined,
    newer: page.newer ? { verb: 'history-page', data: page.newer } : undefined,
  });
}

/** The outcomes in an environment of the requester's tenant. */
export async function auditPage(
  service: ElevationService,
  requester: Requester,
  environmentId: string,
  requested: PageRequest,
): Promise<AdaptiveCard> {
  const page = await load((p) => service.requestsIn(requester, environmentId, p), requested);
  const environment = page.shown[0]?.environment;
  const button = (data: Record<string, string> | undefined) =>
    data ? { verb: 'audit-page', data: { environmentId, ...data } } : undefined;
  return historyCard(page.shown, {
    ...requestPageText('audit', whichPage(requested)),
    subtitle: environment ? `${environment.displayName} (${environment.id})` : environmentId,
    showRequester: true,
    older: button(page.older),
    newer: button(page.newer),
  });
}
