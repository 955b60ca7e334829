/**
 * The environment picker's own answers: its Cancel, and the picker `audit <env>` shows when the
 * words match several environments or none (the same card as for elevation, whose buttons open
 * the audit instead; `audit-page` checks the bot-admin rule again on every click).
 */
import type { AdaptiveCardInvokeResponse } from 'botbuilder';
import type { Environment } from '../elevation/vocabulary';
import type { Requester } from '../elevation/request';
import { mayClosePicker } from '../elevation/who-may';
import { field } from './action-data';
import type { AdaptiveCard } from './cards/card-template';
import { pickCard } from './cards/pick-card';
import {
  auditPickerText,
  cardResponse,
  messageResponse,
  NOT_YOUR_LIST,
  PICKER_CLOSED,
} from './replies';
import { noticeCard } from './cards/notice-card';

/** Cancel on a picker: closes it for the person who asked; anyone else is told so. */
export function pickCancelResponse(clicker: Requester, data: unknown): AdaptiveCardInvokeResponse {
  if (!mayClosePicker(clicker, field(data, 'requesterId'))) return messageResponse(NOT_YOUR_LIST);
  return cardResponse(noticeCard(PICKER_CLOSED));
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
      ...auditPickerText('ambiguous', found.query),
    });
  }
  return pickCard({
    ...common,
    candidates: found.suggestions,
    total: found.suggestions.length,
    offerEnvironments: { purpose: 'audit' },
    ...auditPickerText(found.suggestions.length > 0 ? 'close' : 'none', found.query),
  });
}
