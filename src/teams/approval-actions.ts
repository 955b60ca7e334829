/**
 * The buttons of approval: Ask for approval on the requester's card, Approve and Deny on the
 * approvers' cards. The use case (approvals.ts) decides, including who may press what; this turns
 * its result into the card or message the clicker sees.
 */
import type { AdaptiveCardInvokeResponse, TurnContext } from 'botbuilder';
import type { Decision } from '../elevation/approvals';
import type { Requester } from '../elevation/request';
import { TIMED_OUT, within } from '../support/within';
import { field } from './action-data';
import type { BotParts } from './bot-options';
import { approvalStatusCard, approverCard, approversText } from './cards/approval-cards';
import { timeZoneOf } from './cards/local-time';
import { requestStatusCard } from './cards/request-cards';
import { clockTime } from './cards/request-look';
import { channelIdOf } from './conversation-tracker';
import {
  CARD_WITHOUT_REQUEST,
  cardResponse,
  messageResponse,
  notRequester,
  UNKNOWN_REQUEST,
} from './replies';
import { closeCard, confirmation, termsRefused } from './request-answers';
import { showRequestStatus } from './show-request-status';

export const APPROVAL_OFF = 'Approval is not set up on this bot.';
export const SELF_APPROVAL =
  'You asked for this elevation, so you cannot approve or deny it: another approver must decide.';
export const DENY_NEEDS_REASON = 'Give a reason to deny: the requester reads it.';

/** Ask for approval, with the justification and duration typed on the card. */
export async function askApprovalAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  if (!bot.approvals) return messageResponse(APPROVAL_OFF);
  const requestId = field(data, 'requestId');
  if (!requestId) return messageResponse(CARD_WITHOUT_REQUEST);
  const justification = field(data, 'justification');
  const minutesText = field(data, 'minutes');
  const asking = bot.approvals.ask({
    requestId,
    clicker,
    justification,
    minutes: minutesText && /^\d{1,6}$/.test(minutesText) ? Number(minutesText) : undefined,
  });
  const result = await within(asking, bot.invokeBudgetMs);
  if (result === TIMED_OUT) {
    // Teams is slow to take the approvers' cards: answer now; the card changes when they decide.
    asking.catch((error: unknown) =>
      bot.logger.error('could not finish asking for approval', { requestId, error }),
    );
    const request = await bot.service.findRequest(requestId);
    return request
      ? cardResponse(confirmation(bot, request, context))
      : messageResponse(UNKNOWN_REQUEST);
  }
  switch (result.kind) {
    case 'unknown-request':
      return messageResponse(UNKNOWN_REQUEST);
    case 'not-requester':
      return messageResponse(notRequester(result.request.requester.name));
    case 'already-asked':
      return cardResponse(requestStatusCard(result.request));
    case 'expired':
      return closeCard(bot, context, result.request);
    case 'justification-required':
    case 'duration-refused':
    case 'policy-refused':
      return termsRefused(bot, context, result, justification);
    case 'asked': {
      const { request } = result;
      const messageId = request.cardMessageId ?? context.activity.replyToId;
      // Waiting, for everyone in the conversation; the clicker also reads whom it reached.
      if (messageId)
        await showRequestStatus(context, messageId, request).catch((error: unknown) =>
          bot.logger.warn('could not update the card for everyone', { requestId, error }),
        );
      return cardResponse(
        approvalStatusCard(request, {
          reach: result.reach,
          timeZone: timeZoneOf(context.activity),
        }),
      );
    }
  }
}

/** Approve or Deny on a copy of the approvers' card. */
export async function decideAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
  decision: Decision,
): Promise<AdaptiveCardInvokeResponse> {
  if (!bot.approvals) return messageResponse(APPROVAL_OFF);
  const requestId = field(data, 'requestId');
  if (!requestId) return messageResponse(CARD_WITHOUT_REQUEST);
  const result = await bot.approvals.decide({
    requestId,
    clicker,
    decision,
    reason: field(data, 'approvalReason'),
    channelId: channelIdOf(context),
  });
  const zone = timeZoneOf(context.activity);
  switch (result.kind) {
    case 'unknown-request':
      return messageResponse(UNKNOWN_REQUEST);
    case 'no-approval':
      return messageResponse('This request needs no approval.');
    case 'self-approval':
      return messageResponse(SELF_APPROVAL);
    case 'not-approver':
      return messageResponse(
        `Only ${approversText(result.request.policy!.approval!)} can decide on this request.`,
      );
    case 'reason-required':
      return cardResponse(
        approverCard(result.request, { problem: DENY_NEEDS_REASON, timeZone: zone }),
      );
    case 'expired': {
      const approval = result.request.policy!.approval!;
      return messageResponse(
        `Too late: the approval expired${approval.expiresAt ? ` at ${clockTime(approval.expiresAt, zone)}` : ''}, so nothing was decided. ${result.request.requester.name} must ask again.`,
      );
    }
    case 'already-decided': {
      const approval = result.request.policy!.approval!;
      if (!approval.decidedBy)
        return messageResponse('This request was closed before anyone decided: nothing to decide.');
      const what = approval.status === 'approved' ? 'approved' : 'denied';
      return messageResponse(
        `${approval.decidedBy.name} already ${what} this request${approval.decidedAt ? ` at ${clockTime(approval.decidedAt, zone)}` : ''}; the first decision stands.`,
      );
    }
    case 'decided':
      return cardResponse(approverCard(result.request, { timeZone: zone }));
  }
}
