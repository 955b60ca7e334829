/**
 * Teams single sign-on without an Azure Bot Service OAuth connection: the bot sends an OAuthCard
 * whose tokenExchangeResource asks the Teams client for the user's SSO token, and Teams answers
 * with a `signin/tokenExchange` invoke. Commands that needed the sign-in wait here and continue
 * by themselves afterwards, so the user never retypes them.
 */
import { type Attachment, CardFactory } from 'botbuilder';
import { randomUUID } from 'node:crypto';

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

interface Pending {
  text: string;
  expiresAt: number;
}

/** Commands waiting for the sign-in of one user in one conversation (the latest one wins). */
export class PendingCommands {
  private readonly pending = new Map<string, Pending>();

  constructor(private readonly pendingMs = DEFAULTS.pendingMs) {}

  private static key(conversationId: string, userId: string): string {
    return `${conversationId}\n${userId.toLowerCase()}`;
  }

  remember(conversationId: string, userId: string, text: string): void {
    this.prune();
    this.pending.set(PendingCommands.key(conversationId, userId), {
      text,
      expiresAt: Date.now() + this.pendingMs,
    });
  }

  /** The waiting command, removed so that it continues once. */
  take(conversationId: string, userId: string): string | undefined {
    const key = PendingCommands.key(conversationId, userId);
    const found = this.pending.get(key);
    this.pending.delete(key);
    return found && found.expiresAt > Date.now() ? found.text : undefined;
  }

  private prune(): void {
    const now = Date.now();
    for (const [key, value] of this.pending) if (value.expiresAt <= now) this.pending.delete(key);
  }
}
