/**
 * `notify here [for ...]`, `notify off`, `notify status`: a team channel's subscription to the
 * elevation notifications, through SubscriptionService (which decides and audits); only in a
 * channel.
 */
import type { TurnContext } from 'botbuilder';
import type { NotifyAction } from '../elevation/command';
import type { Requester } from '../elevation/request';
import { mayChangeNotifications } from '../elevation/who-may';
import type { BotParts } from './bot-options';
import { channelIdOf, referenceFor } from './conversation-tracker';
import { audienceOf, plainText } from './hints';
import {
  NOTIFY_IN_CHANNELS,
  noticeActivity,
  notifyBadFilter,
  notifyNotAllowed,
  notifyStatus,
  subscribed,
  unsubscribed,
} from './replies';

export async function notifyCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
  action: NotifyAction,
  filter: string | undefined,
): Promise<void> {
  const channelId = channelIdOf(context);
  if (!channelId) {
    await context.sendActivity(noticeActivity(NOTIFY_IN_CHANNELS));
    return;
  }
  const { subscriptions } = bot;
  const channel = {
    channelId,
    tenantId: requester.tenantId,
    teamId: (context.activity.channelData as { team?: { id?: string } } | undefined)?.team?.id,
    reference: referenceFor(context, channelId),
  };
  const f = plainText(audienceOf(context));
  switch (action) {
    case 'here': {
      const result = await subscriptions.subscribe(requester, channel, filter);
      const reply =
        result.kind === 'not-allowed'
          ? notifyNotAllowed(f, await subscriptions.adminNames())
          : result.kind === 'bad-filter'
            ? notifyBadFilter(f, result.problem)
            : subscribed(f, result);
      await context.sendActivity(noticeActivity(reply));
      return;
    }
    case 'off': {
      const result = await subscriptions.unsubscribe(requester, channel);
      const reply =
        result.kind === 'not-allowed'
          ? notifyNotAllowed(f, await subscriptions.adminNames())
          : unsubscribed(result.kind);
      await context.sendActivity(noticeActivity(reply));
      return;
    }
    case 'status': {
      const subscription = await subscriptions.status(channelId);
      const mayChange = mayChangeNotifications(requester, bot.botAdminIds);
      await context.sendActivity(noticeActivity(notifyStatus(f, subscription, mayChange)));
      return;
    }
  }
}
