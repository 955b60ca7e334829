/**
 * Conversations and channel subscriptions on Table Storage: conversations in the shared table
 * (looked up by id), a subscription in its tenant's partition (so that a notification's fan-out
 * reads them there, in its transaction's partition), found by channel id through the
 * `subscription-index` partition.
 */
import { odata } from '@azure/data-tables';
import type { ChannelSubscription } from '../../elevation/notifications';
import type { ConversationRecord, Effects } from '../../elevation/ports';
import {
  checkEntity,
  type Entity,
  keyPart,
  optionalText,
  packText,
  type Stored,
  subscriptionEntity,
  subscriptionRow,
  tenantPartition,
  text,
  toSubscription,
  unpackText,
} from './entities';
import { CONVERSATIONS, SUBSCRIPTION_INDEX, type Tables } from './tables';
import type { Transactions } from './transaction';

export class TableConversations {
  constructor(
    private readonly tables: Tables,
    private readonly transactions: Transactions,
  ) {}

  async saveConversation(record: ConversationRecord): Promise<void> {
    const entity: Entity = {
      partitionKey: CONVERSATIONS,
      rowKey: keyPart(record.id),
      id: record.id,
      scope: record.scope,
      ...(record.tenantId ? { tenantId: record.tenantId.toLowerCase() } : {}),
      ...(record.teamId ? { teamId: record.teamId } : {}),
      suspended: false,
      updatedAt: record.updatedAt,
      ...packText('reference', JSON.stringify(record.reference ?? null)),
    };
    checkEntity(entity, `the conversation ${record.id}`);
    await this.tables.shared.upsertEntity(entity, 'Replace');
  }

  async findConversation(
    id: string,
  ): Promise<(ConversationRecord & { suspended: boolean }) | undefined> {
    const stored = await this.tables.get(this.tables.shared, CONVERSATIONS, keyPart(id));
    if (!stored) return undefined;
    return {
      id: text(stored, 'id'),
      scope: text(stored, 'scope') as ConversationRecord['scope'],
      tenantId: optionalText(stored, 'tenantId'),
      teamId: optionalText(stored, 'teamId'),
      reference: JSON.parse(unpackText(stored, 'reference') ?? 'null') as unknown,
      updatedAt: text(stored, 'updatedAt'),
      suspended: stored.suspended === true,
    };
  }

  async forgetConversations(target: { id: string } | { teamId: string }): Promise<void> {
    if ('teamId' in target) {
      for (const conversation of await this.teamConversations(target.teamId)) {
        await this.tables.deleteQuietly(this.tables.shared, CONVERSATIONS, conversation.rowKey!);
      }
      for (const subscription of await this.teamSubscriptions(target.teamId)) {
        await this.tables.deleteQuietly(
          this.tables.tenants,
          subscription.partitionKey!,
          subscription.rowKey!,
        );
      }
      return;
    }
    await this.tables.deleteQuietly(this.tables.shared, CONVERSATIONS, keyPart(target.id));
    const pk = await this.partitionOfSubscription(target.id);
    if (pk) await this.tables.deleteQuietly(this.tables.tenants, pk, subscriptionRow(target.id));
  }

  async suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void> {
    if ('teamId' in target) {
      for (const conversation of await this.teamConversations(target.teamId)) {
        await this.tables.setSuspended(
          this.tables.shared,
          CONVERSATIONS,
          conversation.rowKey!,
          suspended,
        );
      }
      for (const subscription of await this.teamSubscriptions(target.teamId)) {
        await this.tables.setSuspended(
          this.tables.tenants,
          subscription.partitionKey!,
          subscription.rowKey!,
          suspended,
        );
      }
      return;
    }
    await this.tables.setSuspended(
      this.tables.shared,
      CONVERSATIONS,
      keyPart(target.id),
      suspended,
    );
    const pk = await this.partitionOfSubscription(target.id);
    if (pk)
      await this.tables.setSuspended(
        this.tables.tenants,
        pk,
        subscriptionRow(target.id),
        suspended,
      );
  }

  async subscribe(subscription: ChannelSubscription, effects?: Effects): Promise<boolean> {
    const pk = tenantPartition(subscription.tenantId);
    const rk = subscriptionRow(subscription.channelId);
    const entity = subscriptionEntity(pk, subscription);
    checkEntity(entity, `the subscription of ${subscription.channelId}`);
    await this.tables.register(pk);
    // A channel lives in one tenant; should it be subscribed under another, the old one goes.
    let existedElsewhere = false;
    const previous = await this.partitionOfSubscription(subscription.channelId);
    if (previous && previous !== pk) {
      existedElsewhere = await this.tables.deleteQuietly(this.tables.tenants, previous, rk);
    }
    if (previous !== pk) {
      await this.tables.shared.upsertEntity(
        {
          partitionKey: SUBSCRIPTION_INDEX,
          rowKey: keyPart(subscription.channelId),
          partition: pk,
        },
        'Replace',
      );
    }
    return this.transactions.step(
      pk,
      `subscribing ${subscription.channelId}`,
      effects,
      new Date(),
      false,
      async (afterHead) => {
        await afterHead;
        const current = await this.tables.get(this.tables.tenants, pk, rk);
        return {
          actions: [
            current ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity],
          ],
          result: current !== undefined || existedElsewhere,
          withEffects: true,
        };
      },
    );
  }

  async unsubscribe(channelId: string, effects?: Effects): Promise<boolean> {
    const pk = await this.partitionOfSubscription(channelId);
    if (!pk) return false;
    const rk = subscriptionRow(channelId);
    return this.transactions.step(
      pk,
      `unsubscribing ${channelId}`,
      effects,
      new Date(),
      false,
      async (afterHead) => {
        await afterHead;
        const current = await this.tables.get(this.tables.tenants, pk, rk);
        if (!current) return { actions: [], result: false, withEffects: false };
        // A delete in a transaction is unconditional; a 404 (removed meanwhile) voids it and the
        // next attempt finds nothing to remove.
        return {
          actions: [['delete', { partitionKey: pk, rowKey: rk }]],
          result: true,
          withEffects: true,
        };
      },
    );
  }

  async findSubscription(channelId: string): Promise<ChannelSubscription | undefined> {
    const pk = await this.partitionOfSubscription(channelId);
    if (!pk) return undefined;
    const stored = await this.tables.get(this.tables.tenants, pk, subscriptionRow(channelId));
    return stored ? toSubscription(stored) : undefined;
  }

  /** The tenant partition of a channel's subscription, if it has one. */
  async partitionOfSubscription(channelId: string): Promise<string | undefined> {
    const index = await this.tables.get(this.tables.shared, SUBSCRIPTION_INDEX, keyPart(channelId));
    return index ? text(index, 'partition') : undefined;
  }

  private async teamConversations(teamId: string): Promise<Stored[]> {
    const found = await this.tables.list(
      this.tables.shared,
      odata`PartitionKey eq ${CONVERSATIONS} and teamId eq ${teamId}`,
    );
    const team = await this.tables.get(this.tables.shared, CONVERSATIONS, keyPart(teamId));
    if (team && !found.some((e) => e.rowKey === team.rowKey)) found.push(team);
    return found;
  }

  /** Every subscription of a team's channels, in whichever tenant partition. */
  private teamSubscriptions(teamId: string): Promise<Stored[]> {
    return this.tables.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'sub|'} and RowKey lt ${'sub}'} and teamId eq ${teamId}`,
    );
  }
}
