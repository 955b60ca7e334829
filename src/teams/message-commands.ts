/**
 * A message from a user: who wrote it (and whether their organisation may use the bot), then the
 * command it holds, each handed to the use case that does it. A command that waited for a sign-in
 * comes back here through runCommand.
 */
import { TurnContext } from 'botbuilder';
import { parseCommand } from '../elevation/command';
import type { Requester } from '../elevation/request';
import { tenantAllowed } from '../elevation/who-may';
import type { BotParts } from './bot-options';
import { suggestCommand } from './command-suggestion';
import { showEnvironments } from './environments-command';
import { auditCommand, historyCommand } from './history-audit-commands';
import {
  audienceOf,
  elevateElsewhere,
  helpText,
  markdown,
  tooLong,
  whichEnvironment,
} from './hints';
import { notifyCommand } from './notify-command';
import { policyCommand, policyForCommand } from './policy-command';
import { NOT_A_TEAMS_USER, noticeActivity, notUnderstood, TENANT_NOT_ALLOWED } from './replies';
import { requesterOf } from './requester-of';
import { sendRequestResult } from './request-answers';
import { doneCommand, elevationsCommand, whoIsElevatedCommand } from './time-box-actions';

export async function handleMessage(bot: BotParts, context: TurnContext): Promise<void> {
  const requester = requesterOf(context);
  if (!requester) {
    await context.sendActivity(NOT_A_TEAMS_USER);
    return;
  }
  if (!tenantAllowed(requester, bot.allowedTenantIds)) {
    bot.logger.warn('message from a tenant that is not allowed', {
      tenantId: requester.tenantId,
    });
    await context.sendActivity(TENANT_NOT_ALLOWED);
    return;
  }
  const text = TurnContext.removeRecipientMention(context.activity) ?? context.activity.text ?? '';
  await runCommand(bot, context, requester, text);
}

/** One command, from a message or, after sign-in, from the pending list. */
export async function runCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
  text: string,
): Promise<void> {
  const command = parseCommand(text);
  const audience = audienceOf(context);
  switch (command.kind) {
    case 'help':
      await context.sendActivity(helpText(audience));
      return;
    case 'elevate-missing-target':
      await context.sendActivity(whichEnvironment(markdown(audience), 'elevate me in'));
      return;
    case 'too-long':
      await context.sendActivity(tooLong(markdown(audience), command.length));
      return;
    case 'elevate':
      if (context.activity.conversation?.conversationType === 'channel') {
        // Teams SSO does not work in channels, and a confirmation card there would be public.
        await context.sendActivity(elevateElsewhere(audience));
        return;
      }
      // Listing a large tenant's environments can take a moment: show that something happens
      // (not when the list is cached: the answer comes at once, and typing costs a round trip).
      if (!bot.service.hasFreshEnvironments(requester)) {
        await context.sendActivity({ type: 'typing' });
      }
      await sendRequestResult(
        bot,
        context,
        requester,
        await bot.service.requestElevation(requester, command.target, command.minutes),
        text,
      );
      return;
    case 'notify':
      await notifyCommand(bot, context, requester, command.action, command.filter);
      return;
    case 'history':
      await historyCommand(bot, context, requester);
      return;
    case 'audit':
      await auditCommand(bot, context, requester, command.target, text);
      return;
    case 'audit-missing-target':
      await context.sendActivity(whichEnvironment(markdown(audience), 'audit'));
      return;
    case 'done':
      await doneCommand(bot, context, requester, command.target, text);
      return;
    case 'elevations':
      await elevationsCommand(bot, context, requester);
      return;
    case 'who-is-elevated':
      await whoIsElevatedCommand(bot, context, requester);
      return;
    case 'policy':
      if (command.target === undefined) await policyCommand(bot, context, requester);
      else await policyForCommand(bot, context, requester, command.target, text);
      return;
    case 'environments':
      await showEnvironments(context, bot.service, requester, command.words, (failed) =>
        sendRequestResult(bot, context, requester, failed, text),
      );
      return;
    default:
      if (command.kind === 'unknown' && command.suggestion) {
        await suggestCommand(context, command.text, command.suggestion, requester.aadObjectId);
        return;
      }
      await context.sendActivity(
        noticeActivity(
          notUnderstood(command.kind === 'unknown' ? command.text : text.slice(0, 100), audience),
        ),
      );
  }
}
