/**
 * The environment picker's own answers: its Cancel, and the picker `audit <env>` shows when the
 * words match several environments or none (the same card as for elevation, whose buttons open
 * the audit instead; `audit-page` checks the bot-admin rule again on every click).
 */
import type { AdaptiveCardInvokeResponse } from 'botbuilder';
import type { Environment } from '../elevation/vocabulary';
import type { Requester } from '../elevation/request';
import { type AdaptiveCard, noticeCard, pickCard } from './cards/cards';
import { cardResponse, messageResponse } from './replies';

/** Cancel on a picker: closes it for the person who asked; anyone else is told so. */
export function pickCancelResponse(clicker: Requester, data: unknown): AdaptiveCardInvokeResponse {
  const requesterId =
    data && typeof data === 'object' ? (data as Record<string, unknown>).requesterId : undefined;
  if (
    typeof requesterId === 'string' &&
    requesterId.toLowerCase() !== clicker.aadObjectId.toLowerCase()
  ) {
    return messageResponse('Only the person who asked can close this list.');
  }
  return cardResponse(
    noticeCard({
      title: 'Cancelled',
      lines: ['You picked no environment, so nothing was changed.'],
    }),
  );
}

/** `audit <env>` matched several environments, or none: pick one to read its audit. */
export function auditPickerCard(
  found:
    | { kind: 'ambiguous'; query: string; candidates: Environment[]; total: number }
    | { kind: 'not-found'; query: string; suggestions: Environment[] },
  requester: Requester,
): AdaptiveCard {
  const common = {
    query: found.query,
    requesterId: requester.aadObjectId,
    verb: 'audit-page' as const,
    data: () => ({}),
  };
  if (found.kind === 'ambiguous') {
    return pickCard({
      ...common,
      candidates: found.candidates,
      total: found.total,
      lines: [`Which one did you mean by "${found.query}"? Press one to read its audit.`],
    });
  }
  return pickCard({
    ...common,
    candidates: found.suggestions,
    total: found.suggestions.length,
    offerEnvironments: { purpose: 'audit' },
    ...(found.suggestions.length > 0
      ? {
          title: 'Did you mean one of these?',
          lines: [
            `No environment you can see is called "${found.query}". Press one to read its audit.`,
          ],
        }
      : {
          title: 'No environment found',
          lines: [`No environment you can see matches "${found.query}".`],
        }),
  });
}
