/**
 * `history` (the user's own elevations) and `audit <environment>` (an environment's, for the
 * bot's administrators), and the Newer / Older buttons of their cards, where the rules are
 * checked again on every click. The pages themselves are drawn by request-pages.ts.
 */
import { type AdaptiveCardInvokeResponse, CardFactory, type TurnContext } from 'botbuilder';
import type { Requester } from '../elevation/request';
import { mayReadAudit } from '../elevation/who-may';
import type { BotParts } from './bot-options';
import { auditPickerCard } from './environment-picker';
import { auditElsewhere, audienceOf } from './hints';
import {
  auditNotAllowed,
  auditPageNotAllowed,
  CARD_WITHOUT_ENVIRONMENT,
  cardResponse,
  HISTORY_ELSEWHERE,
  messageResponse,
  noticeActivity,
} from './replies';
import { auditPage, historyPage, pageRequested } from './request-pages';
import { sendRequestResult } from './request-answers';
import { field } from './action-data';

/** `history`: the user's own elevations, newest first, in the personal chat only. */
export async function historyCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
): Promise<void> {
  if (context.activity.conversation?.conversationType !== 'personal') {
    await context.sendActivity(HISTORY_ELSEWHERE);
    return;
  }
  await context.sendActivity({
    attachments: [CardFactory.adaptiveCard(await historyPage(bot.service, requester, {}))],
  });
}

/**
 * `audit <environment>`: recent elevations in an environment, for the bot's administrators only
 * (BOT_ADMIN_IDS). Needs the user's sign-in to resolve the name, so not in channels.
 */
export async function auditCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
  target: string,
  commandText: string,
): Promise<void> {
  const { subscriptions, service } = bot;
  if (!mayReadAudit(requester, bot.botAdminIds)) {
    await subscriptions.refuse(requester, undefined, 'audit');
    await context.sendActivity(noticeActivity(auditNotAllowed(await subscriptions.adminNames())));
    return;
  }
  if (context.activity.conversation?.conversationType === 'channel') {
    await context.sendActivity(auditElsewhere(audienceOf(context)));
    return;
  }
  await context.sendActivity({ type: 'typing' });
  const found = await service.findEnvironment(requester, target);
  if (found.kind === 'found') {
    await context.sendActivity({
      attachments: [
        CardFactory.adaptiveCard(await auditPage(service, requester, found.environment.id, {})),
      ],
    });
    return;
  }
  if (found.kind === 'ambiguous' || found.kind === 'not-found') {
    // Its buttons open the audit (audit-page, the admin rule checked again), never a request.
    await context.sendActivity({
      attachments: [CardFactory.adaptiveCard(auditPickerCard(found, requester))],
    });
    return;
  }
  await sendRequestResult(bot, context, requester, found, commandText);
}

/** "Newer" or "Older" on a history or audit card: that page, with the rules checked again. */
export async function pageAction(
  bot: BotParts,
  clicker: Requester,
  verb: 'history-page' | 'audit-page',
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  const page = pageRequested(data);
  if (verb === 'history-page') {
    // Always the clicker's own history, whoever's card the button was on.
    return cardResponse(await historyPage(bot.service, clicker, page));
  }
  if (!mayReadAudit(clicker, bot.botAdminIds)) {
    await bot.subscriptions.refuse(clicker, undefined, 'audit');
    return messageResponse(auditPageNotAllowed(await bot.subscriptions.adminNames()));
  }
  const environmentId = field(data, 'environmentId');
  if (!environmentId) return messageResponse(CARD_WITHOUT_ENVIRONMENT);
  return cardResponse(await auditPage(bot.service, clicker, environmentId, page));
}
