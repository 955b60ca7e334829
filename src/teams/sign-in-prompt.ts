/**
 * Teams single sign-on without an Azure Bot Service OAuth connection: the bot sends an OAuthCard
 * whose tokenExchangeResource asks the Teams client for the user's SSO token, and Teams answers
 * with a `signin/tokenExchange` invoke. Commands that needed the sign-in wait here and continue
 * by themselves afterwards, so the user never retypes them.
 */
import { type Attachment, CardFactory } from 'botbuilder';
import { randomUUID } from 'node:crypto';
import type { SecretStore } from '../elevation/ports';

export interface SignInPromptOptions {
  /** The bot's app id; the exchange resource is `api://botid-<id>`, as in the Teams manifest. */
  botId?: string;
  /** The consent fallback page Teams opens when silent sign-in needs the user. */
  signInUrl?: string;
  /** How long a command waits for its sign-in. */
  pendingMs?: number;
}

const DEFAULTS = { pendingMs: 10 * 60_000 };

/** The OAuthCard that makes Teams send the user's SSO token. */
export function signInCard(options: SignInPromptOptions): Attachment {
  return CardFactory.oauthCard(
    '',
    'Sign in',
    'Sign in so that I can act for you in Power Platform.',
    options.signInUrl,
    { id: randomUUID(), uri: options.botId ? `api://botid-${options.botId}` : undefined },
  );
}

/**
 * Commands waiting for the sign-in of one user in one conversation (the latest one wins). Kept in
 * the store, so that the instance that receives the token exchange continues a command another
 * instance received.
 */
export class PendingCommands {
  constructor(
    private readonly store: Pick<SecretStore, 'readSecret' | 'writeSecret' | 'deleteSecret'>,
    private readonly pendingMs = DEFAULTS.pendingMs,
  ) {}

  private static key(conversationId: string, userId: string): string {
    return `pending-command/${conversationId}/${userId.toLowerCase()}`;
  }

  async remember(conversationId: string, userId: string, text: string): Promise<void> {
    await this.store.writeSecret(
      PendingCommands.key(conversationId, userId),
      text,
      new Date(Date.now() + this.pendingMs),
    );
  }

  /** The waiting command, removed so that it continues once (the caller won the exchange). */
  async take(conversationId: string, userId: string): Promise<string | undefined> {
    const key = PendingCommands.key(conversationId, userId);
    const text = await this.store.readSecret(key, new Date());
    if (text !== undefined) await this.store.deleteSecret(key);
    return text;
  }
}
