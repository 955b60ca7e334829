/**
 * The default store: one SQLite file (WAL), zero setup. One part per port (src/store/sqlite/):
 * requests, audit, outbox, conversations and subscriptions, secrets and once-keys, window counts,
 * on the schema of schema.ts. Every write that must go together (an outcome, its audit link, its
 * notification) is one IMMEDIATE transaction: it takes the file's write lock first, so the audit
 * chain's next link is computed by one writer at a time, in any number of processes.
 */
import type Database from 'better-sqlite3';
import type { StoredAuditEvent } from '../elevation/audit-chain';
import type { ChannelSubscription, ElevationNotification } from '../elevation/notifications';
import type {
  AuditEvent,
  AuditQuery,
  ConversationRecord,
  Delivery,
  Effects,
  ElevationStore,
  Page,
  Transition,
  WindowCount,
} from '../elevation/ports';
import type { ElevationRequest, Requester } from '../elevation/request';
import { SqliteAudit } from './sqlite/audit';
import { SqliteConversations } from './sqlite/conversations';
import { SqliteOutbox } from './sqlite/outbox';
import { SqliteRequests } from './sqlite/requests';
import { openDatabase } from './sqlite/schema';
import { SqliteSecrets } from './sqlite/secrets';
import { SqliteWindowCounts } from './sqlite/window-counts';

export interface SqliteStoreOptions {
  /** Path of the database file; ':memory:' for a private in-memory database. */
  path: string;
}

export class SqliteStore implements ElevationStore {
  private readonly db: Database.Database;
  private readonly requests: SqliteRequests;
  private readonly audit: SqliteAudit;
  private readonly outbox: SqliteOutbox;
  private readonly conversations: SqliteConversations;
  private readonly secrets: SqliteSecrets;
  private readonly windowCounts: SqliteWindowCounts;

  constructor(options: SqliteStoreOptions) {
    this.db = openDatabase(options.path);
    this.audit = new SqliteAudit(this.db);
    // The effects of a step are its audit link and its notification: the outbox writes both.
    const writeEffects = (effects: Effects | undefined, at: Date) =>
      this.outbox.writeEffects(effects, at);
    this.conversations = new SqliteConversations(this.db, writeEffects);
    this.outbox = new SqliteOutbox(this.db, this.audit, this.conversations);
    this.requests = new SqliteRequests(this.db, this.audit, writeEffects);
    this.secrets = new SqliteSecrets(this.db);
    this.windowCounts = new SqliteWindowCounts(this.db);
  }

  // Requests

  async createRequest(request: ElevationRequest, effects?: Effects): Promise<void> {
    this.requests.createRequest(request, effects);
  }

  async findRequest(id: string): Promise<ElevationRequest | undefined> {
    return this.requests.findRequest(id);
  }

  async transition(
    id: string,
    change: Transition,
    effects?: Effects,
  ): Promise<ElevationRequest | undefined> {
    return this.requests.transition(id, change, effects);
  }

  async setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void> {
    this.requests.setCardMessage(id, conversation, cardMessageId);
  }

  async findExpired(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.requests.findExpired(now, limit);
  }

  async findAbandonedExecutions(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.requests.findAbandonedExecutions(now, limit);
  }

  async requestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    page: Page,
  ): Promise<ElevationRequest[]> {
    return this.requests.requestsOf(user, page);
  }

  async requestsIn(
    tenantId: string,
    environmentId: string,
    page: Page,
  ): Promise<ElevationRequest[]> {
    return this.requests.requestsIn(tenantId, environmentId, page);
  }

  async openRequestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest[]> {
    return this.requests.openRequestsOf(user, environmentId);
  }

  async lastExecutionOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest | undefined> {
    return this.requests.lastExecutionOf(user, environmentId);
  }

  // Time boxes

  async findDueTimeBoxes(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.requests.findDueTimeBoxes(now, limit);
  }

  async nextTimeBoxDue(): Promise<Date | undefined> {
    return this.requests.nextTimeBoxDue();
  }

  async activeElevations(
    tenantId: string,
    user?: Pick<Requester, 'aadObjectId'>,
  ): Promise<ElevationRequest[]> {
    return this.requests.activeElevations(tenantId, user);
  }

  async purgeExpired(now: Date, finishedBefore: Date): Promise<void> {
    const cutoff = finishedBefore.toISOString();
    this.db
      .transaction(() => {
        this.secrets.purge(now);
        this.requests.purge(cutoff);
        this.outbox.purge(cutoff);
      })
      .immediate();
  }

  // Audit

  async appendAudit(event: AuditEvent, notification?: ElevationNotification): Promise<void> {
    this.db
      .transaction(() => this.outbox.writeEffects({ audit: event, notification }, event.at))
      .immediate();
  }

  async readAudit(query: AuditQuery): Promise<StoredAuditEvent[]> {
    return this.audit.readAudit(query);
  }

  async auditChains(): Promise<Array<{ chain: string; anchor?: { seq: number; hash: string } }>> {
    return this.audit.auditChains();
  }

  async pruneAudit(before: Date): Promise<number> {
    return this.audit.pruneAudit(before);
  }

  // Conversations and subscriptions

  async saveConversation(record: ConversationRecord): Promise<void> {
    this.conversations.saveConversation(record);
  }

  async findConversation(
    id: string,
  ): Promise<(ConversationRecord & { suspended: boolean }) | undefined> {
    return this.conversations.findConversation(id);
  }

  async forgetConversations(target: { id: string } | { teamId: string }): Promise<void> {
    this.conversations.forgetConversations(target);
  }

  async suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void> {
    this.conversations.suspendConversations(target, suspended);
  }

  async subscribe(subscription: ChannelSubscription, effects?: Effects): Promise<boolean> {
    return this.conversations.subscribe(subscription, effects);
  }

  async unsubscribe(channelId: string, effects?: Effects): Promise<boolean> {
    return this.conversations.unsubscribe(channelId, effects);
  }

  async findSubscription(channelId: string): Promise<ChannelSubscription | undefined> {
    return this.conversations.findSubscription(channelId);
  }

  // The outbox

  async claimDeliveries(now: Date, limit: number, leaseMs: number): Promise<Delivery[]> {
    return this.outbox.claimDeliveries(now, limit, leaseMs);
  }

  async finishDelivery(
    id: number,
    result: { state: 'delivered' | 'dropped'; at: Date; error?: string },
    effects?: Effects,
  ): Promise<void> {
    this.outbox.finishDelivery(id, result, effects);
  }

  async retryDelivery(id: number, nextAttemptAt: Date, error: string): Promise<void> {
    this.outbox.retryDelivery(id, nextAttemptAt, error);
  }

  async dropChannel(channelId: string, reason: string, effects?: Effects): Promise<number> {
    return this.outbox.dropChannel(channelId, reason, effects);
  }

  async abandonStaleDeliveries(
    now: Date,
    effectsOf?: (delivery: Delivery) => Effects,
  ): Promise<Delivery[]> {
    return this.outbox.abandonStaleDeliveries(now, effectsOf);
  }

  async nextDeliveryDue(): Promise<Date | undefined> {
    return this.outbox.nextDeliveryDue();
  }

  // Secrets, once-keys and window counts

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    return this.secrets.claimOnce(key, expiresAt);
  }

  async readSecret(key: string, now: Date): Promise<string | undefined> {
    return this.secrets.readSecret(key, now);
  }

  async writeSecret(key: string, value: string, expiresAt: Date): Promise<void> {
    this.secrets.writeSecret(key, value, expiresAt);
  }

  async deleteSecret(key: string): Promise<void> {
    this.secrets.deleteSecret(key);
  }

  async countInWindow(
    key: string,
    windowEndsAt: Date,
    data: string,
  ): Promise<{ count: number; data: string }> {
    return this.windowCounts.countInWindow(key, windowEndsAt, data);
  }

  async takeEndedCounts(prefix: string, now: Date, limit: number): Promise<WindowCount[]> {
    return this.windowCounts.takeEndedCounts(prefix, now, limit);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
