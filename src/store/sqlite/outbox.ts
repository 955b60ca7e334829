/**
 * The notification outbox in the SQLite file, and the effects written with a step: its audit
 * link and its notification, fanned out at once into one delivery row per subscribed channel
 * whose filter matches, so each channel gets each notification at most once. Deliveries are
 * leased to one sender at a time; one abandoned mid-send is dropped, never sent twice.
 */
import type Database from 'better-sqlite3';
import { type ElevationNotification, filterMatches } from '../../elevation/notifications';
import type { Delivery, Effects } from '../../elevation/ports';
import { ABANDONED } from '../deliveries';
import type { SqliteAudit } from './audit';
import type { SqliteConversations } from './conversations';

/** Writes the effects of a step; runs inside the caller's transaction. */
export type WriteEffects = (effects: Effects | undefined, at: Date) => void;

interface DeliveryRow {
  id: number;
  notification_id: string;
  channel_id: string;
  attempts: number;
}

export class SqliteOutbox {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAudit,
    private readonly conversations: SqliteConversations,
  ) {
    this.statements = {
      insertNotification: db.prepare(
        'INSERT OR IGNORE INTO notifications (id, tenant_id, created_at, data) VALUES (?, ?, ?, ?)',
      ),
      insertDelivery: db.prepare(
        `INSERT OR IGNORE INTO deliveries (notification_id, channel_id, state, next_attempt_at)
         VALUES (?, ?, 'pending', ?)`,
      ),
      claimDeliveries: db.prepare<[number, number, number], DeliveryRow>(
        `UPDATE deliveries SET state = 'sending', attempts = attempts + 1, lease_until = ?
          WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?
                        ORDER BY next_attempt_at, id LIMIT ?)
        RETURNING id, notification_id, channel_id, attempts`,
      ),
      notificationData: db.prepare<[string], { data: string }>(
        'SELECT data FROM notifications WHERE id = ?',
      ),
      finishDelivery: db.prepare<[{ state: string; at: string; error: string | null; id: number }]>(
        // A late success counts even after the delivery was given up as abandoned.
        `UPDATE deliveries
            SET state = @state, finished_at = @at, last_error = COALESCE(@error, last_error),
                lease_until = NULL
          WHERE id = @id AND (state = 'sending' OR (state = 'dropped' AND @state = 'delivered'))`,
      ),
      retryDelivery: db.prepare<[number, string, number]>(
        `UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = ?,
           lease_until = NULL WHERE id = ? AND state = 'sending'`,
      ),
      dropChannelDeliveries: db.prepare<[string, string, string]>(
        `UPDATE deliveries SET state = 'dropped', last_error = ?, finished_at = ?
          WHERE channel_id = ? AND state = 'pending'`,
      ),
      abandonStale: db.prepare<[string, number], DeliveryRow>(
        `UPDATE deliveries SET state = 'dropped', finished_at = ?, lease_until = NULL,
           last_error = '${ABANDONED}'
          WHERE state = 'sending' AND lease_until <= ?
        RETURNING id, notification_id, channel_id, attempts`,
      ),
      nextDue: db.prepare<[], { due: number | null }>(
        "SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE state = 'pending'",
      ),
      purgeDeliveries: db.prepare<[string]>(
        `DELETE FROM deliveries WHERE state IN ('delivered', 'dropped') AND finished_at < ?`,
      ),
      purgeNotifications: db.prepare<[string]>(
        `DELETE FROM notifications WHERE created_at < ?
            AND id NOT IN (SELECT notification_id FROM deliveries)`,
      ),
    };
  }

  /** Writes the effects of a step; runs inside the caller's transaction. */
  readonly writeEffects: WriteEffects = (effects, at) => {
    if (effects?.audit) this.audit.insert(effects.audit);
    const notification = effects?.notification;
    if (!notification) return;
    const inserted = this.statements.insertNotification.run(
      notification.id,
      notification.tenantId.toLowerCase(),
      notification.at,
      JSON.stringify(notification),
    ).changes;
    if (inserted === 0) return;
    // Fan-out now, to the channels subscribed at this moment: one outbox row per channel.
    for (const { channelId, subscription } of this.conversations.activeSubscriptionsIn(
      notification.tenantId,
    )) {
      if (filterMatches(subscription.filter, notification)) {
        this.statements.insertDelivery.run(notification.id, channelId, at.getTime());
      }
    }
  };

  claimDeliveries(now: Date, limit: number, leaseMs: number): Delivery[] {
    return this.db
      .transaction(() => {
        const rows = this.statements.claimDeliveries.all(
          now.getTime() + leaseMs,
          now.getTime(),
          limit,
        );
        return rows.sort((a, b) => a.id - b.id).map((row) => this.toDelivery(row));
      })
      .immediate();
  }

  finishDelivery(
    id: number,
    result: { state: 'delivered' | 'dropped'; at: Date; error?: string },
    effects?: Effects,
  ): void {
    this.db
      .transaction(() => {
        const finished = this.statements.finishDelivery.run({
          state: result.state,
          at: result.at.toISOString(),
          error: result.error ?? null,
          id,
        }).changes;
        // A delivery already finished (say, a late failure after it was abandoned) records nothing.
        if (finished === 1) this.writeEffects(effects, result.at);
      })
      .immediate();
  }

  retryDelivery(id: number, nextAttemptAt: Date, error: string): void {
    this.statements.retryDelivery.run(nextAttemptAt.getTime(), error, id);
  }

  dropChannel(channelId: string, reason: string, effects?: Effects): number {
    return this.db
      .transaction(() => {
        this.conversations.removeSubscription(channelId);
        const dropped = this.statements.dropChannelDeliveries.run(
          reason,
          new Date().toISOString(),
          channelId,
        ).changes;
        this.writeEffects(effects, new Date());
        return dropped;
      })
      .immediate();
  }

  abandonStaleDeliveries(now: Date, effectsOf?: (delivery: Delivery) => Effects): Delivery[] {
    return this.db
      .transaction(() => {
        const abandoned = this.statements.abandonStale
          .all(now.toISOString(), now.getTime())
          .map((row) => this.toDelivery(row));
        for (const delivery of abandoned) this.writeEffects(effectsOf?.(delivery), now);
        return abandoned;
      })
      .immediate();
  }

  nextDeliveryDue(): Date | undefined {
    const due = this.statements.nextDue.get()?.due;
    return due === null || due === undefined ? undefined : new Date(due);
  }

  /** Removes finished deliveries, then notifications left without any; in the caller's transaction. */
  purge(cutoff: string): void {
    this.statements.purgeDeliveries.run(cutoff);
    this.statements.purgeNotifications.run(cutoff);
  }

  private toDelivery(row: DeliveryRow): Delivery {
    const data = this.statements.notificationData.get(row.notification_id)?.data;
    return {
      id: row.id,
      channelId: row.channel_id,
      attempts: row.attempts,
      notification: JSON.parse(data ?? '{}') as ElevationNotification,
      subscription: this.conversations.activeSubscription(row.channel_id),
    };
  }
}
