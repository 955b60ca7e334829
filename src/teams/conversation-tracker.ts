/**
 * Keeps the bot's address book: where each conversation (personal chat, group chat, team and its
 * channels) can be reached later. Kept on installation and on use, suspended when a team or
 * channel is deleted, restored with it, and forgotten on uninstall or hard delete. A team that
 * installs the bot is told, once, how to subscribe a channel.
 */
import { type ConversationReference, TurnContext } from 'botbuilder';
import { personalChatKey } from '../elevation/approvals';
import type { ElevationStore } from '../elevation/ports';
import type { Logger } from '../log';

interface TeamsChannelData {
  eventType?: string;
  team?: { id?: string; name?: string };
  channel?: { id?: string; name?: string };
  tenant?: { id?: string };
}

export interface ConversationTrackerOptions {
  store: Pick<
    ElevationStore,
    'saveConversation' | 'forgetConversations' | 'suspendConversations' | 'claimOnce'
  >;
  logger: Logger;
  /** The text of the one-time welcome posted when the bot joins a team. */
  welcome: string;
}

/** A conversation used again within this time is not written again. */
const REFRESH_MS = 10 * 60_000;
const MEMO_ENTRIES = 10_000;
/** Teams sends both installationUpdate and conversationUpdate on install: one welcome. */
const WELCOME_DEDUP_MS = 60 * 60_000;

/** A channel's conversation id, without the `;messageid=` of the thread a message was in. */
export function channelIdOf(context: TurnContext): string | undefined {
  const { conversation, channelData } = context.activity;
  if (conversation?.conversationType !== 'channel') return undefined;
  const data = channelData as TeamsChannelData | undefined;
  return data?.channel?.id ?? conversation.id.split(';')[0];
}

/** Where to post into this conversation later: a new post in the channel, not a reply. */
export function referenceFor(context: TurnContext, conversationId?: string): ConversationReference {
  const reference = TurnContext.getConversationReference(context.activity);
  const { activityId: _thread, ...rest } = reference;
  return {
    ...rest,
    conversation: {
      ...reference.conversation,
      id: conversationId ?? reference.conversation?.id,
    },
  } as ConversationReference;
}

export class ConversationTracker {
  private readonly saved = new Map<string, number>();

  constructor(private readonly options: ConversationTrackerOptions) {}

  /** Looks at every activity; never fails the turn (the address book is not worth an error). */
  async observe(context: TurnContext): Promise<void> {
    try {
      await this.handle(context);
    } catch (error) {
      this.options.logger.warn('could not update the conversation records', {
        activityType: context.activity.type,
        error,
      });
    }
  }

  private async handle(context: TurnContext): Promise<void> {
    const activity = context.activity;
    const data = activity.channelData as TeamsChannelData | undefined;
    const teamId = data?.team?.id;
    const { store } = this.options;
    if (activity.type === 'installationUpdate') {
      if (activity.action?.startsWith('remove')) return this.forget(context, teamId);
      if (activity.action?.startsWith('add')) await this.joined(context, teamId);
      return;
    }
    if (activity.type === 'conversationUpdate') {
      const channelId = data?.channel?.id;
      switch (data?.eventType) {
        case 'teamDeleted':
          if (teamId) await store.suspendConversations({ teamId }, true);
          return;
        case 'teamRestored':
          if (teamId) await store.suspendConversations({ teamId }, false);
          return;
        case 'teamHardDeleted':
          if (teamId) await this.forget(context, teamId);
          return;
        case 'channelDeleted':
          if (channelId) await store.suspendConversations({ id: channelId }, true);
          return;
        case 'channelRestored':
          if (channelId) await store.suspendConversations({ id: channelId }, false);
          return;
      }
      const botId = activity.recipient?.id;
      if (botId && activity.membersRemoved?.some((member) => member.id === botId)) {
        return this.forget(context, teamId);
      }
      if (botId && activity.membersAdded?.some((member) => member.id === botId)) {
        await this.joined(context, teamId);
      }
      return;
    }
    if (activity.type === 'message' || activity.type === 'invoke') await this.save(context);
  }

  private async joined(context: TurnContext, teamId: string | undefined): Promise<void> {
    await this.save(context, { force: true });
    if (!teamId) return;
    const first = await this.options.store.claimOnce(
      `welcome/${teamId}`,
      new Date(Date.now() + WELCOME_DEDUP_MS),
    );
    if (!first) return;
    // To the team's General channel, whose id is the team's id.
    await context.sendActivity({ text: this.options.welcome });
    this.options.logger.info('bot joined a team', { teamId });
  }

  private async forget(context: TurnContext, teamId: string | undefined): Promise<void> {
    const id = context.activity.conversation?.id;
    if (teamId) await this.options.store.forgetConversations({ teamId });
    else if (id) await this.options.store.forgetConversations({ id });
    const { from, conversation, channelData } = context.activity;
    const tenantId = conversation?.tenantId ?? (channelData as TeamsChannelData)?.tenant?.id;
    if (!teamId && conversation?.conversationType === 'personal' && from?.aadObjectId && tenantId)
      await this.options.store.forgetConversations({
        id: personalChatKey(tenantId, from.aadObjectId),
      });
    for (const key of [...this.saved.keys()]) {
      if (key === id || (teamId && key.startsWith(`${teamId}|`))) this.saved.delete(key);
    }
    this.options.logger.info('bot removed: conversation records forgotten', {
      teamId,
      conversationId: teamId ? undefined : id,
    });
  }

  private async save(context: TurnContext, options: { force?: boolean } = {}): Promise<void> {
    const activity = context.activity;
    const data = activity.channelData as TeamsChannelData | undefined;
    const channelId = channelIdOf(context);
    const teamId = data?.team?.id;
    const id = channelId ?? activity.conversation?.id;
    if (!id) return;
    const memoKey = `${teamId ?? ''}|${id}`;
    const now = Date.now();
    const last = this.saved.get(memoKey);
    if (!options.force && last !== undefined && now - last < REFRESH_MS) return;
    const type = activity.conversation?.conversationType;
    const tenantId = activity.conversation?.tenantId ?? data?.tenant?.id;
    await this.options.store.saveConversation({
      id,
      scope: type === 'channel' ? 'channel' : type === 'groupChat' ? 'groupChat' : 'personal',
      tenantId,
      teamId,
      reference: referenceFor(context, id),
      updatedAt: new Date(now).toISOString(),
    });
    const user = activity.from?.aadObjectId;
    if (type === 'personal' && user && tenantId) {
      // Also under the user's key: approval cards reach a listed approver in their personal chat.
      await this.options.store.saveConversation({
        id: personalChatKey(tenantId, user),
        scope: 'personal',
        tenantId,
        reference: referenceFor(context, id),
        updatedAt: new Date(now).toISOString(),
      });
    }
    if (teamId && teamId !== id) {
      // The team itself (its General channel has the team's id).
      await this.options.store.saveConversation({
        id: teamId,
        scope: 'team',
        tenantId,
        teamId,
        reference: referenceFor(context, teamId),
        updatedAt: new Date(now).toISOString(),
      });
    }
    this.saved.delete(memoKey);
    this.saved.set(memoKey, now);
    if (this.saved.size > MEMO_ENTRIES) {
      const oldest = this.saved.keys().next().value;
      if (oldest !== undefined) this.saved.delete(oldest);
    }
  }
}
