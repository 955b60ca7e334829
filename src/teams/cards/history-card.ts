/** `history` and `audit` pages: a few requests by outcome time, newest first, with Newer / Older. */
import { Template } from 'adaptivecards-templating';
import { type ElevationRequest, outcomeTime } from '../../elevation/request';
import { describeOutcome } from '../../elevation/outcome-text';
import { type AdaptiveCard, fill } from './card-template';
import { closedLook, readableTime, requesterText, STATE_LOOK } from './request-look';
import historyTemplate from './templates/history.json';

const template = new Template(historyTemplate);

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
  return fill(template, {
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
