/**
 * The botbuilder CloudAdapter, configured for production (Bot Framework authentication required)
 * or sandbox (no credentials: requests are not authenticated, which config only allows on loopback).
 */
import {
  type Activity,
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  type ConversationReference,
  type TurnContext,
} from 'botbuilder';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../log';

export interface AdapterOptions {
  /** Bot Framework app id; absent only in sandbox. */
  botId?: string;
  botPassword?: string;
  botType: 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';
  botTenantId?: string;
  logger: Logger;
}

export function createAdapter(options: AdapterOptions): CloudAdapter {
  const auth = new ConfigurationBotFrameworkAuthentication({
    MicrosoftAppId: options.botId ?? '',
    MicrosoftAppPassword: options.botPassword ?? '',
    // Without an app id (sandbox) there is no tenant to bind to; botbuilder then skips authentication.
    MicrosoftAppType: options.botId ? options.botType : 'MultiTenant',
    MicrosoftAppTenantId: options.botTenantId ?? '',
  });
  const adapter = new CloudAdapter(auth);
  adapter.onTurnError = async (context: TurnContext, error: Error) => {
    // A reference the user can quote, instead of a stack trace.
    const reference = randomUUID();
    options.logger.error('turn failed', {
      reference,
      activityType: context.activity.type,
      activityName: context.activity.name,
      error,
      stack: error.stack,
    });
    if (context.activity.type === 'message') {
      await context
        .sendActivity(
          `Sorry, something went wrong on my side. Nothing was changed. Reference: ${reference}`,
        )
        .catch(() => undefined);
    }
  };
  return adapter;
}

/** Runs `logic` in an existing conversation, outside any incoming turn (card updates, notices). */
export async function continueConversation(
  adapter: CloudAdapter,
  botId: string | undefined,
  reference: Partial<ConversationReference>,
  logic: (context: TurnContext) => Promise<void>,
): Promise<void> {
  await adapter.continueConversationAsync(botId ?? '', reference, logic);
}

export type { Activity };
