/**
 * Translates Teams activities into elevation use cases and their results into cards. The only
 * place (with the adapter) that knows botbuilder; the rules live in src/elevation/.
 */
import {
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
  CardFactory,
  type ConversationReference,
  type InvokeResponse,
  TeamsActivityHandler,
  TurnContext,
} from 'botbuilder';
import { parseCommand } from '../elevation/command';
import type { MatchReason } from '../elevation/environment-resolution';
import type {
  ConfirmResult,
  ElevationService,
  RequestResult,
} from '../elevation/elevation-service';
import { describeFilter } from '../elevation/notifications';
import type { NotifyAction } from '../elevation/command';
import type { SubscriptionService } from '../elevation/subscription-service';
import type { Requester } from '../elevation/request';
import type { ElevationRequest } from '../elevation/request';
import type { ElevationStore, SignIn } from '../elevation/ports';
import type { SignInRefusals } from '../elevation/sign-in-refusals';
import type { Logger } from '../log';
import type { AdaptiveCard } from './cards/card-template';
import { confirmationCard, requestStatusCard } from './cards/request-cards';
import { noticeCard } from './cards/notice-card';
import {
  askAgain,
  auditElsewhere,
  audienceOf,
  elevateElsewhere,
  helpLines,
  helpText,
  markdown,
  nameNotType,
  notifyUsage,
  plainText,
  tooLong,
  whichEnvironment,
  whoAreTheAdmins,
} from './hints';
import { runSuggestionResponse, suggestCommand } from './command-suggestion';
import { auditPickerCard, pickCancelResponse } from './environment-picker';
import { environmentsPageResponse, showEnvironments } from './environments-command';
import { auditPage, historyPage, pageRequested, type PageRequest } from './request-pages';
import { showClosedCards } from './show-closed-cards';
import { showRequestStatus } from './show-request-status';
import { tryAgain } from './try-again';
import {
  cardResponse,
  invokeResponse,
  loginRequest,
  MESSAGE,
  messageResponse,
  NO_TOKEN_TITLE,
  outcomeMessage,
  requestResultCard,
} from './replies';
import { PendingCommands, signInCard, type SignInPromptOptions } from './sign-in-prompt';
import { channelIdOf, type ConversationTracker, referenceFor } from './conversation-tracker';
import { answerTokenExchange, TeamsSignIn } from './token-exchange';

export interface ElevationBotOptions {
  service: ElevationService;
  logger: Logger;
  justificationRequired: boolean;
  /** Tenants whose users may use the bot; empty allows any. */
  allowedTenantIds: string[];
  /** Turns Teams SSO tokens into delegated tokens; absent where sign-in is not set up. */
  signIn?: SignIn;
  /** Counts and audits refused sign-in tokens. */
  signInRefusals?: SignInRefusals;
  /**
   * Records token exchanges so that each is acted on once (every Teams client sends its own), and
   * keeps the commands waiting for a sign-in; shared by all instances.
   */
  exchanges: Pick<ElevationStore, 'claimOnce' | 'readSecret' | 'writeSecret' | 'deleteSecret'>;
  /** The OAuthCard's exchange resource and consent page. */
  signInPrompt: SignInPromptOptions;
  /**
   * How long a click may wait for the API before the card says "in progress"; Teams gives up on
   * an invoke after about 10 to 15 seconds.
   */
  invokeBudgetMs: number;
  /** Channel subscriptions (`notify here`, `notify off`, `notify status`). */
  subscriptions: SubscriptionService;
  /** Remembers where conversations can be reached, and welcomes new teams. */
  tracker: ConversationTracker;
  /** Runs logic in a conversation outside any turn (to finish a card after its invoke ended). */
  continueInConversation: (
    reference: Partial<ConversationReference>,
    logic: (context: TurnContext) => Promise<void>,
  ) => Promise<void>;
}

const TIMED_OUT = Symbol('timed out');

/** The promise's value, or TIMED_OUT when it takes longer than `ms` (it keeps running). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | typeof TIMED_OUT> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function field(data: unknown, name: string): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const value = (data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

export class ElevationBot extends TeamsActivityHandler {
  private readonly pendingCommands: PendingCommands;
  private readonly teamsSignIn: TeamsSignIn;

  constructor(private readonly options: ElevationBotOptions) {
    super();
    this.pendingCommands = new PendingCommands(options.exchanges);
    this.teamsSignIn = new TeamsSignIn({
      signIn: options.signIn,
      refusals: options.signInRefusals,
      logger: options.logger,
    });
    this.onMessage(async (context, next) => {
      await this.handleMessage(context);
      await next();
    });
  }

  override async run(context: TurnContext): Promise<void> {
    const requester = this.requesterOf(context);
    // Conversations of organisations the bot does not serve are not remembered.
    if (!requester || this.tenantAllowed(requester)) await this.options.tracker.observe(context);
    if (requester && this.tenantAllowed(requester))
      await this.options.subscriptions.noteAdmin(requester);
    await super.run(context);
  }

  /** Who is acting, from the activity; undefined when Teams did not say (then nothing is done). */
  private requesterOf(context: TurnContext): Requester | undefined {
    const { from, conversation, channelData } = context.activity;
    const tenantId =
      conversation?.tenantId ??
      (channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
    if (!from?.aadObjectId || !tenantId) return undefined;
    return { aadObjectId: from.aadObjectId, tenantId, name: from.name || 'Unknown user' };
  }

  private tenantAllowed(requester: Requester): boolean {
    const allowed = this.options.allowedTenantIds;
    return allowed.length === 0 || allowed.includes(requester.tenantId.toLowerCase());
  }

  private async handleMessage(context: TurnContext): Promise<void> {
    const requester = this.requesterOf(context);
    if (!requester) {
      await context.sendActivity('I can only act for signed-in Microsoft Teams users.');
      return;
    }
    if (!this.tenantAllowed(requester)) {
      this.options.logger.warn('message from a tenant that is not allowed', {
        tenantId: requester.tenantId,
      });
      await context.sendActivity('This bot is not enabled for your organisation.');
      return;
    }
    const text =
      TurnContext.removeRecipientMention(context.activity) ?? context.activity.text ?? '';
    await this.runCommand(context, requester, text);
  }

  /** One command, from a message or, after sign-in, from the pending list. */
  private async runCommand(
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
        if (!this.options.service.hasFreshEnvironments(requester)) {
          await context.sendActivity({ type: 'typing' });
        }
        await this.sendRequestResult(
          context,
          requester,
          await this.options.service.requestElevation(requester, command.target),
          text,
        );
        return;
      case 'notify':
        await this.onNotify(context, requester, command.action, command.filter);
        return;
      case 'history':
        await this.onHistory(context, requester);
        return;
      case 'audit':
        await this.onAudit(context, requester, command.target, text);
        return;
      case 'audit-missing-target':
        await context.sendActivity(whichEnvironment(markdown(audience), 'audit'));
        return;
      case 'environments':
        await showEnvironments(context, this.options.service, requester, command.words, (failed) =>
          this.sendRequestResult(context, requester, failed, text),
        );
        return;
      default:
        if (command.kind === 'unknown' && command.suggestion) {
          await suggestCommand(context, command.text, command.suggestion, requester.aadObjectId);
          return;
        }
        await context.sendActivity({
          attachments: [
            CardFactory.adaptiveCard(
              noticeCard({
                title: 'I did not understand that',
                lines: [
                  `You wrote: "${command.kind === 'unknown' ? command.text : text.slice(0, 100)}"`,
                  ...helpLines(plainText(audience)).filter(Boolean),
                ],
              }),
            ),
          ],
        });
    }
  }

  /** `notify here [for ...]`, `notify off`, `notify status`: only in a channel. */
  private async onNotify(
    context: TurnContext,
    requester: Requester,
    action: NotifyAction,
    filter: string | undefined,
  ): Promise<void> {
    const channelId = channelIdOf(context);
    if (!channelId) {
      await this.notice(context, 'Notifications go to team channels', [
        'Write "@Elevation notify here" in the channel of a team that should get a card for each elevation.',
      ]);
      return;
    }
    const { subscriptions } = this.options;
    const channel = {
      channelId,
      tenantId: requester.tenantId,
      teamId: (context.activity.channelData as { team?: { id?: string } } | undefined)?.team?.id,
      reference: referenceFor(context, channelId),
    };
    const f = plainText(audienceOf(context));
    const notAllowed = async () => [
      "Only the bot's administrators can change this channel's notifications, and you are not one of them. Your attempt was recorded.",
      whoAreTheAdmins(await subscriptions.adminNames()),
      `Write ${f.command('notify status')} to see what this channel receives.`,
    ];
    const refusals =
      'Attempts by users without a tenant admin role are posted too, whatever the filter.';
    switch (action) {
      case 'here': {
        const result = await subscriptions.subscribe(requester, channel, filter);
        if (result.kind === 'not-allowed') {
          await this.notice(context, 'Sorry, you cannot do that', await notAllowed(), 'Warning');
        } else if (result.kind === 'bad-filter') {
          await this.notice(
            context,
            'Nothing changed',
            [result.problem, notifyUsage(f)],
            'Warning',
          );
        } else {
          await this.notice(
            context,
            result.replaced ? '🔔 Subscription updated' : '🔔 Subscribed',
            [
              `This channel now gets a card for ${describeFilter(result.subscription.filter)}: who, where, the justification, the outcome and its correlation id, for failures too.`,
              ...(result.closeToType ? [nameNotType(f, result.closeToType)] : []),
              refusals,
              `Write ${f.command('notify off')} to stop.`,
            ],
            'Good',
          );
        }
        return;
      }
      case 'off': {
        const result = await subscriptions.unsubscribe(requester, channel);
        if (result.kind === 'not-allowed') {
          await this.notice(context, 'Sorry, you cannot do that', await notAllowed(), 'Warning');
        } else if (result.kind === 'unsubscribed') {
          await this.notice(context, '🔕 Unsubscribed', [
            'This channel no longer gets elevation notifications.',
          ]);
        } else {
          await this.notice(context, 'Nothing to stop', [
            'This channel was not subscribed; nothing changed.',
          ]);
        }
        return;
      }
      case 'status': {
        const subscription = await subscriptions.status(channelId);
        const who = subscriptions.mayManage(requester)
          ? `You can change this with ${f.command('notify here')} or ${f.command('notify off')}.`
          : "Only the bot's administrators can change this.";
        await this.notice(
          context,
          subscription ? '🔔 This channel is subscribed' : 'This channel is not subscribed',
          subscription
            ? [
                `It gets a card for ${describeFilter(subscription.filter)}.`,
                refusals,
                `Subscribed by ${subscription.createdBy.name} on ${subscription.createdAt.slice(0, 10)}.`,
                who,
              ]
            : ['It gets no elevation notifications.', who],
        );
        return;
      }
    }
  }

  /** `history`: the user's own elevations, newest first, in the personal chat only. */
  private async onHistory(context: TurnContext, requester: Requester): Promise<void> {
    if (context.activity.conversation?.conversationType !== 'personal') {
      await context.sendActivity(
        'I show your history in our personal chat only. Write `history` there.',
      );
      return;
    }
    await context.sendActivity({
      attachments: [CardFactory.adaptiveCard(await this.historyPage(requester, undefined))],
    });
  }

  private historyPage(requester: Requester, page: PageRequest | undefined): Promise<AdaptiveCard> {
    return historyPage(this.options.service, requester, page ?? {});
  }

  /**
   * `audit <environment>`: recent elevations in an environment, for the bot's administrators only
   * (BOT_ADMIN_IDS). Needs the user's sign-in to resolve the name, so not in channels.
   */
  private async onAudit(
    context: TurnContext,
    requester: Requester,
    target: string,
    commandText: string,
  ): Promise<void> {
    const { subscriptions, service } = this.options;
    if (!subscriptions.mayManage(requester)) {
      await subscriptions.refuse(requester, undefined, 'audit');
      await this.notice(
        context,
        'Sorry, you cannot do that',
        [
          "Only the bot's administrators can read the audit of an environment, and you are not one of them. Your attempt was recorded.",
          whoAreTheAdmins(await subscriptions.adminNames()),
          'Write “history” in our personal chat for your own elevations.',
        ],
        'Warning',
      );
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
          CardFactory.adaptiveCard(
            await this.auditPage(requester, found.environment.id, undefined),
          ),
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
    await this.sendRequestResult(context, requester, found, commandText);
  }

  private auditPage(
    requester: Requester,
    environmentId: string,
    page: PageRequest | undefined,
  ): Promise<AdaptiveCard> {
    return auditPage(this.options.service, requester, environmentId, page ?? {});
  }

  /** "Newer" or "Older" on a history or audit card: that page, with the rules checked again. */
  private async onPage(
    context: TurnContext,
    clicker: Requester,
    verb: 'history-page' | 'audit-page',
    data: unknown,
  ): Promise<AdaptiveCardInvokeResponse> {
    const page = pageRequested(data);
    if (verb === 'history-page') {
      // Always the clicker's own history, whoever's card the button was on.
      return cardResponse(await this.historyPage(clicker, page));
    }
    if (!this.options.subscriptions.mayManage(clicker)) {
      await this.options.subscriptions.refuse(clicker, undefined, 'audit');
      return messageResponse(
        `Only the bot's administrators can read the audit of an environment. ${whoAreTheAdmins(await this.options.subscriptions.adminNames())}`,
      );
    }
    const environmentId = field(data, 'environmentId');
    if (!environmentId) return messageResponse('This card is missing its environment; ask again.');
    return cardResponse(await this.auditPage(clicker, environmentId, page));
  }

  /** A short card; every line is plain text (TextRuns), whatever it contains. */
  private async notice(
    context: TurnContext,
    title: string,
    lines: string[],
    color?: 'Good' | 'Warning' | 'Attention',
  ): Promise<void> {
    await context.sendActivity({
      attachments: [CardFactory.adaptiveCard(noticeCard({ title, lines, color }))],
    });
  }

  /** Answers "elevate me in X" with the card its result calls for. */
  private async sendRequestResult(
    context: TurnContext,
    requester: Requester,
    result: RequestResult,
    commandText: string,
  ): Promise<void> {
    if (result.kind === 'no-token' && result.reason === 'sign-in-required' && this.options.signIn) {
      // Ask Teams for the SSO token; the command continues by itself once it arrives.
      await this.pendingCommands.remember(
        context.activity.conversation.id,
        requester.aadObjectId,
        commandText,
      );
      await context.sendActivity({ attachments: [signInCard(this.options.signInPrompt)] });
      return;
    }
    if (result.kind === 'confirm') {
      const sent = await context.sendActivity({
        attachments: [
          CardFactory.adaptiveCard(
            this.confirmation(result.request, context, {
              matched: result.reason,
              lastExecution: result.lastExecution,
            }),
          ),
        ],
      });
      if (sent?.id) {
        await this.options.service.rememberCard(
          result.request.id,
          TurnContext.getConversationReference(context.activity),
          sent.id,
        );
      }
      await this.showClosed(result.replaced);
      return;
    }
    await context.sendActivity({
      attachments: [CardFactory.adaptiveCard(requestResultCard(result, requester))],
    });
  }

  private confirmation(
    request: ElevationRequest,
    context: TurnContext,
    extra: {
      problem?: string;
      justification?: string;
      /** Why this environment, when the words were not its exact id, display name or URL. */
      matched?: MatchReason;
      /** The requester's last elevation there, when it was recent. */
      lastExecution?: ElevationRequest;
    } = {},
  ): AdaptiveCard {
    return confirmationCard(request, {
      justificationRequired: this.options.justificationRequired,
      timeZone: context.activity.localTimezone,
      shared: audienceOf(context).shared,
      ...extra,
    });
  }

  /** The cards a new request or an execution closed say why, for everyone. */
  private showClosed(closed: ElevationRequest[]): Promise<void> {
    return showClosedCards(closed, this.options.continueInConversation, this.options.logger);
  }

  protected override async onInvokeActivity(context: TurnContext): Promise<InvokeResponse> {
    switch (context.activity.name) {
      case 'signin/tokenExchange':
        return this.onTokenExchange(context);
      case 'signin/verifyState':
        // After the consent popup: offer the silent exchange again.
        await context.sendActivity({ attachments: [signInCard(this.options.signInPrompt)] });
        return invokeResponse(200);
      case 'signin/failure': {
        // Teams' silent sign-in failed in the client (e.g. `resourcematchfailed`: the app's SSO
        // setup); a notification, answered 200 (activity-schema.ts lists every invoke's answer).
        const { code, message } = (context.activity.value ?? {}) as Record<string, unknown>;
        this.options.logger.warn('Teams reported a failed sign-in', { code, message });
        return invokeResponse(200);
      }
      default:
        return super.onInvokeActivity(context);
    }
  }

  /** Teams' silent sign-in (token-exchange.ts). */
  private async onTokenExchange(context: TurnContext): Promise<InvokeResponse> {
    const requester = this.requesterOf(context);
    return answerTokenExchange(context, requester, !!requester && this.tenantAllowed(requester), {
      signIn: this.teamsSignIn,
      exchanges: this.options.exchanges,
      pendingCommands: this.pendingCommands,
      continueCommand: (turn, user, text) => this.runCommand(turn, user, text),
    });
  }

  protected override async onAdaptiveCardInvoke(
    context: TurnContext,
    invokeValue: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const requester = this.requesterOf(context);
    if (!requester || !this.tenantAllowed(requester)) {
      return messageResponse('This bot is not enabled for your organisation.');
    }
    const token = invokeValue.authentication?.token;
    if (token) {
      // The action came back after a loginRequest, carrying the user's SSO token.
      const signedIn = await this.teamsSignIn.signIn(
        context,
        token,
        requester,
        'adaptiveCard/action',
      );
      if (!signedIn.ok) {
        return signedIn.reason === 'consent-required' || signedIn.reason === 'interaction-required'
          ? {
              statusCode: 412,
              type: 'application/vnd.microsoft.error.preconditionFailed',
              value: { code: '412', message: signedIn.message },
            }
          : messageResponse(`Could not sign you in: ${signedIn.message}`);
      }
    }
    const { verb, data } = invokeValue.action;
    switch (verb) {
      case 'elevate':
        return this.onElevate(context, requester, data);
      case 'cancel':
        return this.onCancel(context, requester, data);
      case 'pick':
        return this.onPick(context, requester, data);
      case 'pick-cancel':
        return pickCancelResponse(requester, data);
      case 'run-suggestion':
        return runSuggestionResponse(
          this.options.service,
          requester,
          data,
          this.signInPrompt(),
          (r) => this.requestCardInPlace(context, requester, r),
        );
      case 'environments-page':
        return environmentsPageResponse(this.options.service, requester, data, this.signInPrompt());
      case 'history-page':
      case 'audit-page':
        return this.onPage(context, requester, verb, data);
      case 'try-again':
        return tryAgain(context, requester, data, {
          service: this.options.service,
          confirmation: (request) => this.confirmation(request, context),
          signInPrompt: this.options.signIn ? this.options.signInPrompt : undefined,
        });
      default:
        return messageResponse(
          askAgain(plainText(audienceOf(context)), 'This button is no longer supported.'),
        );
    }
  }

  private async onElevate(
    context: TurnContext,
    clicker: Requester,
    data: unknown,
  ): Promise<AdaptiveCardInvokeResponse> {
    const requestId = field(data, 'requestId');
    if (!requestId) return messageResponse('This card is missing its request; ask again.');
    const justification = field(data, 'justification');
    const confirming = this.options.service.confirmElevation({ requestId, clicker, justification });
    const result = await within(confirming, this.options.invokeBudgetMs);
    if (result !== TIMED_OUT) return this.confirmResponse(context, result, justification);

    // The API (with its retries) is slow: answer Teams now, and finish the card when it is done.
    const reference = TurnContext.getConversationReference(context.activity);
    const cardMessageId = context.activity.replyToId;
    confirming
      .then((late) => this.finishLater(reference, cardMessageId, late))
      .catch((error) =>
        this.options.logger.error('could not finish a slow elevation', { requestId, error }),
      );
    const request = await this.options.service.findRequest(requestId);
    if (!request) return messageResponse('I no longer know this request.');
    return cardResponse(requestStatusCard({ ...request, state: 'executing' }));
  }

  /** The outcome of a confirmation that outlasted its invoke, delivered to the conversation. */
  private async finishLater(
    reference: Partial<ConversationReference>,
    cardMessageId: string | undefined,
    result: ConfirmResult,
  ): Promise<void> {
    await this.options.continueInConversation(reference, async (context) => {
      if (
        result.kind === 'executed' ||
        result.kind === 'expired' ||
        result.kind === 'already-handled'
      ) {
        const messageId = result.request.cardMessageId ?? cardMessageId;
        if (messageId) await showRequestStatus(context, messageId, result.request);
        if (result.kind === 'executed') {
          await this.postOutcome(context, result.request);
          await this.showClosed(result.closed);
        }
        return;
      }
      const response = await this.confirmResponse(context, result, undefined);
      if (response.type === MESSAGE) await context.sendActivity(String(response.value));
    });
  }

  private async confirmResponse(
    context: TurnContext,
    result: ConfirmResult,
    justification: string | undefined,
  ): Promise<AdaptiveCardInvokeResponse> {
    switch (result.kind) {
      case 'unknown-request':
        return messageResponse(
          askAgain(plainText(audienceOf(context)), 'I no longer know this request.'),
        );
      case 'not-requester':
        return messageResponse(
          `Only ${result.request.requester.name} can confirm or cancel this request.`,
        );
      case 'justification-required':
        return cardResponse(
          this.confirmation(result.request, context, { problem: result.problem, justification }),
        );
      case 'no-token':
        if (result.reason === 'sign-in-required' && this.options.signIn) {
          // Teams signs the user in and sends the same action again, with the token.
          return loginRequest(this.options.signInPrompt);
        }
        return messageResponse(`${NO_TOKEN_TITLE[result.reason]}: ${result.message}`);
      case 'already-handled':
        return cardResponse(requestStatusCard(result.request));
      case 'expired':
        return this.closeCard(context, result.request);
      case 'executed': {
        // The card for everyone and the outcome message, side by side.
        const [response] = await Promise.all([
          this.closeCard(context, result.request),
          this.postOutcome(context, result.request),
          this.showClosed(result.closed),
        ]);
        return response;
      }
    }
  }

  private async onCancel(
    context: TurnContext,
    clicker: Requester,
    data: unknown,
  ): Promise<AdaptiveCardInvokeResponse> {
    const requestId = field(data, 'requestId');
    if (!requestId) return messageResponse('This card is missing its request; ask again.');
    const result = await this.options.service.cancelElevation({ requestId, clicker });
    switch (result.kind) {
      case 'unknown-request':
        return messageResponse('I no longer know this request.');
      case 'not-requester':
        return messageResponse(
          `Only ${result.request.requester.name} can confirm or cancel this request.`,
        );
      case 'already-handled':
        return cardResponse(requestStatusCard(result.request));
      case 'cancelled':
        return this.closeCard(context, result.request);
    }
  }

  private async onPick(
    context: TurnContext,
    clicker: Requester,
    data: unknown,
  ): Promise<AdaptiveCardInvokeResponse> {
    const environmentId = field(data, 'environmentId');
    const query = field(data, 'query') ?? '';
    const requesterId = field(data, 'requesterId');
    if (requesterId && requesterId.toLowerCase() !== clicker.aadObjectId.toLowerCase()) {
      return messageResponse(
        'Only the person who asked can pick the environment. Ask me yourself to elevate.',
      );
    }
    if (!environmentId) return messageResponse('Pick one environment first.');
    const result = await this.options.service.requestElevationIn(clicker, environmentId, query);
    return this.requestCardInPlace(context, clicker, result);
  }

  /** Where a click needs a sign-in, Teams is asked for it (loginRequest) when sign-in is set up. */
  private signInPrompt(): SignInPromptOptions | undefined {
    return this.options.signIn ? this.options.signInPrompt : undefined;
  }

  /** A request opened from a button: its card replaces the card the button was on. */
  private async requestCardInPlace(
    context: TurnContext,
    clicker: Requester,
    result: RequestResult,
  ): Promise<AdaptiveCardInvokeResponse> {
    if (result.kind !== 'confirm') return cardResponse(requestResultCard(result, clicker));
    // The picked confirmation replaces the pick card, so that message is now the request's card.
    if (context.activity.replyToId) {
      await this.options.service.rememberCard(
        result.request.id,
        TurnContext.getConversationReference(context.activity),
        context.activity.replyToId,
      );
    }
    await this.showClosed(result.replaced);
    return cardResponse(
      this.confirmation(result.request, context, {
        matched: result.reason,
        lastExecution: result.lastExecution,
      }),
    );
  }

  /**
   * Replaces the card for everyone: the invoke response only changes it for the clicker, so the
   * original message is updated too.
   */
  private async closeCard(
    context: TurnContext,
    request: ElevationRequest,
  ): Promise<AdaptiveCardInvokeResponse> {
    const messageId = request.cardMessageId ?? context.activity.replyToId;
    if (messageId) {
      try {
        return cardResponse(await showRequestStatus(context, messageId, request));
      } catch (error) {
        this.options.logger.warn('could not update the card for everyone', {
          requestId: request.id,
          error,
        });
      }
    }
    return cardResponse(requestStatusCard(request));
  }

  /** The outcome as a chat message too, so it stays readable in the conversation's history. */
  private async postOutcome(context: TurnContext, request: ElevationRequest): Promise<void> {
    const message = outcomeMessage(request);
    if (message) await context.sendActivity(message);
  }
}

export type { ConversationReference };
