/**
 * The default store: one SQLite file (WAL), zero setup. Transitions are single conditional
 * UPDATE statements, so a request changes state at most once even under concurrent clicks, and
 * across processes sharing the file.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type ChannelSubscription,
  type ElevationNotification,
  filterMatches,
} from '../elevation/notifications';
import type {
  AuditEvent,
  ConversationRecord,
  Delivery,
  Effects,
  ElevationStore,
  Transition,
} from '../elevation/ports';
import type { ElevationRequest, RequestState } from '../elevation/request';

export interface SqliteStoreOptions {
  /** Path of the database file; ':memory:' for a private in-memory database. */
  path: string;
}

interface RequestRow {
  state: RequestState;
  updated_at: string;
  data: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS elevation_requests (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS elevation_requests_waiting ON elevation_requests (state, expires_at);
CREATE TABLE IF NOT EXISTS once_keys (
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  request_id TEXT,
  actor TEXT,
  tenant_id TEXT,
  environment_id TEXT,
  details TEXT
);
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL,
  tenant_id TEXT,
  team_id TEXT,
  suspended INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  reference TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_team ON conversations (team_id);
CREATE TABLE IF NOT EXISTS subscriptions (
  channel_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  team_id TEXT,
  suspended INTEGER NOT NULL DEFAULT 0,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_tenant ON subscriptions (tenant_id);
CREATE INDEX IF NOT EXISTS subscriptions_team ON subscriptions (team_id);
CREATE TABLE IF NOT EXISTS notifications (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  data TEXT NOT NULL
);
-- The outbox: one row per notification and channel, so each channel gets each one at most once.
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER,
  last_error TEXT,
  finished_at TEXT,
  UNIQUE (notification_id, channel_id)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_channel ON deliveries (channel_id, state);
`;

interface DeliveryRow {
  id: number;
  notification_id: string;
  channel_id: string;
  attempts: number;
}

/** What the outbox holds for one delivery (for tests and diagnostics). */
export interface DeliveryRecord {
  id: number;
  notificationId: string;
  channelId: string;
  state: 'pending' | 'sending' | 'delivered' | 'dropped';
  attempts: number;
  lastError?: string;
}

export class SqliteStore implements ElevationStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.statements = {
      insert: this.db.prepare(
        'INSERT INTO elevation_requests (id, state, expires_at, updated_at, data) VALUES (?, ?, ?, ?, ?)',
      ),
      find: this.db.prepare<[string], RequestRow>(
        'SELECT state, updated_at, data FROM elevation_requests WHERE id = ?',
      ),
      // One statement: the state check and the write cannot be separated by another writer.
      transition: this.db.prepare<
        [string, string, string, string, string, number | null, number | null],
        RequestRow
      >(
        `UPDATE elevation_requests
            SET state = ?, updated_at = ?, data = json_patch(data, ?)
          WHERE id = ?
            AND state IN (SELECT value FROM json_each(?))
            AND (? IS NULL OR expires_at > ?)
        RETURNING state, updated_at, data`,
      ),
      // Inserts the key, or takes over an expired one; changes === 1 only for the one winner.
      claimOnce: this.db.prepare<[string, number, number]>(
        `INSERT INTO once_keys (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE once_keys.expires_at <= ?`,
      ),
      forgetExpiredKeys: this.db.prepare<[number]>('DELETE FROM once_keys WHERE expires_at <= ?'),
      setCard: this.db.prepare(
        'UPDATE elevation_requests SET data = json_patch(data, ?) WHERE id = ?',
      ),
      expired: this.db.prepare<[number, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE state = 'requested' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
      ),
      audit: this.db.prepare(
        `INSERT INTO audit_events (at, type, request_id, actor, tenant_id, environment_id, details)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
      saveConversation: this.db.prepare(
        `INSERT INTO conversations (id, scope, tenant_id, team_id, updated_at, reference)
         VALUES (@id, @scope, @tenantId, @teamId, @updatedAt, @reference)
         ON CONFLICT (id) DO UPDATE SET scope = excluded.scope, tenant_id = excluded.tenant_id,
           team_id = excluded.team_id, updated_at = excluded.updated_at,
           reference = excluded.reference, suspended = 0`,
      ),
      findConversation: this.db.prepare<
        [string],
        {
          id: string;
          scope: ConversationRecord['scope'];
          tenant_id: string | null;
          team_id: string | null;
          suspended: number;
          updated_at: string;
          reference: string;
        }
      >('SELECT * FROM conversations WHERE id = ?'),
      forgetConversation: this.db.prepare<[string]>('DELETE FROM conversations WHERE id = ?'),
      forgetTeam: this.db.prepare<[string, string]>(
        'DELETE FROM conversations WHERE team_id = ? OR id = ?',
      ),
      unsubscribeTeam: this.db.prepare<[string]>('DELETE FROM subscriptions WHERE team_id = ?'),
      suspendConversation: this.db.prepare<[number, string]>(
        'UPDATE conversations SET suspended = ? WHERE id = ?',
      ),
      suspendTeam: this.db.prepare<[number, string, string]>(
        'UPDATE conversations SET suspended = ? WHERE team_id = ? OR id = ?',
      ),
      suspendSubscription: this.db.prepare<[number, string]>(
        'UPDATE subscriptions SET suspended = ? WHERE channel_id = ?',
      ),
      suspendTeamSubscriptions: this.db.prepare<[number, string]>(
        'UPDATE subscriptions SET suspended = ? WHERE team_id = ?',
      ),
      subscribe: this.db.prepare(
        `INSERT INTO subscriptions (channel_id, tenant_id, team_id, data)
         VALUES (@channelId, @tenantId, @teamId, @data)
         ON CONFLICT (channel_id) DO UPDATE SET tenant_id = excluded.tenant_id,
           team_id = excluded.team_id, data = excluded.data, suspended = 0`,
      ),
      findSubscription: this.db.prepare<[string], { data: string; suspended: number }>(
        'SELECT data, suspended FROM subscriptions WHERE channel_id = ?',
      ),
      unsubscribe: this.db.prepare<[string]>('DELETE FROM subscriptions WHERE channel_id = ?'),
      tenantSubscriptions: this.db.prepare<[string], { channel_id: string; data: string }>(
        'SELECT channel_id, data FROM subscriptions WHERE tenant_id = ? AND suspended = 0',
      ),
      insertNotification: this.db.prepare(
        'INSERT OR IGNORE INTO notifications (id, tenant_id, created_at, data) VALUES (?, ?, ?, ?)',
      ),
      insertDelivery: this.db.prepare(
        `INSERT OR IGNORE INTO deliveries (notification_id, channel_id, state, next_attempt_at)
         VALUES (?, ?, 'pending', ?)`,
      ),
      claimDeliveries: this.db.prepare<[number, number, number], DeliveryRow>(
        `UPDATE deliveries SET state = 'sending', attempts = attempts + 1, lease_until = ?
          WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND next_attempt_at <= ?
                        ORDER BY next_attempt_at, id LIMIT ?)
        RETURNING id, notification_id, channel_id, attempts`,
      ),
      notificationData: this.db.prepare<[string], { data: string }>(
        'SELECT data FROM notifications WHERE id = ?',
      ),
      finishDelivery: this.db.prepare<
        [{ state: string; at: string; error: string | null; id: number }]
      >(
        // A late success counts even after the delivery was given up as abandoned.
        `UPDATE deliveries
            SET state = @state, finished_at = @at, last_error = COALESCE(@error, last_error),
                lease_until = NULL
          WHERE id = @id AND (state = 'sending' OR (state = 'dropped' AND @state = 'delivered'))`,
      ),
      retryDelivery: this.db.prepare<[number, string, number]>(
        `UPDATE deliveries SET state = 'pending', next_attempt_at = ?, last_error = ?,
           lease_until = NULL WHERE id = ? AND state = 'sending'`,
      ),
      dropChannelDeliveries: this.db.prepare<[string, string, string]>(
        `UPDATE deliveries SET state = 'dropped', last_error = ?, finished_at = ?
          WHERE channel_id = ? AND state = 'pending'`,
      ),
      abandonStale: this.db.prepare<[string, number], DeliveryRow>(
        `UPDATE deliveries SET state = 'dropped', finished_at = ?, lease_until = NULL,
           last_error = 'the process stopped while sending; not sent again, so the channel may not have it'
          WHERE state = 'sending' AND lease_until <= ?
        RETURNING id, notification_id, channel_id, attempts`,
      ),
      nextDue: this.db.prepare<[], { due: number | null }>(
        "SELECT MIN(next_attempt_at) AS due FROM deliveries WHERE state = 'pending'",
      ),
    };
  }

  async createRequest(request: ElevationRequest): Promise<void> {
    const { state, updatedAt, ...rest } = request;
    this.statements.insert.run(
      request.id,
      state,
      Date.parse(request.expiresAt),
      updatedAt,
      JSON.stringify(rest),
    );
  }

  async findRequest(id: string): Promise<ElevationRequest | undefined> {
    const row = this.statements.find.get(id);
    return row ? toRequest(row) : undefined;
  }

  async transition(
    id: string,
    change: Transition,
    effects?: Effects,
  ): Promise<ElevationRequest | undefined> {
    const unexpired = change.unexpiredAt ? change.unexpiredAt.getTime() : null;
    return this.db.transaction(() => {
      const row = this.statements.transition.get(
        change.to,
        change.at.toISOString(),
        JSON.stringify(change.set ?? {}),
        id,
        JSON.stringify(change.from),
        unexpired,
        unexpired,
      );
      if (!row) return undefined;
      this.applyEffects(effects, change.at);
      return toRequest(row);
    })();
  }

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    const claimed = this.statements.claimOnce.run(key, expiresAt.getTime(), now).changes === 1;
    // Expired keys are cleaned up as new ones arrive; a little now and then is enough.
    if (claimed && Math.random() < 0.01) this.statements.forgetExpiredKeys.run(now);
    return claimed;
  }

  async setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void> {
    this.statements.setCard.run(JSON.stringify({ conversation, cardMessageId }), id);
  }

  async findExpired(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.statements.expired.all(now.getTime(), limit).map(toRequest);
  }

  async appendAudit(event: AuditEvent, notification?: ElevationNotification): Promise<void> {
    if (notification) {
      this.db.transaction(() => this.applyEffects({ audit: event, notification }, event.at))();
      return;
    }
    this.insertAudit(event);
  }

  private insertAudit(event: AuditEvent): void {
    this.statements.audit.run(
      event.at.toISOString(),
      event.type,
      event.requestId ?? null,
      event.actor ?? null,
      event.tenantId ?? null,
      event.environmentId ?? null,
      event.details ? JSON.stringify(event.details) : null,
    );
  }

  async saveConversation(record: ConversationRecord): Promise<void> {
    this.statements.saveConversation.run({
      id: record.id,
      scope: record.scope,
      tenantId: record.tenantId?.toLowerCase() ?? null,
      teamId: record.teamId ?? null,
      updatedAt: record.updatedAt,
      reference: JSON.stringify(record.reference),
    });
  }

  async findConversation(
    id: string,
  ): Promise<(ConversationRecord & { suspended: boolean }) | undefined> {
    const row = this.statements.findConversation.get(id);
    if (!row) return undefined;
    return {
      id: row.id,
      scope: row.scope,
      tenantId: row.tenant_id ?? undefined,
      teamId: row.team_id ?? undefined,
      reference: JSON.parse(row.reference) as unknown,
      updatedAt: row.updated_at,
      suspended: row.suspended === 1,
    };
  }

  async forgetConversations(target: { id: string } | { teamId: string }): Promise<void> {
    this.db.transaction(() => {
      if ('teamId' in target) {
        this.statements.forgetTeam.run(target.teamId, target.teamId);
        this.statements.unsubscribeTeam.run(target.teamId);
      } else {
        this.statements.forgetConversation.run(target.id);
        this.statements.unsubscribe.run(target.id);
      }
    })();
  }

  async suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void> {
    const flag = suspended ? 1 : 0;
    this.db.transaction(() => {
      if ('teamId' in target) {
        this.statements.suspendTeam.run(flag, target.teamId, target.teamId);
        this.statements.suspendTeamSubscriptions.run(flag, target.teamId);
      } else {
        this.statements.suspendConversation.run(flag, target.id);
        this.statements.suspendSubscription.run(flag, target.id);
      }
    })();
  }

  async subscribe(subscription: ChannelSubscription, effects?: Effects): Promise<boolean> {
    return this.db.transaction(() => {
      const existed = this.statements.findSubscription.get(subscription.channelId) !== undefined;
      this.statements.subscribe.run({
        channelId: subscription.channelId,
        tenantId: subscription.tenantId.toLowerCase(),
        teamId: subscription.teamId ?? null,
        data: JSON.stringify(subscription),
      });
      this.applyEffects(effects, new Date());
      return existed;
    })();
  }

  async unsubscribe(channelId: string, effects?: Effects): Promise<boolean> {
    return this.db.transaction(() => {
      const removed = this.statements.unsubscribe.run(channelId).changes === 1;
      if (removed) this.applyEffects(effects, new Date());
      return removed;
    })();
  }

  async findSubscription(channelId: string): Promise<ChannelSubscription | undefined> {
    const row = this.statements.findSubscription.get(channelId);
    return row ? (JSON.parse(row.data) as ChannelSubscription) : undefined;
  }

  async claimDeliveries(now: Date, limit: number, leaseMs: number): Promise<Delivery[]> {
    return this.db.transaction(() => {
      const rows = this.statements.claimDeliveries.all(
        now.getTime() + leaseMs,
        now.getTime(),
        limit,
      );
      return rows.sort((a, b) => a.id - b.id).map((row) => this.toDelivery(row));
    })();
  }

  async finishDelivery(
    id: number,
    result: { state: 'delivered' | 'dropped'; at: Date; error?: string },
    effects?: Effects,
  ): Promise<void> {
    this.db.transaction(() => {
      this.statements.finishDelivery.run({
        state: result.state,
        at: result.at.toISOString(),
        error: result.error ?? null,
        id,
      });
      this.applyEffects(effects, result.at);
    })();
  }

  async retryDelivery(id: number, nextAttemptAt: Date, error: string): Promise<void> {
    this.statements.retryDelivery.run(nextAttemptAt.getTime(), error, id);
  }

  async dropChannel(channelId: string, reason: string, effects?: Effects): Promise<number> {
    return this.db.transaction(() => {
      this.statements.unsubscribe.run(channelId);
      const dropped = this.statements.dropChannelDeliveries.run(
        reason,
        new Date().toISOString(),
        channelId,
      ).changes;
      this.applyEffects(effects, new Date());
      return dropped;
    })();
  }

  async abandonStaleDeliveries(now: Date): Promise<Delivery[]> {
    return this.db.transaction(() =>
      this.statements.abandonStale
        .all(now.toISOString(), now.getTime())
        .map((row) => this.toDelivery(row)),
    )();
  }

  async nextDeliveryDue(): Promise<Date | undefined> {
    const due = this.statements.nextDue.get()?.due;
    return due === null || due === undefined ? undefined : new Date(due);
  }

  /** The outbox's rows in order (for tests and diagnostics). */
  deliveries(): DeliveryRecord[] {
    const rows = this.db
      .prepare(
        'SELECT id, notification_id, channel_id, state, attempts, last_error FROM deliveries ORDER BY id',
      )
      .all() as Array<{
      id: number;
      notification_id: string;
      channel_id: string;
      state: DeliveryRecord['state'];
      attempts: number;
      last_error: string | null;
    }>;
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notification_id,
      channelId: r.channel_id,
      state: r.state,
      attempts: r.attempts,
      lastError: r.last_error ?? undefined,
    }));
  }

  private toDelivery(row: DeliveryRow): Delivery {
    const data = this.statements.notificationData.get(row.notification_id)?.data;
    const subscription = this.statements.findSubscription.get(row.channel_id);
    return {
      id: row.id,
      channelId: row.channel_id,
      attempts: row.attempts,
      notification: JSON.parse(data ?? '{}') as ElevationNotification,
      subscription:
        subscription && subscription.suspended === 0
          ? (JSON.parse(subscription.data) as ChannelSubscription)
          : undefined,
    };
  }

  /** Writes the effects of a step; runs inside the caller's transaction. */
  private applyEffects(effects: Effects | undefined, at: Date): void {
    if (effects?.audit) this.insertAudit(effects.audit);
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
    for (const row of this.statements.tenantSubscriptions.all(
      notification.tenantId.toLowerCase(),
    )) {
      const subscription = JSON.parse(row.data) as ChannelSubscription;
      if (filterMatches(subscription.filter, notification)) {
        this.statements.insertDelivery.run(notification.id, row.channel_id, at.getTime());
      }
    }
  }

  /** Audit events in order (for tests and, later, the audit commands). */
  auditEvents(): Array<AuditEvent & { seq: number }> {
    const rows = this.db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Array<
      Record<string, string | number | null>
    >;
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: new Date(String(r.at)),
      type: r.type as AuditEvent['type'],
      requestId: (r.request_id as string | null) ?? undefined,
      actor: (r.actor as string | null) ?? undefined,
      tenantId: (r.tenant_id as string | null) ?? undefined,
      environmentId: (r.environment_id as string | null) ?? undefined,
      details: r.details ? (JSON.parse(String(r.details)) as Record<string, unknown>) : undefined,
    }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function toRequest(row: RequestRow): ElevationRequest {
  const data = JSON.parse(row.data) as Omit<ElevationRequest, 'state' | 'updatedAt'>;
  return { ...data, state: row.state, updatedAt: row.updated_at };
}
