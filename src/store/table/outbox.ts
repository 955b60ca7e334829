/**
 * The notification outbox on Table Storage: one `deliv|<notification>|<channel>` row per
 * notification and channel, in the notification's tenant partition, found by delivery id through
 * the `delivery-index` partition once claimed. A claim, a retry or a drop is conditional on the
 * row as read (its ETag), so each delivery is taken by one sender at a time, and one abandoned
 * mid-send is dropped, never sent twice.
 */
import { odata } from '@azure/data-tables';
import type { ElevationNotification } from '../../elevation/notifications';
import type { Delivery, Effects } from '../../elevation/ports';
import { ABANDONED } from '../deliveries';
import type { TableConversations } from './conversations';
import {
  deliveryEntity,
  type DeliveryRow,
  keyPart,
  notificationRow,
  type Stored,
  subscriptionRow,
  text,
  toDeliveryRow,
  toSubscription,
  unpackText,
} from './entities';
import type { FanOut } from './fan-out';
import { compare, DELIVERY_INDEX, retriable, retrying, type Tables } from './tables';
import type { Transactions } from './transaction';

export class TableOutbox {
  constructor(
    private readonly tables: Tables,
    private readonly transactions: Transactions,
    private readonly fanOut: FanOut,
    private readonly conversations: TableConversations,
  ) {}

  async claimDeliveries(now: Date, limit: number, leaseMs: number): Promise<Delivery[]> {
    await this.fanOut.repairFanouts();
    const due = (
      await this.tables.inEveryTenant(
        (pk) =>
          odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and state eq ${'pending'} and nextAttemptAt le ${now.toISOString()}`,
      )
    )
      .map(toDeliveryRow)
      .sort((a, b) => compare(a.nextAttemptAt, b.nextAttemptAt) || a.id - b.id);
    const leaseUntil = new Date(now.getTime() + leaseMs).toISOString();
    const claimed: DeliveryRow[] = [];
    // In waves: as many as are still wanted, concurrently; those another caller took are skipped.
    while (claimed.length < limit && due.length > 0) {
      const wave = due.splice(0, limit - claimed.length);
      const won = await Promise.all(wave.map((row) => this.claimOne(row, leaseUntil)));
      for (const row of won) if (row) claimed.push(row);
    }
    return this.toDeliveries(claimed);
  }

  async finishDelivery(
    id: number,
    result: { state: 'delivered' | 'dropped'; at: Date; error?: string },
    effects?: Effects,
  ): Promise<void> {
    const location = await this.deliveryLocation(id);
    // As SqliteStore: a delivery that is gone or already finished records nothing.
    if (!location) return;
    await this.transactions.step(
      location.pk,
      `finishing delivery ${id}`,
      effects,
      result.at,
      false,
      async (afterHead) => {
        await afterHead;
        const stored = await this.tables.get(this.tables.tenants, location.pk, location.rk);
        const row = stored ? toDeliveryRow(stored) : undefined;
        // A late success counts even after the delivery was given up as abandoned.
        const applies =
          row !== undefined &&
          (row.state === 'sending' || (row.state === 'dropped' && result.state === 'delivered'));
        if (!row || !applies) return { actions: [], result: undefined, withEffects: false };
        const next: DeliveryRow = {
          ...row,
          state: result.state,
          finishedAt: result.at.toISOString(),
          lastError: result.error ?? row.lastError,
          leaseUntil: undefined,
        };
        return {
          actions: [['update', deliveryEntity(next), 'Replace', { etag: row.etag }]],
          result: undefined,
          withEffects: true,
        };
      },
    );
  }

  async retryDelivery(id: number, nextAttemptAt: Date, error: string): Promise<void> {
    const location = await this.deliveryLocation(id);
    if (!location) return;
    await retrying(`putting delivery ${id} back in the queue`, async () => {
      const stored = await this.tables.get(this.tables.tenants, location.pk, location.rk);
      if (!stored) return undefined;
      const row = toDeliveryRow(stored);
      if (row.state !== 'sending') return undefined;
      const next: DeliveryRow = {
        ...row,
        state: 'pending',
        nextAttemptAt: nextAttemptAt.toISOString(),
        lastError: error,
        leaseUntil: undefined,
      };
      return this.replaceIfUnchanged(next, () => undefined);
    });
  }

  /**
   * The subscription goes (with the effects, in its partition), then every delivery still waiting
   * for the channel is dropped, each with a conditional write. Not one transaction as in SQLite
   * (deliveries can be in several partitions); each step is safe alone: a waiting delivery left
   * by a crash in between finds no subscription when claimed, and is dropped then.
   */
  async dropChannel(channelId: string, reason: string, effects?: Effects): Promise<number> {
    const at = new Date();
    const pk = await this.conversations.partitionOfSubscription(channelId);
    if (pk) {
      const rk = subscriptionRow(channelId);
      await this.transactions.step(
        pk,
        `dropping ${channelId}`,
        effects,
        at,
        false,
        async (afterHead) => {
          await afterHead;
          const current = await this.tables.get(this.tables.tenants, pk, rk);
          return {
            actions: current ? [['delete', { partitionKey: pk, rowKey: rk }]] : [],
            result: undefined,
            withEffects: true,
          };
        },
      );
    } else if (effects) {
      await this.transactions.writeEffects(effects, at);
    }
    const waiting = await this.tables.inEveryTenant(
      (p) =>
        odata`PartitionKey eq ${p} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and channelId eq ${channelId} and state eq ${'pending'}`,
    );
    let dropped = 0;
    for (const found of waiting) {
      const done = await retrying(`dropping a delivery to ${channelId}`, async () => {
        const stored = await this.tables.get(
          this.tables.tenants,
          found.partitionKey!,
          found.rowKey!,
        );
        const row = stored ? toDeliveryRow(stored) : undefined;
        if (!row || row.state !== 'pending') return false;
        return this.replaceIfUnchanged(
          { ...row, state: 'dropped', lastError: reason, finishedAt: at.toISOString() },
          () => true,
        );
      });
      if (done) dropped += 1;
    }
    return dropped;
  }

  async abandonStaleDeliveries(
    now: Date,
    effectsOf?: (delivery: Delivery) => Effects,
  ): Promise<Delivery[]> {
    const stale = await this.tables.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and state eq ${'sending'} and leaseUntil le ${now.toISOString()}`,
    );
    const abandoned: Delivery[] = [];
    for (const entity of stale) {
      const row = toDeliveryRow(entity);
      const next: DeliveryRow = {
        ...row,
        state: 'dropped',
        finishedAt: now.toISOString(),
        leaseUntil: undefined,
        lastError: ABANDONED,
      };
      const [delivery] = await this.toDeliveries([next]);
      // The drop and its effects (its audit event) are one transaction in the delivery's
      // partition, conditional on the row as read: a sender that finished (or a caller that
      // abandoned it first) meanwhile wins, and this caller neither reports nor audits it.
      const dropped = await this.transactions.step(
        row.partitionKey,
        `abandoning delivery ${row.id}`,
        delivery && effectsOf?.(delivery),
        now,
        false,
        async (afterHead) => {
          await afterHead;
          const current = await this.tables.get(this.tables.tenants, row.partitionKey, row.rowKey);
          if (!current || current.etag !== row.etag) {
            return { actions: [], result: false, withEffects: false };
          }
          return {
            actions: [['update', deliveryEntity(next), 'Replace', { etag: row.etag }]],
            result: true,
            withEffects: true,
          };
        },
      );
      if (dropped && delivery) abandoned.push(delivery);
    }
    return abandoned;
  }

  async nextDeliveryDue(): Promise<Date | undefined> {
    const waiting = await this.tables.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and state eq ${'pending'}`,
    );
    if (waiting.length === 0) return undefined;
    const first = waiting.map((e) => text(e, 'nextAttemptAt')).sort(compare)[0]!;
    return new Date(first);
  }

  /**
   * Removes the partition's finished deliveries older than `cutoff`, then its notifications older
   * than that which no delivery is left of.
   */
  async purge(pk: string, cutoff: string): Promise<void> {
    for (const delivery of await this.tables.list(
      this.tables.tenants,
      odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and finishedAt lt ${cutoff}`,
    )) {
      const row = toDeliveryRow(delivery);
      if (row.state !== 'delivered' && row.state !== 'dropped') continue;
      if (await this.tables.deleteIfUnchanged(this.tables.tenants, delivery)) {
        await this.tables.deleteQuietly(this.tables.shared, DELIVERY_INDEX, String(row.id));
      }
    }
    for (const notification of await this.tables.list(
      this.tables.tenants,
      odata`PartitionKey eq ${pk} and RowKey ge ${'notif|'} and RowKey lt ${'notif}'} and createdAt lt ${cutoff}`,
    )) {
      if (notification.fanoutPending === true) continue;
      const prefix = `deliv|${keyPart(text(notification, 'id'))}|`;
      const deliveries = await this.tables.list(
        this.tables.tenants,
        odata`PartitionKey eq ${pk} and RowKey ge ${prefix} and RowKey lt ${`${prefix.slice(0, -1)}}`}`,
      );
      if (deliveries.length === 0) {
        await this.tables.deleteIfUnchanged(this.tables.tenants, notification);
      }
    }
  }

  /** Takes one delivery for a lease, if no other caller took it since it was read. */
  private async claimOne(row: DeliveryRow, leaseUntil: string): Promise<DeliveryRow | undefined> {
    if (row.attempts === 0) {
      // The index first, so finishDelivery (by id alone) finds every delivery ever claimed.
      await this.tables.shared.upsertEntity(
        {
          partitionKey: DELIVERY_INDEX,
          rowKey: String(row.id),
          partition: row.partitionKey,
          row: row.rowKey,
        },
        'Replace',
      );
    }
    const next: DeliveryRow = { ...row, state: 'sending', attempts: row.attempts + 1, leaseUntil };
    return this.replaceIfUnchanged(next, () => next);
  }

  /** Replaces a delivery if it is still as read (its ETag); `won` is the result when it was. */
  private async replaceIfUnchanged<T>(row: DeliveryRow, won: () => T): Promise<T | undefined> {
    try {
      await this.tables.tenants.updateEntity(deliveryEntity(row), 'Replace', { etag: row.etag });
      return won();
    } catch (error) {
      if (retriable(error)) return undefined;
      throw error;
    }
  }

  private async deliveryLocation(id: number): Promise<{ pk: string; rk: string } | undefined> {
    const index = await this.tables.get(this.tables.shared, DELIVERY_INDEX, String(id));
    return index ? { pk: text(index, 'partition'), rk: text(index, 'row') } : undefined;
  }

  private async toDeliveries(rows: DeliveryRow[]): Promise<Delivery[]> {
    const notifications = new Map<string, Promise<ElevationNotification>>();
    const subscriptions = new Map<string, Promise<Stored | undefined>>();
    const deliveries = await Promise.all(
      rows.map(async (row): Promise<Delivery> => {
        const notificationKey = `${row.partitionKey}\n${row.notificationId}`;
        if (!notifications.has(notificationKey)) {
          notifications.set(
            notificationKey,
            this.tables
              .get(this.tables.tenants, row.partitionKey, notificationRow(row.notificationId))
              .then(
                (e) => JSON.parse((e && unpackText(e, 'data')) ?? '{}') as ElevationNotification,
              ),
          );
        }
        if (!subscriptions.has(row.channelId)) {
          subscriptions.set(
            row.channelId,
            this.conversations
              .partitionOfSubscription(row.channelId)
              .then((pk) =>
                pk
                  ? this.tables.get(this.tables.tenants, pk, subscriptionRow(row.channelId))
                  : undefined,
              ),
          );
        }
        const [notification, subscription] = await Promise.all([
          notifications.get(notificationKey)!,
          subscriptions.get(row.channelId)!,
        ]);
        return {
          id: row.id,
          channelId: row.channelId,
          attempts: row.attempts,
          notification,
          subscription:
            subscription && subscription.suspended !== true
              ? toSubscription(subscription)
              : undefined,
        };
      }),
    );
    return deliveries.sort((a, b) => a.id - b.id);
  }
}
