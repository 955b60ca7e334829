/**
 * The fan-out of a notification on Table Storage: one outbox row per subscribed channel whose
 * filter matches, as many as fit in the step's transaction, the rest right after it (or, should
 * the process stop first, before the next claim of any instance); and the delivery ids, unique
 * across instances.
 */
import { odata, type TransactionAction } from '@azure/data-tables';
import { type ElevationNotification, filterMatches } from '../../elevation/notifications';
import {
  checkEntity,
  deliveryEntity,
  type Entity,
  MAX_TRANSACTION_BYTES,
  type Stored,
  MAX_TRANSACTION_OPERATIONS,
  notificationEntity,
  notificationRow,
  pendingDelivery,
  text,
  tooBig,
  toSubscription,
  unpackText,
  wireBytes,
} from './entities';
import { BoundedMap } from '../../support/bounded-map';
import { compare, COUNTER, retriable, RETRY, retrying, statusOf, type Tables } from './tables';

/** Delivery ids reserved per round trip to the counter. */
const ID_BLOCK = 1000;

/** How long an audience read ahead stands in for a fresh read (an API call with its retries). */
const AHEAD_MS = 120_000;

/** Audiences read ahead at once, at most (beyond, the oldest are forgotten and read again). */
const AHEAD_READS = 1_000;

export class FanOut {
  private ids = { next: 0, end: 0 };
  private idQueue: Promise<unknown> = Promise.resolve();
  /**
   * The subscriptions of a partition read when a step announced a notification about request
   * (the key) to come, and when that read started: the notification, once staged, is sent to
   * them instead of reading them again on the answer's path (see Effects.notificationFollows).
   */
  private readonly ahead = new BoundedMap<
    string,
    { pk: string; startedAt: number; subscriptions: Promise<Stored[]> }
  >(AHEAD_READS);

  constructor(private readonly tables: Tables) {}

  /**
   * The operations that write `notification` into partition `pk` after `core` (the step's own
   * operations and its audit links): the notification with one outbox row per matching
   * subscription, for as many as the transaction can hold, and what writes the others after it.
   */
  async stage(
    pk: string,
    notification: ElevationNotification,
    at: Date,
    core: TransactionAction[],
  ): Promise<{ actions: TransactionAction[]; followUp?: () => Promise<void> }> {
    const actions: TransactionAction[] = [];
    let followUp: (() => Promise<void>) | undefined;
    const channels = await this.matchingChannels(pk, notification);
    const room = MAX_TRANSACTION_OPERATIONS - core.length - 1;
    let bytes =
      core.reduce((sum, action) => sum + wireBytes(action[1]), 0) +
      wireBytes(notificationEntity(pk, notification, true, at));
    if (bytes > MAX_TRANSACTION_BYTES) throw tooBig(bytes);
    const now: string[] = [];
    for (const channelId of channels) {
      const weight = wireBytes(
        deliveryEntity(pendingDelivery(pk, notification.id, channelId, 0, at)),
      );
      if (now.length >= room || bytes + weight > MAX_TRANSACTION_BYTES) break;
      now.push(channelId);
      bytes += weight;
    }
    const rest = channels.slice(now.length);
    const ids = await this.deliveryIds(now.length);
    const entity = notificationEntity(pk, notification, rest.length > 0, at);
    checkEntity(entity, `the notification ${notification.id}`);
    actions.push(['create', entity]);
    now.forEach((channelId, i) => {
      actions.push([
        'create',
        deliveryEntity(pendingDelivery(pk, notification.id, channelId, ids[i]!, at)),
      ]);
    });
    if (rest.length > 0) {
      followUp = async () => {
        try {
          await this.completeFanout(pk, notification.id, rest, at);
        } catch {
          // The outcome is recorded; the notification says its fan-out is unfinished, and the
          // next claimDeliveries (of any instance) finishes it.
        }
      };
    }
    return { actions, followUp };
  }

  /** Reads the audience of request `requestId`'s coming notification now, for `stage` to use. */
  readAhead(pk: string, requestId: string): void {
    const subscriptions = this.subscriptionsOf(pk);
    // A failed read is read again when the notification is staged.
    subscriptions.catch(() => undefined);
    this.ahead.set(requestId, { pk, startedAt: performance.now(), subscriptions });
  }

  /** The subscriptions read ahead for `notification`, once, if recent; else undefined. */
  private async readBefore(
    pk: string,
    notification: ElevationNotification,
  ): Promise<Stored[] | undefined> {
    const id = notification.requestId;
    const ahead = id === undefined ? undefined : this.ahead.get(id);
    if (!ahead) return undefined;
    this.ahead.delete(id!);
    if (ahead.pk !== pk || performance.now() - ahead.startedAt > AHEAD_MS) return undefined;
    return ahead.subscriptions.catch(() => undefined);
  }

  private subscriptionsOf(pk: string): Promise<Stored[]> {
    return this.tables.list(
      this.tables.tenants,
      odata`PartitionKey eq ${pk} and RowKey ge ${'sub|'} and RowKey lt ${'sub}'} and suspended eq false`,
    );
  }

  /** Subscribed, not suspended channels of the partition whose filter wants the notification. */
  private async matchingChannels(
    pk: string,
    notification: ElevationNotification,
  ): Promise<string[]> {
    const subscriptions =
      (await this.readBefore(pk, notification)) ?? (await this.subscriptionsOf(pk));
    return subscriptions
      .map(toSubscription)
      .filter((s) => filterMatches(s.filter, notification))
      .map((s) => s.channelId)
      .sort(compare);
  }

  /** The outbox rows beyond the first transaction; idempotent. */
  private async completeFanout(
    pk: string,
    notificationId: string,
    channels: string[],
    at: Date,
  ): Promise<void> {
    for (let i = 0; i < channels.length; i += MAX_TRANSACTION_OPERATIONS) {
      const chunk = channels.slice(i, i + MAX_TRANSACTION_OPERATIONS);
      const ids = await this.deliveryIds(chunk.length);
      const entities = chunk.map((channelId, j) =>
        deliveryEntity(pendingDelivery(pk, notificationId, channelId, ids[j]!, at)),
      );
      try {
        await this.tables.tenants.submitTransaction(
          entities.map((e): TransactionAction => ['create', e]),
        );
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
        // Some were written before (an earlier attempt, another instance): the others one by one.
        for (const entity of entities) {
          try {
            await this.tables.tenants.createEntity(entity);
          } catch (inner) {
            if (statusOf(inner) !== 409) throw inner;
          }
        }
      }
    }
    try {
      await this.tables.tenants.updateEntity(
        { partitionKey: pk, rowKey: notificationRow(notificationId), fanoutPending: false },
        'Merge',
      );
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** Finishes fan-outs left unfinished by a process that stopped. */
  async repairFanouts(): Promise<void> {
    const unfinished = await this.tables.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'notif|'} and RowKey lt ${'notif}'} and fanoutPending eq true`,
    );
    for (const entity of unfinished) {
      const notification = JSON.parse(unpackText(entity, 'data')!) as ElevationNotification;
      const pk = entity.partitionKey!;
      const channels = await this.matchingChannels(pk, notification);
      await this.completeFanout(pk, notification.id, channels, new Date(text(entity, 'fanoutAt')));
    }
  }

  /** Delivery ids, unique across instances: blocks reserved from a counter (ETag-conditional). */
  private deliveryIds(count: number): Promise<number[]> {
    if (count === 0) return Promise.resolve([]);
    const run = this.idQueue.then(async () => {
      const ids: number[] = [];
      while (ids.length < count) {
        if (this.ids.next >= this.ids.end) {
          const size = Math.max(ID_BLOCK, count - ids.length);
          const start = await this.reserveIds(size);
          this.ids = { next: start, end: start + size };
        }
        ids.push(this.ids.next);
        this.ids.next += 1;
      }
      return ids;
    });
    this.idQueue = run.catch(() => undefined);
    return run;
  }

  private reserveIds(size: number): Promise<number> {
    return retrying('reserving delivery ids', async () => {
      const counter = await this.tables.get(this.tables.shared, COUNTER, 'delivery-id');
      const start = counter ? Number(text(counter, 'next')) : 1;
      const entity: Entity = {
        partitionKey: COUNTER,
        rowKey: 'delivery-id',
        next: String(start + size),
      };
      try {
        if (counter)
          await this.tables.shared.updateEntity(entity, 'Replace', { etag: counter.etag });
        else await this.tables.shared.createEntity(entity);
        return start;
      } catch (error) {
        if (retriable(error)) return RETRY;
        throw error;
      }
    });
  }
}
