/**
 * Translates Teams activities into elevation use cases and their results into cards. The only
 * place (with the adapter) that knows botbuilder; the rules live in src/elevation/.
 */
import {
  type AdaptiveCardInvokeResponse,
  type AdaptiveCardInvokeValue,
  CardFactory,
  type ConversationReference,
  TeamsActivityHandler,
  TurnContext,
} from 'botbuilder';
import { parseCommand } from '../elevation/command';
import type {
  ConfirmResult,
  ElevationService,
  RequestResult,
} from '../elevation/elevation-service';
import { describeOutcome } from '../elevation/outcome-text';
import type { Requester } from '../elevation/request';
import type { ElevationRequest } from '../elevation/request';
import type { Logger } from '../log';
import {
  type AdaptiveCard,
  confirmationCard,
  noticeCard,
  pickCard,
  requestStatusCard,
} from './cards/cards';
import { helpText } from './help';

export interface ElevationBotOptions {
  service: ElevationService;
  logger: Logger;
  justificationRequired: boolean;
  /** Tenants whose users may use the bot; empty allows any. */
  allowedTenantIds: string[];
}

const CARD = 'application/vnd.microsoft.card.adaptive';
const MESSAGE = 'application/vnd.microsoft.activity.message';

function cardResponse(card: AdaptiveCard): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: CARD, value: card };
}

/** Text shown to the clicker only; their card stays as it is. */
function messageResponse(text: string): AdaptiveCardInvokeResponse {
  return { statusCode: 200, type: MESSAGE, value: text as unknown as Record<string, unknown> };
}

function field(data: unknown, name: string): string | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const value = (data as Record<string, unknown>)[name];
  return typeof value === 'string' ? value : undefined;
}

export class ElevationBot extends TeamsActivityHandler {
  constructor(private readonly options: ElevationBotOptions) {
    super();
    this.onMessage(async (context, next) => {
      await this.handleMessage(context);
      await next();
    });
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
    const command = parseCommand(text);
    switch (command.kind) {
      case 'help':
        await context.sendActivity(helpText());
        return;
      case 'elevate-missing-target':
        await context.sendActivity(
          'Which environment? Write `elevate me in <environment>`, with its name, id, domain name or Dataverse URL.',
        );
        return;
      case 'too-long':
        await context.sendActivity(
          `That message is too long for me (${command.length} characters). Try \`help\`.`,
        );
        return;
      case 'elevate':
        if (context.activity.conversation?.conversationType === 'channel') {
          // Teams SSO does not work in channels, and a confirmation card there would be public.
          await context.sendActivity(
            'Ask me to elevate you in a personal or group chat with me, not in a channel.',
          );
          return;
        }
        // Listing a large tenant's environments can take a moment: show that something happens.
        await context.sendActivity({ type: 'typing' });
        await this.sendRequestResult(
          context,
          requester,
          await this.options.service.requestElevation(requester, command.target),
        );
        return;
      case 'notify':
      case 'history':
      case 'audit':
      case 'audit-missing-target':
        await context.sendActivity(
          'Channel notifications, `history` and `audit` are not available in this version yet. Write `help` for what I can do.',
        );
        return;
      default:
        await context.sendActivity({
          attachments: [
            CardFactory.adaptiveCard(
              noticeCard({
                title: 'I did not understand that',
                lines: [
                  `You wrote: "${command.kind === 'unknown' ? command.text : text.slice(0, 100)}"`,
                  helpText(),
                ],
              }),
            ),
          ],
        });
    }
  }

  /** Answers "elevate me in X" with the card its result calls for. */
  private async sendRequestResult(
    context: TurnContext,
    requester: Requester,
    result: RequestResult,
  ): Promise<void> {
    if (result.kind === 'confirm') {
      const sent = await context.sendActivity({
        attachments: [CardFactory.adaptiveCard(this.confirmation(result.request))],
      });
      if (sent?.id) {
        await this.options.service.rememberCard(
          result.request.id,
          TurnContext.getConversationReference(context.activity),
          sent.id,
        );
      }
      return;
    }
    await context.sendActivity({
      attachments: [CardFactory.adaptiveCard(this.requestResultCard(result, requester))],
    });
  }

  private confirmation(
    request: ElevationRequest,
    problem?: string,
    justification?: string,
  ): AdaptiveCard {
    return confirmationCard(request, {
      justificationRequired: this.options.justificationRequired,
      problem,
      justification,
    });
  }

  /** Every request result other than a confirmation, as a card. */
  private requestResultCard(
    result: Exclude<RequestResult, { kind: 'confirm' }>,
    requester: Requester,
  ): AdaptiveCard {
    switch (result.kind) {
      case 'ambiguous':
        return pickCard({ ...result, requesterId: requester.aadObjectId });
      case 'not-found':
        return noticeCard({
          title: 'No environment found',
          lines: [`No environment you can see matches "${result.query}".`],
          suggestions: result.suggestions,
          query: result.query,
          requesterId: requester.aadObjectId,
          color: 'Warning',
        });
      case 'no-dataverse':
        return noticeCard({
          title: 'This environment has no Dataverse',
          lines: [
            `${result.environment.displayName} (${result.environment.id}) has no Dataverse database, so there is no System Administrator role to receive. Add Dataverse to it first, or pick another environment.`,
          ],
          color: 'Warning',
        });
      case 'environment-disabled':
        return noticeCard({
          title: 'This environment is not available',
          lines: [
            `${result.environment.displayName} (${result.environment.id}) is in state "${result.environment.state}". Elevation is only possible in an enabled environment.`,
          ],
          color: 'Warning',
        });
      case 'sign-in-required':
        return noticeCard({ title: 'Sign-in needed', lines: [result.message], color: 'Warning' });
      case 'token-error':
        return noticeCard({
          title: 'Could not sign you in',
          lines: [result.message],
          color: 'Attention',
        });
      case 'listing-failed': {
        const { failure } = result;
        const lines = [failure.message];
        if (failure.response.status)
          lines.push(
            `HTTP status: ${failure.response.status} ${failure.response.statusText ?? ''}`.trim(),
          );
        lines.push(
          `Correlation id: ${failure.response.correlationId ?? 'none returned by the API'}`,
        );
        return noticeCard({ title: 'Could not list your environments', lines, color: 'Attention' });
      }
    }
  }

  protected override async onAdaptiveCardInvoke(
    context: TurnContext,
    invokeValue: AdaptiveCardInvokeValue,
  ): Promise<AdaptiveCardInvokeResponse> {
    const requester = this.requesterOf(context);
    if (!requester || !this.tenantAllowed(requester)) {
      return messageResponse('This bot is not enabled for your organisation.');
    }
    const { verb, data } = invokeValue.action;
    switch (verb) {
      case 'elevate':
        return this.onElevate(context, requester, data);
      case 'cancel':
        return this.onCancel(context, requester, data);
      case 'pick':
        return this.onPick(context, requester, data);
      default:
        return messageResponse(
          'This button is no longer supported. Ask again with `elevate me in <environment>`.',
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
    const result = await this.options.service.confirmElevation({
      requestId,
      clicker,
      justification,
    });
    return this.confirmResponse(context, result, justification);
  }

  private async confirmResponse(
    context: TurnContext,
    result: ConfirmResult,
    justification: string | undefined,
  ): Promise<AdaptiveCardInvokeResponse> {
    switch (result.kind) {
      case 'unknown-request':
        return messageResponse(
          'I no longer know this request. Ask again with `elevate me in <environment>`.',
        );
      case 'not-requester':
        return messageResponse(
          `Only ${result.request.requester.name} can confirm or cancel this request.`,
        );
      case 'justification-required':
        return cardResponse(this.confirmation(result.request, result.problem, justification));
      case 'sign-in-required':
      case 'token-error':
        return messageResponse(result.message);
      case 'already-handled':
        return cardResponse(requestStatusCard(result.request));
      case 'expired':
        return this.closeCard(context, result.request);
      case 'executed': {
        const response = await this.closeCard(context, result.request);
        await this.postOutcome(context, result.request);
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
    if (result.kind !== 'confirm') return cardResponse(this.requestResultCard(result, clicker));
    // The picked confirmation replaces the pick card, so that message is now the request's card.
    if (context.activity.replyToId) {
      await this.options.service.rememberCard(
        result.request.id,
        TurnContext.getConversationReference(context.activity),
        context.activity.replyToId,
      );
    }
    return cardResponse(this.confirmation(result.request));
  }

  /**
   * Replaces the card for everyone: the invoke response only changes it for the clicker, so the
   * original message is updated too.
   */
  private async closeCard(
    context: TurnContext,
    request: ElevationRequest,
  ): Promise<AdaptiveCardInvokeResponse> {
    const card = requestStatusCard(request);
    const messageId = request.cardMessageId ?? context.activity.replyToId;
    if (messageId) {
      try {
        await context.updateActivity({
          type: 'message',
          id: messageId,
          attachments: [CardFactory.adaptiveCard(card)],
        });
      } catch (error) {
        this.options.logger.warn('could not update the card for everyone', {
          requestId: request.id,
          error,
        });
      }
    }
    return cardResponse(card);
  }

  /** The outcome as a chat message too, so it stays readable in the conversation's history. */
  private async postOutcome(context: TurnContext, request: ElevationRequest): Promise<void> {
    if (!request.outcome) return;
    const text = describeOutcome(request.outcome);
    const correlationId = request.outcome.response.correlationId ?? 'none returned by the API';
    await context.sendActivity({
      textFormat: 'plain',
      text: `${request.outcome.ok ? '✅' : '❌'} ${text.headline} in ${request.environment.displayName}.\nCorrelation id: ${correlationId}`,
    });
  }
}

export type { ConversationReference };
