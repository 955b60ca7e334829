/**
 * What the bot is built from (its options, given by app.ts), and what its handlers share: those
 * options plus the sign-in state the bot keeps for the turns of all its users.
 */
import type { ConversationReference, TurnContext } from 'botbuilder';
import type { ApprovalService } from '../elevation/approvals';
import type { ElevationService } from '../elevation/elevation-service';
import type { ElevationStore, SignIn } from '../elevation/ports';
import type { SignInRefusals } from '../elevation/sign-in-refusals';
import type { SubscriptionService } from '../elevation/subscription-service';
import type { TimeBoxService } from '../elevation/time-boxes';
import type { Logger } from '../log';
import type { ConversationTracker } from './conversation-tracker';
import type { PendingCommands, SignInPromptOptions } from './sign-in-prompt';
import type { TeamsSignIn } from './token-exchange';

export interface ElevationBotOptions {
  service: ElevationService;
  logger: Logger;
  justificationRequired: boolean;
  /** Tenants whose users may use the bot; empty allows any. */
  allowedTenantIds: string[];
  /** The bot's administrators (BOT_ADMIN_IDS, Entra object ids): they may read the audit. */
  botAdminIds: readonly string[];
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
  /** Second-person approval (Ask for approval, Approve, Deny); absent where it is not set up. */
  approvals?: ApprovalService;
  /** Time-boxed elevation (I'm done, Extend, `elevations`); absent where it is off. */
  timeBoxes?: TimeBoxService;
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

/** What every handler of the bot is given. */
export interface BotParts extends ElevationBotOptions {
  /** Commands waiting for a sign-in, continued once the token exchange arrives. */
  pendingCommands: PendingCommands;
  /** Signs users in with the tokens Teams sends, and audits refused ones. */
  teamsSignIn: TeamsSignIn;
}
