/**
 * What a user does with an elevation once granted: the buttons I'm done, Remove now and Extend
 * (on its card, its reminder and the `elevations` list), and the commands `done`, `I'm done in
 * <environment>`, `elevations` and `who is elevated`. The use case (time-boxes.ts) decides; this
 * turns its result into the card or message the user sees, and keeps the elevation's own card up
 * to date for everyone.
 */
import { type AdaptiveCardInvokeResponse, TurnContext } from 'botbuilder';
import type { ElevationRequest, Requester } from '../elevation/request';
import type { EndNowResult, TimeBoxService } from '../elevation/time-boxes';
import { mayListTenantElevations } from '../elevation/who-may';
import { TIMED_OUT, within } from '../support/within';
import { field } from './action-data';
import type { BotParts } from './bot-options';
import { requestStatusCard } from './cards/request-cards';
import {
  CARD_WITHOUT_REQUEST,
  cardResponse,
  loginRequest,
  messageResponse,
  noticeActivity,
  notRequester,
  UNKNOWN_REQUEST,
} from './replies';
import { showRequestStatus } from './show-request-status';
import { signInCard } from './sign-in-prompt';
import { audienceOf, timeBoxElsewhere } from './hints';
import {
  elevationsActivity,
  endedActivity,
  endNowRefusal,
  extendRefusal,
  noActiveElevation,
  TIME_BOXES_OFF,
  whichElevation,
  whoIsElevatedActivity,
  whoIsElevatedNotAllowed,
} from './time-box-views';

/** The time box of `bot`, or undefined where time-boxing is off. */
function timeBoxesOf(bot: BotParts): TimeBoxService | undefined {
  return bot.timeBoxes;
}

/**
 * The time box of `bot` for a command, or undefined once the user was told why not: time-boxing
 * is off, or the command was written in a channel (public, and without sign-in).
 */
async function timeBoxesFor(
  bot: BotParts,
  context: TurnContext,
  command: string,
): Promise<TimeBoxService | undefined> {
  if (!bot.timeBoxes) {
    await context.sendActivity(TIME_BOXES_OFF);
    return undefined;
  }
  if (context.activity.conversation?.conversationType === 'channel') {
    await context.sendActivity(timeBoxElsewhere(audienceOf(context), command));
    return undefined;
  }
  return bot.timeBoxes;
}

/** I'm done (active) or Remove now (overdue), pressed on any card of the elevation. */
export async function endNowAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  const timeBoxes = timeBoxesOf(bot);
  if (!timeBoxes) return messageResponse(TIME_BOXES_OFF);
  const requestId = field(data, 'requestId');
  if (!requestId) return messageResponse(CARD_WITHOUT_REQUEST);
  const ending = timeBoxes.endNow({ requestId, clicker });
  const result = await within(ending, bot.invokeBudgetMs);
  if (result === TIMED_OUT) {
    // Dataverse is slow: answer Teams now, and tell the outcome in the chat when it is in.
    const reference = TurnContext.getConversationReference(context.activity);
    ending
      .then((late) =>
        bot.continueInConversation(reference, (turn) => tellEnded(turn, late, undefined)),
      )
      .catch((error) => bot.logger.error('could not finish a slow removal', { requestId, error }));
    return messageResponse('Removing the role now; I will tell you here when Dataverse answers.');
  }
  return endNowResponse(bot, context, result);
}

async function endNowResponse(
  bot: BotParts,
  context: TurnContext,
  result: EndNowResult,
): Promise<AdaptiveCardInvokeResponse> {
  switch (result.kind) {
    case 'unknown-request':
      return messageResponse(UNKNOWN_REQUEST);
    case 'not-requester':
      return messageResponse(notRequester(result.request.requester.name));
    case 'sign-in-required':
      // Teams signs the user in and sends the same action again, with the token.
      return bot.signIn ? loginRequest(bot.signInPrompt) : messageResponse(endNowRefusal(result));
    case 'not-active':
    case 'in-progress':
      return messageResponse(endNowRefusal(result));
    case 'ended': {
      const { request } = result.event;
      await tellEnded(context, result, context.activity.replyToId);
      return cardResponse(
        requestStatusCard(request, { extendMinutes: timeBoxesOf(bot)?.settings.defaultMinutes }),
      );
    }
  }
}

/**
 * The outcome of an early end, in the chat; the elevation's own card too when the click came from
 * another card (the reminder, the list): `clickedMessageId` is replaced by the invoke's answer.
 */
async function tellEnded(
  context: TurnContext,
  result: EndNowResult,
  clickedMessageId: string | undefined,
): Promise<void> {
  if (result.kind !== 'ended') {
    await context.sendActivity(endNowRefusal(result));
    return;
  }
  const { request } = result.event;
  if (request.cardMessageId && request.cardMessageId !== clickedMessageId)
    // Ended: its card has no Extend to name.
    await showRequestStatus(context, request.cardMessageId, request).catch(() => undefined);
  await context.sendActivity(endedActivity(result.event));
}

/** Extend, with its justification, on the elevation's card or its reminder. */
export async function extendAction(
  bot: BotParts,
  context: TurnContext,
  clicker: Requester,
  data: unknown,
): Promise<AdaptiveCardInvokeResponse> {
  const timeBoxes = timeBoxesOf(bot);
  if (!timeBoxes) return messageResponse(TIME_BOXES_OFF);
  const requestId = field(data, 'requestId');
  if (!requestId) return messageResponse(CARD_WITHOUT_REQUEST);
  const result = await timeBoxes.extend({
    requestId,
    clicker,
    justification: field(data, 'extendJustification'),
  });
  switch (result.kind) {
    case 'unknown-request':
      return messageResponse(UNKNOWN_REQUEST);
    case 'not-requester':
      return messageResponse(notRequester(result.request.requester.name));
    case 'extended': {
      const { request } = result;
      if (request.cardMessageId && request.cardMessageId !== context.activity.replyToId)
        // Ended: its card has no Extend to name.
        await showRequestStatus(context, request.cardMessageId, request).catch(() => undefined);
      return cardResponse(
        requestStatusCard(request, { extendMinutes: timeBoxesOf(bot)?.settings.defaultMinutes }),
      );
    }
    default:
      return messageResponse(extendRefusal(result, timeBoxes.settings));
  }
}

/** `elevations`: the user's elevations not yet ended, with the time left and their buttons. */
export async function elevationsCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
): Promise<void> {
  const timeBoxes = await timeBoxesFor(bot, context, 'elevations');
  if (!timeBoxes) return;
  const active = await timeBoxes.activeOf(requester);
  await context.sendActivity(elevationsActivity(active, requester, timeBoxes.settings));
}

/**
 * `done` / `I'm done in <environment>`: ends the one elevation meant at once. Without a name it
 * must be the only one; several: the list, to press I'm done on the right one.
 */
export async function doneCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
  target: string | undefined,
  commandText: string,
): Promise<void> {
  const timeBoxes = await timeBoxesFor(bot, context, 'done');
  if (!timeBoxes) return;
  const active = (await timeBoxes.activeOf(requester)).filter(
    (request) => request.timeBox?.phase === 'active' || request.timeBox?.phase === 'overdue',
  );
  const meant = target ? elevationsNamed(active, target) : active;
  if (meant.length === 0) {
    await context.sendActivity(noticeActivity(noActiveElevation(target, active)));
    return;
  }
  if (meant.length > 1) {
    await context.sendActivity(noticeActivity(whichElevation(target)));
    await context.sendActivity(elevationsActivity(meant, requester, timeBoxes.settings));
    return;
  }
  const result = await timeBoxes.endNow({ requestId: meant[0]!.id, clicker: requester });
  if (result.kind === 'sign-in-required' && bot.signIn) {
    // Ask Teams for the SSO token; the command continues by itself once it arrives.
    await bot.pendingCommands.remember(
      context.activity.conversation.id,
      requester.aadObjectId,
      commandText,
    );
    await context.sendActivity({ attachments: [signInCard(bot.signInPrompt)] });
    return;
  }
  await tellEnded(context, result, undefined);
}

/** `who is elevated`: every elevation not yet ended in the tenant, for the bot's administrators. */
export async function whoIsElevatedCommand(
  bot: BotParts,
  context: TurnContext,
  requester: Requester,
): Promise<void> {
  const timeBoxes = await timeBoxesFor(bot, context, 'who is elevated');
  if (!timeBoxes) return;
  if (!mayListTenantElevations(requester, bot.botAdminIds)) {
    await bot.subscriptions.refuse(requester, undefined, 'who is elevated');
    await context.sendActivity(
      noticeActivity(whoIsElevatedNotAllowed(await bot.subscriptions.adminNames())),
    );
    return;
  }
  const active = await timeBoxes.activeIn(requester.tenantId);
  await context.sendActivity(whoIsElevatedActivity(active, requester));
}

/**
 * The elevations an environment's words mean: its exact display name, id or domain name first,
 * else those whose name contains the words.
 */
function elevationsNamed(active: ElevationRequest[], words: string): ElevationRequest[] {
  const wanted = words.trim().toLowerCase();
  const exact = active.filter((request) => {
    const environment = request.environment;
    return [
      environment.displayName,
      environment.id,
      environment.domainName,
      environment.dataverseUrl,
    ]
      .filter((value): value is string => !!value)
      .some((value) => value.toLowerCase().replace(/\/+$/, '') === wanted.replace(/\/+$/, ''));
  });
  if (exact.length > 0) return exact;
  return active.filter((request) => request.environment.displayName.toLowerCase().includes(wanted));
}
