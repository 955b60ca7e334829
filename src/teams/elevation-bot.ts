/**
 * The bot's dispatch table: botbuilder's TeamsActivityHandler hooks, each handing the activity to
 * the small handler for it (message-commands.ts, token-exchange.ts for sign-in, card-actions.ts
 * and the other buttons' files). It decides nothing: who may do what is src/elevation/who-may.ts,
 * and every sentence is in replies.ts.
 */
import {
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
  type InvokeResponse,
  TeamsActivityHandler,
  type TurnContext,
} from 'botbuilder';
import { tenantAllowed } from '../elevation/who-may';
import type { BotParts, ElevationBotOptions } from './bot-options';
import { askApprovalAction, decideAction } from './approval-actions';
import { cancelAction, elevateAction, pickAction } from './card-actions';
import { runSuggestionResponse } from './command-suggestion';
import { pickCancelResponse } from './environment-picker';
import { environmentsPageResponse } from './environments-command';
import { pageAction } from './history-audit-commands';
import { askAgain, audienceOf, plainText } from './hints';
import { handleMessage, runCommand } from './message-commands';
import { BUTTON_NOT_SUPPORTED, messageResponse, TENANT_NOT_ALLOWED } from './replies';
import { requesterOf } from './requester-of';
import { confirmation, requestCardInPlace, signInPromptOf } from './request-answers';
import { PendingCommands } from './sign-in-prompt';
import {
  answerTokenExchange,
  answerVerifyState,
  noteSignInFailure,
  signInFromAction,
  TeamsSignIn,
} from './token-exchange';
import { tryAgain } from './try-again';
import { endNowAction, extendAction } from './time-box-actions';

export class ElevationBot extends TeamsActivityHandler {
  private readonly bot: BotParts;

  constructor(options: ElevationBotOptions) {
    super();
    this.bot = {
      ...options,
      pendingCommands: new PendingCommands(options.exchanges),
      teamsSignIn: new TeamsSignIn({
        signIn: options.signIn,
        refusals: options.signInRefusals,
        logger: options.logger,
      }),
    };
    this.onMessage(async (context, next) => {
      await handleMessage(this.bot, context);
      await next();
    });
  }

  override async run(context: TurnContext): Promise<void> {
    const requester = requesterOf(context);
    const allowed = !!requester && tenantAllowed(requester, this.bot.allowedTenantIds);
    // Conversations of organisations the bot does not serve are not remembered.
    if (!requester || allowed) await this.bot.tracker.observe(context);
    if (requester && allowed) await this.bot.subscriptions.noteAdmin(requester);
    await super.run(context);
  }

  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    switch (context.activity.name) {
      case 'signin/tokenExchange': {
        const requester = requesterOf(context);
        const allowed = !!requester && tenantAllowed(requester, this.bot.allowedTenantIds);
        return answerTokenExchange(context, requester, allowed, {
          signIn: this.bot.teamsSignIn,
          exchanges: this.bot.exchanges,
          pendingCommands: this.bot.pendingCommands,
          continueCommand: (turn, user, text) => runCommand(this.bot, turn, user, text),
        });
      }
      case 'signin/verifyState':
        return answerVerifyState(context, this.bot.signInPrompt);
      case 'signin/failure':
        return noteSignInFailure(context, this.bot.logger);
      default:
        return super.onInvokeActivity(context);
    }
  }

  protected override async onAdaptiveCardInvoke(
    context: TurnContext,
    invokeValue: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const { bot } = this;
    const requester = requesterOf(context);
    if (!requester || !tenantAllowed(requester, bot.allowedTenantIds)) {
      return messageResponse(TENANT_NOT_ALLOWED);
    }
    const token = invokeValue.authentication?.token;
    if (token) {
      // The action came back after a loginRequest, carrying the user's SSO token.
      const refused = await signInFromAction(bot.teamsSignIn, context, token, requester);
      if (refused) return refused;
    }
    const { verb, data } = invokeValue.action;
    switch (verb) {
      case 'elevate':
        return elevateAction(bot, context, requester, data);
      case 'cancel':
        return cancelAction(bot, context, requester, data);
      case 'ask-approval':
        return askApprovalAction(bot, context, requester, data);
      case 'approve':
      case 'deny':
        return decideAction(bot, context, requester, data, verb);
      case 'pick':
        return pickAction(bot, context, requester, data);
      case 'done':
      case 'remove-now':
        return endNowAction(bot, context, requester, data);
      case 'extend':
        return extendAction(bot, context, requester, data);
      case 'pick-cancel':
        return pickCancelResponse(requester, data);
      case 'run-suggestion':
        return runSuggestionResponse(bot.service, requester, data, signInPromptOf(bot), (r) =>
          requestCardInPlace(bot, context, requester, r),
        );
      case 'environments-page':
        return environmentsPageResponse(bot.service, requester, data, signInPromptOf(bot));
      case 'history-page':
      case 'audit-page':
        return pageAction(bot, requester, verb, data);
      case 'try-again':
        return tryAgain(context, requester, data, {
          service: bot.service,
          confirmation: (request) => confirmation(bot, request, context),
          signInPrompt: signInPromptOf(bot),
        });
      default:
        return messageResponse(askAgain(plainText(audienceOf(context)), BUTTON_NOT_SUPPORTED));
    }
  }
}
