/**
 * The store on Azure Table Storage, for several instances behind one bot registration. Same
 * contract as SqliteStore (the reference: test/integration/store-contract.test.ts runs one suite
 * against both).
 *
 * Layout. Two tables (with an optional prefix):
 * - `<prefix>elevation`: everything that belongs to a tenant, in ONE partition per tenant
 *   (PartitionKey = the tenant id in lower case, or `no-tenant` for audit events without one), so
 *   that a state change and its effects can be one entity group transaction (one table, one
 *   PartitionKey, at most 100 operations and 4 MiB). RowKeys:
 *     `req|<id>`                   a request
 *     `audithead`                  the chain's last seq and hash (the lock of the chain)
 *     `auditanchor`                where the chain starts once retention removed older events
 *     `audit|<seq, 12 digits>`     an audit event
 *     `notif|<id>`                 a notification
 *     `deliv|<notification>|<channel>`  one notification on its way to one channel (the outbox)
 *     `sub|<channel id>`           a channel's subscription
 *     `hist|…`, `outc|…`, `open|…`, `last|…`  index rows of the requests (see indexRows), written
 *                                  in the same transactions as the requests they point to
 *     `due|<dueAt>|<id>`, `active|<user>|<endsAt>|<id>`  index rows of the time boxes (the timer
 *                                  and `elevations`), likewise
 * - `<prefix>elevationshared`: what is looked up by a key alone, one partition per kind:
 *     `tenant`             every tenant partition ever written (queries go partition by partition)
 *     `request-index`      request id -> its tenant partition (findRequest has only the id)
 *     `subscription-index` channel id -> its tenant partition
 *     `delivery-index`     delivery id -> its partition and RowKey (written when first claimed)
 *     `counter`            the delivery id counter (reserved by blocks, hi-lo)
 *     `conversation`, `once`, `secret`
 *     `window-count`       counters per time window (countInWindow), ETag-conditional
 *     `upgrade`            the upgrades done to what earlier versions wrote
 * Key parts are percent-encoded (table/entities.ts keyPart): `/ \ # ?`, control characters, `'`,
 * `%` and `|` never reach a key as they are.
 *
 * Once-only rules. Nothing that must happen once is a read followed by a blind write: every such
 * write carries the ETag of what was read (If-Match), or is an insert that fails when the entity
 * exists (409). A request changes state with an ETag-conditional Replace, in the same transaction
 * as its audit link (the chain head, ETag-conditional, and the event, an insert) and its
 * notification and outbox rows (inserts). On a conflict the whole transaction is void and is
 * retried from a fresh read, with a short jittered backoff: a request no longer in `from` ends
 * the retry (another caller won), a moved chain head (another audit writer) does not.
 *
 * One part per port (src/store/table/): requests.ts (with request-index.ts), audit.ts,
 * outbox.ts (with fan-out.ts), conversations.ts, secrets.ts, window-counts.ts; every write with
 * effects goes through transaction.ts, every read through tables.ts, every record through
 * entities.ts. This class composes them.
 */
import { TableClient } from '@azure/data-tables';
import type { TokenCredential } from '@azure/identity';
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
import { TableAudit } from './table/audit';
import { TableConversations } from './table/conversations';
import { FanOut } from './table/fan-out';
import { TableOutbox } from './table/outbox';
import { TableRequests } from './table/requests';
import { TableSecrets } from './table/secrets';
import { Tables } from './table/tables';
import { Transactions } from './table/transaction';
import { TableWindowCounts } from './table/window-counts';

export interface TableStoreOptions {
  /** An Azure Storage connection string (Azurite's works too). */
  connectionString?: string;
  /** Or the Table endpoint (https://<account>.table.core.windows.net) and an Entra credential. */
  accountUrl?: string;
  credential?: TokenCredential;
  /** Letters and digits put before the table names, so that tests (or bots) can share an account. */
  tablePrefix?: string;
}

export class TableStore implements ElevationStore {
  private readonly transactions: Transactions;
  private readonly requests: TableRequests;
  private readonly audit: TableAudit;
  private readonly outbox: TableOutbox;
  private readonly conversations: TableConversations;
  private readonly secrets: TableSecrets;
  private readonly windowCounts: TableWindowCounts;

  private constructor(private readonly tables: Tables) {
    const fanOut = new FanOut(tables);
    this.transactions = new Transactions(tables, fanOut);
    this.requests = new TableRequests(tables, this.transactions, fanOut);
    this.audit = new TableAudit(tables);
    this.conversations = new TableConversations(tables, this.transactions);
    this.outbox = new TableOutbox(tables, this.transactions, fanOut, this.conversations);
    this.secrets = new TableSecrets(tables);
    this.windowCounts = new TableWindowCounts(tables);
  }

  /** Connects, and creates the tables when they are missing. */
  static async open(options: TableStoreOptions): Promise<TableStore> {
    const prefix = options.tablePrefix ?? '';
    if (!/^([A-Za-z][A-Za-z0-9]{0,40})?$/.test(prefix)) {
      throw new Error(
        `TableStore: the table prefix "${prefix}" must be letters and digits (at most 41), starting with a letter`,
      );
    }
    const { connectionString, accountUrl, credential } = options;
    if (!connectionString && !(accountUrl && credential)) {
      throw new Error('TableStore: give a connection string, or an account URL and a credential');
    }
    // Plain HTTP only when the connection string asks for it (Azurite, the storage emulator).
    const insecure =
      connectionString !== undefined &&
      (/(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http\s*(;|$)|TableEndpoint\s*=\s*http:)/i.test(
        connectionString,
      ) ||
        /UseDevelopmentStorage\s*=\s*true/i.test(connectionString));
    const client = (name: string) =>
      connectionString
        ? TableClient.fromConnectionString(connectionString, `${prefix}${name}`, {
            allowInsecureConnection: insecure,
          })
        : new TableClient(accountUrl as string, `${prefix}${name}`, credential as TokenCredential);
    const tables = new Tables(client('elevation'), client('elevationshared'));
    await tables.tenants.createTable();
    await tables.shared.createTable();
    const store = new TableStore(tables);
    await store.requests.indexEarlierRequests();
    return store;
  }

  // Requests

  async createRequest(request: ElevationRequest, effects?: Effects): Promise<void> {
    return this.requests.createRequest(request, effects);
  }

  async findRequest(
    id: string,
    options?: { recent?: boolean },
  ): Promise<ElevationRequest | undefined> {
    return this.requests.findRequest(id, options);
  }

  async transition(
    id: string,
    change: Transition,
    effects?: Effects,
  ): Promise<ElevationRequest | undefined> {
    return this.requests.transition(id, change, effects);
  }

  async setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void> {
    return this.requests.setCardMessage(id, conversation, cardMessageId);
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
    await this.secrets.purge(now.toISOString());
    for (const pk of await this.tables.partitions()) {
      await this.requests.purge(pk, cutoff);
      await this.outbox.purge(pk, cutoff);
    }
  }

  // Audit

  async appendAudit(event: AuditEvent, notification?: ElevationNotification): Promise<void> {
    await this.transactions.writeEffects({ audit: event, notification }, event.at);
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
    return this.conversations.saveConversation(record);
  }

  async findConversation(
    id: string,
  ): Promise<(ConversationRecord & { suspended: boolean }) | undefined> {
    return this.conversations.findConversation(id);
  }

  async forgetConversations(target: { id: string } | { teamId: string }): Promise<void> {
    return this.conversations.forgetConversations(target);
  }

  async suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void> {
    return this.conversations.suspendConversations(target, suspended);
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
    return this.outbox.finishDelivery(id, result, effects);
  }

  async retryDelivery(id: number, nextAttemptAt: Date, error: string): Promise<void> {
    return this.outbox.retryDelivery(id, nextAttemptAt, error);
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
    return this.secrets.writeSecret(key, value, expiresAt);
  }

  async deleteSecret(key: string): Promise<void> {
    return this.secrets.deleteSecret(key);
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
    // The SDK holds no connection that needs closing; pending calls finish on their own.
  }
}
