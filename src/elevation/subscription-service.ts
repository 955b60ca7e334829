/**
 * Who may point notifications at a channel, and what a channel receives. Only the bot's
 * administrators (BOT_ADMIN_IDS, Entra object ids) may subscribe or unsubscribe a channel; anyone
 * may ask what a channel receives. Every change and every refusal is audited.
 */
import { mayChangeNotifications } from './who-may';
import type { Logger } from '../log';
import { type ChannelSubscription, parseSubscriptionFilter } from './notifications';
import type { AuditEvent, Clock, ElevationStore } from './ports';
import type { Requester } from './request';

export interface SubscriptionServiceOptions {
  store: ElevationStore;
  clock: Clock;
  logger: Logger;
  /** Entra object ids of the users allowed to manage notifications (lower case). */
  adminIds: readonly string[];
}

/** The channel a command was typed in. */
export interface ChannelTarget {
  channelId: string;
  tenantId: string;
  teamId?: string;
  /** Where the notifications will be posted (a Teams conversation reference). */
  reference: unknown;
}

export type SubscribeResult =
  | { kind: 'not-allowed' }
  | { kind: 'bad-filter'; problem: string }
  | {
      kind: 'subscribed';
      subscription: ChannelSubscription;
      replaced: boolean;
      /** The name pattern looks like this environment type: the reply says how it was read. */
      closeToType?: string;
    };

export type UnsubscribeResult =
  { kind: 'not-allowed' } | { kind: 'unsubscribed' | 'not-subscribed' };

/** How long a bot administrator's display name is remembered after the bot last heard from them. */
const ADMIN_NAME_KEPT_MS = 365 * 24 * 3_600_000;

export class SubscriptionService {
  private readonly admins: Set<string>;
  /** The names this instance last stored, so that every message does not write. */
  private readonly storedNames = new Map<string, string>();

  constructor(private readonly options: SubscriptionServiceOptions) {
    this.admins = new Set(options.adminIds.map((id) => id.toLowerCase()));
  }

  /** Whether this user may change notifications. */
  mayManage(user: Requester): boolean {
    return mayChangeNotifications(user, this.options.adminIds);
  }

  /**
   * Remembers a bot administrator's display name when the bot hears from them, so that refusals
   * can say who the administrators are (BOT_ADMIN_IDS holds only object ids). Kept in the store,
   * so every instance knows it, and after a restart.
   */
  async noteAdmin(user: Requester): Promise<void> {
    const id = user.aadObjectId.toLowerCase();
    if (!this.admins.has(id) || this.storedNames.get(id) === user.name) return;
    const expiresAt = new Date(this.options.clock.now().getTime() + ADMIN_NAME_KEPT_MS);
    try {
      await this.options.store.writeSecret(`bot-admin-name/${id}`, user.name, expiresAt);
      this.storedNames.set(id, user.name);
    } catch (error) {
      // Only a name for later refusals: never worth failing the user's message over.
      this.options.logger.warn('could not remember a bot administrator name', { error });
    }
  }

  /** The administrators' names the bot knows, and how many it has not heard from yet. */
  async adminNames(): Promise<{ names: string[]; unnamed: number }> {
    const now = this.options.clock.now();
    const names: string[] = [];
    for (const id of this.admins) {
      const name = await this.options.store.readSecret(`bot-admin-name/${id}`, now);
      if (name) names.push(name);
    }
    return {
      names: names.sort((a, b) => a.localeCompare(b)),
      unnamed: this.admins.size - names.length,
    };
  }

  async subscribe(
    actor: Requester,
    channel: ChannelTarget,
    filterText: string | undefined,
  ): Promise<SubscribeResult> {
    if (!this.mayManage(actor)) {
      await this.refuse(actor, channel, 'notify here');
      return { kind: 'not-allowed' };
    }
    const parsed = parseSubscriptionFilter(filterText);
    if (!parsed.ok) return { kind: 'bad-filter', problem: parsed.problem };
    const subscription: ChannelSubscription = {
      channelId: channel.channelId,
      tenantId: channel.tenantId,
      teamId: channel.teamId,
      reference: channel.reference,
      filter: parsed.filter,
      createdBy: { aadObjectId: actor.aadObjectId, name: actor.name },
      createdAt: this.options.clock.now().toISOString(),
    };
    const replaced = await this.options.store.subscribe(subscription, {
      audit: this.event('subscribed', actor, channel, { filter: parsed.filter }),
    });
    this.options.logger.info('channel subscribed', {
      channelId: channel.channelId,
      by: actor.aadObjectId,
      filter: parsed.filter.kind,
    });
    return { kind: 'subscribed', subscription, replaced, closeToType: parsed.closeToType };
  }

  async unsubscribe(actor: Requester, channel: ChannelTarget): Promise<UnsubscribeResult> {
    if (!this.mayManage(actor)) {
      await this.refuse(actor, channel, 'notify off');
      return { kind: 'not-allowed' };
    }
    const removed = await this.options.store.unsubscribe(channel.channelId, {
      audit: this.event('unsubscribed', actor, channel),
    });
    if (removed) {
      this.options.logger.info('channel unsubscribed', {
        channelId: channel.channelId,
        by: actor.aadObjectId,
      });
    }
    return { kind: removed ? 'unsubscribed' : 'not-subscribed' };
  }

  status(channelId: string): Promise<ChannelSubscription | undefined> {
    return this.options.store.findSubscription(channelId);
  }

  /** Someone who may not manage notifications (or read the audit) tried: logged and audited. */
  async refuse(
    actor: Requester,
    channel: ChannelTarget | undefined,
    command: string,
  ): Promise<void> {
    this.options.logger.warn('refused', {
      reason: 'not-bot-admin',
      actor: actor.aadObjectId,
      channelId: channel?.channelId,
      command,
    });
    await this.options.store.appendAudit(
      this.event('refused', actor, channel, { reason: 'not-bot-admin', command }),
    );
  }

  private event(
    type: 'subscribed' | 'unsubscribed' | 'refused',
    actor: Requester,
    channel: ChannelTarget | undefined,
    details: Record<string, unknown> = {},
  ): AuditEvent {
    return {
      type,
      at: this.options.clock.now(),
      actor: actor.aadObjectId,
      tenantId: actor.tenantId,
      details: channel
        ? { channelId: channel.channelId, teamId: channel.teamId, ...details }
        : details,
    };
  }
}
