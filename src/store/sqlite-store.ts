/**
 * The default store: one SQLite file (WAL), zero setup. Transitions are conditional UPDATE
 * statements, so a request changes state at most once even under concurrent clicks, and across
 * processes sharing the file. Every write that must go together (an outcome, its audit link, its
 * notification) is one IMMEDIATE transaction: it takes the file's write lock first, so the audit
 * chain's next link is computed by one writer at a time, in any number of processes.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  type ChannelSubscription,
  type ElevationNotification,
  filterMatches,
} from '../elevation/notifications';
import { chainOf, linkAuditEvent, type StoredAuditEvent } from '../elevation/audit-chain';
import type {
  AuditEvent,
  AuditQuery,
  CloseOthers,
  ConversationRecord,
  Delivery,
  Effects,
  ElevationStore,
  Page,
  Transition,
  WindowCount,
} from '../elevation/ports';
import {
  type ElevationRequest,
  FINAL_STATES,
  type Requester,
  type RequestState,
} from '../elevation/request';

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
  data TEXT NOT NULL,
  -- Copies of fields in data that lists look up by: plain columns, so that rewriting data on each
  -- transition does not re-evaluate expression indexes.
  tenant_id TEXT,
  requester_id TEXT,
  environment_id TEXT,
  created_at TEXT
);
CREATE INDEX IF NOT EXISTS elevation_requests_waiting ON elevation_requests (state, expires_at);
CREATE TABLE IF NOT EXISTS once_keys (
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
-- The audit trail: append-only, one hash chain per tenant (see src/elevation/audit-chain.ts).
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  chain TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  request_id TEXT,
  actor TEXT,
  tenant_id TEXT,
  environment_id TEXT,
  details TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (chain, at);
-- Where a chain starts once retention removed its oldest events.
CREATE TABLE IF NOT EXISTS audit_anchors (
  chain TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
-- Counters per time window (refused sign-ins): counted atomically, taken once when ended.
CREATE TABLE IF NOT EXISTS window_counts (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  window_ends_at INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS window_counts_end ON window_counts (window_ends_at);
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
    migrateLegacyAudit(this.db);
    addRequestColumns(this.db);
    this.statements = {
      insert: this.db.prepare(
        `INSERT INTO elevation_requests
           (id, state, expires_at, updated_at, data, tenant_id, requester_id, environment_id, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      find: this.db.prepare<[string], RequestRow>(
        'SELECT state, updated_at, data FROM elevation_requests WHERE id = ?',
      ),
      // One statement: the state check and the write cannot be separated by another writer.
      // json_patch merges objects key by key: the first patch removes the fields being set, so
      // that each is replaced whole (a roleCheck or a conversation never mixes with the old one).
      transition: this.db.prepare<
        [string, string, string, string, string, string, number | null, number | null],
        RequestRow
      >(
        `UPDATE elevation_requests
            SET state = ?, updated_at = ?, data = json_patch(json_patch(data, ?), ?)
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
      // One statement: the insert or the increment, and the count it came to.
      countInWindow: this.db.prepare<[string, number, string], { count: number; data: string }>(
        `INSERT INTO window_counts (key, count, window_ends_at, data) VALUES (?, 1, ?, ?)
         ON CONFLICT (key) DO UPDATE SET count = count + 1
         RETURNING count, data`,
      ),
      takeEndedCounts: this.db.prepare<
        [number, number, string, number],
        { key: string; count: number; window_ends_at: number; data: string }
      >(
        `DELETE FROM window_counts WHERE key IN (
           SELECT key FROM window_counts
            WHERE window_ends_at <= ? AND substr(key, 1, ?) = ?
            ORDER BY window_ends_at LIMIT ?)
         RETURNING key, count, window_ends_at, data`,
      ),
      setCard: this.db.prepare<[string, string, string]>(
        'UPDATE elevation_requests SET data = json_patch(json_patch(data, ?), ?) WHERE id = ?',
      ),
      expired: this.db.prepare<[number, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE state = 'requested' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
      ),
      audit: this.db.prepare(INSERT_AUDIT),
      lastLink: this.db.prepare<[string], { seq: number; hash: string }>(
        'SELECT seq, hash FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1',
      ),
      anchor: this.db.prepare<[string], { seq: number; hash: string }>(
        'SELECT seq, hash FROM audit_anchors WHERE chain = ?',
      ),
      readAudit: this.db.prepare<[string, number, string, number], AuditRow>(
        `SELECT * FROM audit_log WHERE chain = ? AND seq > ? AND at >= ? ORDER BY seq LIMIT ?`,
      ),
      chains: this.db.prepare<[], { chain: string; seq: number | null; hash: string | null }>(
        `SELECT c.chain, a.seq, a.hash FROM
           (SELECT chain FROM audit_log UNION SELECT chain FROM audit_anchors) c
           LEFT JOIN audit_anchors a ON a.chain = c.chain ORDER BY c.chain`,
      ),
      lastBefore: this.db.prepare<[string, string], { seq: number; hash: string }>(
        `SELECT seq, hash FROM audit_log WHERE chain = ? AND at < ? ORDER BY seq DESC LIMIT 1`,
      ),
      pruneChain: this.db.prepare<[string, number]>(
        'DELETE FROM audit_log WHERE chain = ? AND seq <= ?',
      ),
      setAnchor: this.db.prepare<[string, number, string]>(
        `INSERT INTO audit_anchors (chain, seq, hash) VALUES (?, ?, ?)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
      ),
      readSecret: this.db.prepare<[string, number], { value: string }>(
        'SELECT value FROM secrets WHERE key = ? AND expires_at > ?',
      ),
      writeSecret: this.db.prepare<[string, string, number]>(
        `INSERT INTO secrets (key, value, expires_at) VALUES (?, ?, ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at`,
      ),
      deleteSecret: this.db.prepare<[string]>('DELETE FROM secrets WHERE key = ?'),
      abandoned: this.db.prepare<[string, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE state = 'executing' AND json_extract(data, '$.executionDeadline') <= ?
          ORDER BY updated_at LIMIT ?`,
      ),
      // Lists by outcome time (updated_at: a final state's is its outcome's), on their indexes;
      // the (updated_at, id) cursor pages both ways.
      requestsOfBefore: this.db.prepare<[string, string, string, string, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND requester_id = ? AND (updated_at, id) < (?, ?)
          ORDER BY updated_at DESC, id DESC LIMIT ?`,
      ),
      requestsOfAfter: this.db.prepare<[string, string, string, string, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND requester_id = ? AND (updated_at, id) > (?, ?)
          ORDER BY updated_at, id LIMIT ?`,
      ),
      requestsInBefore: this.db.prepare<[string, string, string, string, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND environment_id = ? AND state IN (${FINAL_SQL})
            AND (updated_at, id) < (?, ?)
          ORDER BY updated_at DESC, id DESC LIMIT ?`,
      ),
      requestsInAfter: this.db.prepare<[string, string, string, string, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND environment_id = ? AND state IN (${FINAL_SQL})
            AND (updated_at, id) > (?, ?)
          ORDER BY updated_at, id LIMIT ?`,
      ),
      openRequestsOf: this.db.prepare<[string, string, string], RequestRow & { id: string }>(
        `SELECT id, state, updated_at, data FROM elevation_requests
            INDEXED BY requests_of_requester_in_environment
          WHERE tenant_id = ? AND requester_id = ? AND environment_id = ? AND state = 'requested'
          ORDER BY updated_at, id`,
      ),
      lastExecutionOf: this.db.prepare<[string, string, string], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
            INDEXED BY requests_of_requester_in_environment
          WHERE tenant_id = ? AND requester_id = ? AND environment_id = ?
            AND state IN ('succeeded', 'failed')
          ORDER BY updated_at DESC LIMIT 1`,
      ),
      purgeSecrets: this.db.prepare<[number]>('DELETE FROM secrets WHERE expires_at <= ?'),
      purgeRequests: this.db.prepare<[string]>(
        `DELETE FROM elevation_requests
          WHERE state IN ('succeeded', 'failed', 'cancelled', 'expired') AND updated_at < ?`,
      ),
      purgeDeliveries: this.db.prepare<[string]>(
        `DELETE FROM deliveries WHERE state IN ('delivered', 'dropped') AND finished_at < ?`,
      ),
      purgeNotifications: this.db.prepare<[string]>(
        `DELETE FROM notifications WHERE created_at < ?
            AND id NOT IN (SELECT notification_id FROM deliveries)`,
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

  async createRequest(request: ElevationRequest, effects?: Effects): Promise<void> {
    const { state, updatedAt, ...rest } = request;
    this.db
      .transaction(() => {
        this.statements.insert.run(
          request.id,
          state,
          Date.parse(request.expiresAt),
          updatedAt,
          JSON.stringify(rest),
          request.requester.tenantId.toLowerCase(),
          request.requester.aadObjectId.toLowerCase(),
          request.environment.id.toLowerCase(),
          request.createdAt,
        );
        this.applyEffects(effects, new Date(request.createdAt));
        this.closeOthers(request, effects?.closeOthers, new Date(request.createdAt));
      })
      .immediate();
  }

  /**
   * Cancels the requester's other open requests in the environment, each with its audit event;
   * runs inside the caller's IMMEDIATE transaction, so no other writer can open one meanwhile.
   */
  private closeOthers(request: ElevationRequest, close: CloseOthers | undefined, at: Date): void {
    if (!close) return;
    const closed: ElevationRequest[] = [];
    for (const row of this.statements.openRequestsOf.all(
      request.requester.tenantId.toLowerCase(),
      request.requester.aadObjectId.toLowerCase(),
      request.environment.id.toLowerCase(),
    )) {
      if (row.id === request.id) continue;
      const moved = this.statements.transition.get(
        'cancelled',
        at.toISOString(),
        ...replacing({ closedBecause: close.because }),
        row.id,
        JSON.stringify(['requested']),
        null,
        null,
      );
      if (!moved) continue;
      const done = toRequest(moved);
      this.insertAudit(close.audit(done));
      closed.push(done);
    }
    close.closed = closed;
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
    return this.db
      .transaction(() => {
        const row = this.statements.transition.get(
          change.to,
          change.at.toISOString(),
          ...replacing(change.set ?? {}),
          id,
          JSON.stringify(change.from),
          unexpired,
          unexpired,
        );
        if (!row) return undefined;
        const moved = toRequest(row);
        this.applyEffects(effects, change.at);
        this.closeOthers(moved, effects?.closeOthers, change.at);
        return moved;
      })
      .immediate();
  }

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    const claimed = this.statements.claimOnce.run(key, expiresAt.getTime(), now).changes === 1;
    // Expired keys are cleaned up as new ones arrive; a little now and then is enough.
    if (claimed && Math.random() < 0.01) this.statements.forgetExpiredKeys.run(now);
    return claimed;
  }

  async countInWindow(
    key: string,
    windowEndsAt: Date,
    data: string,
  ): Promise<{ count: number; data: string }> {
    return this.statements.countInWindow.get(key, windowEndsAt.getTime(), data)!;
  }

  async takeEndedCounts(prefix: string, now: Date, limit: number): Promise<WindowCount[]> {
    return this.statements.takeEndedCounts
      .all(now.getTime(), prefix.length, prefix, limit)
      .map((row) => ({
        key: row.key,
        count: row.count,
        windowEndsAt: new Date(row.window_ends_at),
        data: row.data,
      }));
  }

  async setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void> {
    this.statements.setCard.run(...replacing({ conversation, cardMessageId }), id);
  }

  async findExpired(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.statements.expired.all(now.getTime(), limit).map(toRequest);
  }

  async appendAudit(event: AuditEvent, notification?: ElevationNotification): Promise<void> {
    this.db
      .transaction(() => this.applyEffects({ audit: event, notification }, event.at))
      .immediate();
  }

  /** The next link of the event's chain; runs inside the caller's IMMEDIATE transaction. */
  private insertAudit(event: AuditEvent): void {
    const chain = chainOf(event);
    const last = this.statements.lastLink.get(chain) ?? this.statements.anchor.get(chain);
    this.statements.audit.run(auditParameters(linkAuditEvent(event, last)));
  }

  async readAudit(query: AuditQuery): Promise<StoredAuditEvent[]> {
    return this.statements.readAudit
      .all(
        query.chain,
        query.afterSeq ?? 0,
        (query.since ?? new Date(0)).toISOString(),
        query.limit,
      )
      .map(toAuditEvent);
  }

  async auditChains(): Promise<Array<{ chain: string; anchor?: { seq: number; hash: string } }>> {
    return this.statements.chains.all().map((row) => ({
      chain: row.chain,
      anchor: row.seq !== null && row.hash !== null ? { seq: row.seq, hash: row.hash } : undefined,
    }));
  }

  async pruneAudit(before: Date): Promise<number> {
    return this.db
      .transaction(() => {
        let removed = 0;
        for (const { chain } of this.statements.chains.all()) {
          // Whole links only, from the start: the last removed one becomes the chain's anchor.
          const last = this.statements.lastBefore.get(chain, before.toISOString());
          if (!last) continue;
          removed += this.statements.pruneChain.run(chain, last.seq).changes;
          this.statements.setAnchor.run(chain, last.seq, last.hash);
        }
        return removed;
      })
      .immediate();
  }

  async readSecret(key: string, now: Date): Promise<string | undefined> {
    return this.statements.readSecret.get(key, now.getTime())?.value;
  }

  async writeSecret(key: string, value: string, expiresAt: Date): Promise<void> {
    this.statements.writeSecret.run(key, value, expiresAt.getTime());
  }

  async deleteSecret(key: string): Promise<void> {
    this.statements.deleteSecret.run(key);
  }

  async findAbandonedExecutions(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.statements.abandoned.all(now.toISOString(), limit).map(toRequest);
  }

  async requestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    page: Page,
  ): Promise<ElevationRequest[]> {
    const key = [user.tenantId.toLowerCase(), user.aadObjectId.toLowerCase()] as const;
    if (page.after) {
      return this.statements.requestsOfAfter
        .all(...key, page.after.at, page.after.id, page.limit)
        .map(toRequest)
        .reverse();
    }
    const before = page.before ?? END_OF_LIST;
    return this.statements.requestsOfBefore
      .all(...key, before.at, before.id, page.limit)
      .map(toRequest);
  }

  async requestsIn(
    tenantId: string,
    environmentId: string,
    page: Page,
  ): Promise<ElevationRequest[]> {
    const key = [tenantId.toLowerCase(), environmentId.toLowerCase()] as const;
    if (page.after) {
      return this.statements.requestsInAfter
        .all(...key, page.after.at, page.after.id, page.limit)
        .map(toRequest)
        .reverse();
    }
    const before = page.before ?? END_OF_LIST;
    return this.statements.requestsInBefore
      .all(...key, before.at, before.id, page.limit)
      .map(toRequest);
  }

  async openRequestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest[]> {
    return this.statements.openRequestsOf
      .all(user.tenantId.toLowerCase(), user.aadObjectId.toLowerCase(), environmentId.toLowerCase())
      .map(toRequest);
  }

  async lastExecutionOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest | undefined> {
    const row = this.statements.lastExecutionOf.get(
      user.tenantId.toLowerCase(),
      user.aadObjectId.toLowerCase(),
      environmentId.toLowerCase(),
    );
    return row ? toRequest(row) : undefined;
  }

  async purgeExpired(now: Date, finishedBefore: Date): Promise<void> {
    const cutoff = finishedBefore.toISOString();
    this.db
      .transaction(() => {
        this.statements.forgetExpiredKeys.run(now.getTime());
        this.statements.purgeSecrets.run(now.getTime());
        this.statements.purgeRequests.run(cutoff);
        this.statements.purgeDeliveries.run(cutoff);
        this.statements.purgeNotifications.run(cutoff);
      })
      .immediate();
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
    this.db
      .transaction(() => {
        if ('teamId' in target) {
          this.statements.forgetTeam.run(target.teamId, target.teamId);
          this.statements.unsubscribeTeam.run(target.teamId);
        } else {
          this.statements.forgetConversation.run(target.id);
          this.statements.unsubscribe.run(target.id);
        }
      })
      .immediate();
  }

  async suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void> {
    const flag = suspended ? 1 : 0;
    this.db
      .transaction(() => {
        if ('teamId' in target) {
          this.statements.suspendTeam.run(flag, target.teamId, target.teamId);
          this.statements.suspendTeamSubscriptions.run(flag, target.teamId);
        } else {
          this.statements.suspendConversation.run(flag, target.id);
          this.statements.suspendSubscription.run(flag, target.id);
        }
      })
      .immediate();
  }

  async subscribe(subscription: ChannelSubscription, effects?: Effects): Promise<boolean> {
    return this.db
      .transaction(() => {
        const existed = this.statements.findSubscription.get(subscription.channelId) !== undefined;
        this.statements.subscribe.run({
          channelId: subscription.channelId,
          tenantId: subscription.tenantId.toLowerCase(),
          teamId: subscription.teamId ?? null,
          data: JSON.stringify(subscription),
        });
        this.applyEffects(effects, new Date());
        return existed;
      })
      .immediate();
  }

  async unsubscribe(channelId: string, effects?: Effects): Promise<boolean> {
    return this.db
      .transaction(() => {
        const removed = this.statements.unsubscribe.run(channelId).changes === 1;
        if (removed) this.applyEffects(effects, new Date());
        return removed;
      })
      .immediate();
  }

  async findSubscription(channelId: string): Promise<ChannelSubscription | undefined> {
    const row = this.statements.findSubscription.get(channelId);
    return row ? (JSON.parse(row.data) as ChannelSubscription) : undefined;
  }

  async claimDeliveries(now: Date, limit: number, leaseMs: number): Promise<Delivery[]> {
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

  async finishDelivery(
    id: number,
    result: { state: 'delivered' | 'dropped'; at: Date; error?: string },
    effects?: Effects,
  ): Promise<void> {
    this.db
      .transaction(() => {
        const finished = this.statements.finishDelivery.run({
          state: result.state,
          at: result.at.toISOString(),
          error: result.error ?? null,
          id,
        }).changes;
        // A delivery already finished (say, a late failure after it was abandoned) records nothing.
        if (finished === 1) this.applyEffects(effects, result.at);
      })
      .immediate();
  }

  async retryDelivery(id: number, nextAttemptAt: Date, error: string): Promise<void> {
    this.statements.retryDelivery.run(nextAttemptAt.getTime(), error, id);
  }

  async dropChannel(channelId: string, reason: string, effects?: Effects): Promise<number> {
    return this.db
      .transaction(() => {
        this.statements.unsubscribe.run(channelId);
        const dropped = this.statements.dropChannelDeliveries.run(
          reason,
          new Date().toISOString(),
          channelId,
        ).changes;
        this.applyEffects(effects, new Date());
        return dropped;
      })
      .immediate();
  }

  async abandonStaleDeliveries(
    now: Date,
    effectsOf?: (delivery: Delivery) => Effects,
  ): Promise<Delivery[]> {
    return this.db
      .transaction(() => {
        const abandoned = this.statements.abandonStale
          .all(now.toISOString(), now.getTime())
          .map((row) => this.toDelivery(row));
        for (const delivery of abandoned) this.applyEffects(effectsOf?.(delivery), now);
        return abandoned;
      })
      .immediate();
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

  /**
   * How SQLite runs the history, audit and open-card queries (for tests and diagnostics): the
   * EXPLAIN QUERY PLAN lines of each, so that a scan instead of an index search shows.
   */
  queryPlans(): Record<string, string[]> {
    const names = [
      'requestsOfBefore',
      'requestsOfAfter',
      'requestsInBefore',
      'requestsInAfter',
      'openRequestsOf',
      'lastExecutionOf',
    ] as const;
    return Object.fromEntries(
      names.map((name) => {
        const { source } = this.statements[name];
        const parameters = (source.match(/\?/g) ?? []).map(() => 'x');
        const plan = this.db.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...parameters) as Array<{
          detail: string;
        }>;
        return [name, plan.map((step) => step.detail)];
      }),
    );
  }

  /** Every audit event, in the order written (for tests). */
  auditEvents(): StoredAuditEvent[] {
    return (this.db.prepare('SELECT * FROM audit_log ORDER BY id').all() as AuditRow[]).map(
      toAuditEvent,
    );
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/**
 * Databases from before the lookup columns get them, filled from each request's data; the
 * indexes are on the columns (earlier versions indexed json_extract expressions).
 */
function addRequestColumns(db: Database.Database): void {
  const columns = (
    db.prepare('PRAGMA table_info(elevation_requests)').all() as Array<{
      name: string;
    }>
  ).map((c) => c.name);
  db.transaction(() => {
    if (!columns.includes('tenant_id')) {
      for (const column of ['tenant_id', 'requester_id', 'environment_id', 'created_at']) {
        db.exec(`ALTER TABLE elevation_requests ADD COLUMN ${column} TEXT`);
      }
      db.exec(`UPDATE elevation_requests SET
        tenant_id = lower(json_extract(data, '$.requester.tenantId')),
        requester_id = lower(json_extract(data, '$.requester.aadObjectId')),
        environment_id = lower(json_extract(data, '$.environment.id')),
        created_at = json_extract(data, '$.createdAt')`);
    }
    // history and audit list by outcome time (updated_at), not by when a request was made; audit
    // lists outcomes only (a partial index). Databases with the created_at indexes lose them.
    db.exec(`DROP INDEX IF EXISTS requests_by_requester;
      DROP INDEX IF EXISTS requests_by_environment;
      DROP INDEX IF EXISTS requests_of_requester;
      DROP INDEX IF EXISTS requests_in_environment;
      CREATE INDEX IF NOT EXISTS requests_of_requester_by_outcome
        ON elevation_requests (tenant_id, requester_id, updated_at, id);
      CREATE INDEX IF NOT EXISTS outcomes_in_environment
        ON elevation_requests (tenant_id, environment_id, updated_at, id)
        WHERE state IN (${FINAL_SQL});
      CREATE INDEX IF NOT EXISTS requests_of_requester_in_environment
        ON elevation_requests (tenant_id, requester_id, environment_id, state, updated_at);`);
  }).immediate();
}

/** The final states, for SQL (`state IN (...)`); the partial index and its queries use the same text. */
const FINAL_SQL = FINAL_STATES.map((state) => `'${state}'`).join(', ');

/** Where a newest-first list starts: before every (updated_at, id). */
const END_OF_LIST = { at: '\uffff', id: '' };

/** The two patches that replace each given top-level field whole: remove them, then set them. */
function replacing(fields: Record<string, unknown>): [string, string] {
  const given = Object.entries(fields).filter(([, value]) => value !== undefined);
  return [
    JSON.stringify(Object.fromEntries(given.map(([key]) => [key, null]))),
    JSON.stringify(Object.fromEntries(given)),
  ];
}

/**
 * Databases written before the audit trail was chained have an `audit_events` table: its events
 * are linked into chains, in the order they were written, and the old table goes.
 */
function migrateLegacyAudit(db: Database.Database): void {
  const legacy = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'")
    .get();
  if (!legacy) return;
  db.transaction(() => {
    const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as AuditColumns[];
    const last = new Map<string, { seq: number; hash: string }>();
    const insert = db.prepare(INSERT_AUDIT);
    for (const row of rows) {
      const event = eventOf(row);
      const linked = linkAuditEvent(event, last.get(chainOf(event)));
      last.set(linked.chain, linked);
      insert.run(auditParameters(linked));
    }
    db.exec('DROP TABLE audit_events');
  }).immediate();
}

const INSERT_AUDIT = `INSERT INTO audit_log (chain, seq, at, type, request_id, actor, tenant_id,
                                             environment_id, details, prev_hash, hash)
  VALUES (@chain, @seq, @at, @type, @requestId, @actor, @tenantId, @environmentId, @details,
          @prevHash, @hash)`;

function auditParameters(linked: StoredAuditEvent) {
  return {
    chain: linked.chain,
    seq: linked.seq,
    at: linked.at.toISOString(),
    type: linked.type,
    requestId: linked.requestId ?? null,
    actor: linked.actor ?? null,
    tenantId: linked.tenantId ?? null,
    environmentId: linked.environmentId ?? null,
    details: linked.details ? JSON.stringify(linked.details) : null,
    prevHash: linked.prevHash,
    hash: linked.hash,
  };
}

/** The columns an audit event has had in every version of the schema. */
interface AuditColumns {
  at: string;
  type: AuditEvent['type'];
  request_id: string | null;
  actor: string | null;
  tenant_id: string | null;
  environment_id: string | null;
  details: string | null;
}

function eventOf(row: AuditColumns): AuditEvent {
  return {
    at: new Date(row.at),
    type: row.type,
    requestId: row.request_id ?? undefined,
    actor: row.actor ?? undefined,
    tenantId: row.tenant_id ?? undefined,
    environmentId: row.environment_id ?? undefined,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : undefined,
  };
}

interface AuditRow extends AuditColumns {
  chain: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

function toAuditEvent(row: AuditRow): StoredAuditEvent {
  return {
    ...eventOf(row),
    chain: row.chain,
    seq: row.seq,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

function toRequest(row: RequestRow): ElevationRequest {
  const data = JSON.parse(row.data) as Omit<ElevationRequest, 'state' | 'updatedAt'>;
  return { ...data, state: row.state, updatedAt: row.updated_at };
}
