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
 * - `<prefix>elevationshared`: what is looked up by a key alone, one partition per kind:
 *     `tenant`             every tenant partition ever written (queries go partition by partition)
 *     `request-index`      request id -> its tenant partition (findRequest has only the id)
 *     `subscription-index` channel id -> its tenant partition
 *     `delivery-index`     delivery id -> its partition and RowKey (written when first claimed)
 *     `counter`            the delivery id counter (reserved by blocks, hi-lo)
 *     `conversation`, `once`, `secret`
 *     `window-count`       counters per time window (countInWindow), ETag-conditional
 *     `upgrade`            the upgrades done to what earlier versions wrote
 * Key parts are percent-encoded (table-entities.ts keyPart): `/ \ # ?`, control characters, `'`,
 * `%` and `|` never reach a key as they are.
 *
 * Once-only rules. Nothing that must happen once is a read followed by a blind write: every such
 * write carries the ETag of what was read (If-Match), or is an insert that fails when the entity
 * exists (409). A request changes state with an ETag-conditional Replace, in the same transaction
 * as its audit link (the chain head, ETag-conditional, and the event, an insert) and its
 * notification and outbox rows (inserts). On a conflict the whole transaction is void and is
 * retried from a fresh read, with a short jittered backoff: a request no longer in `from` ends
 * the retry (another caller won), a moved chain head (another audit writer) does not.
 */
import {
  odata,
  TableClient,
  type TableEntity,
  type TableEntityResult,
  type TransactionAction,
} from '@azure/data-tables';
import { chainOf, linkAuditEvent, type StoredAuditEvent } from '../elevation/audit-chain';
import {
  type ChannelSubscription,
  type ElevationNotification,
  filterMatches,
} from '../elevation/notifications';
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
import { FINAL_STATES, type ElevationRequest, isFinal, type Requester } from '../elevation/request';
import type { DeliveryRecord } from './sqlite-store';
import {
  checkEntity,
  fromKeyPart,
  keyPart,
  MAX_TRANSACTION_BYTES,
  MAX_TRANSACTION_OPERATIONS,
  packText,
  paddedSeq,
  unpackText,
  wireBytes,
} from './table-entities';

export interface TableStoreOptions {
  /** An Azure Storage connection string (Azurite's works too). */
  connectionString: string;
  /** Letters and digits put before the table names, so that tests (or bots) can share an account. */
  tablePrefix?: string;
}

type Entity = TableEntity<Record<string, unknown>>;
type Stored = TableEntityResult<Record<string, unknown>>;

const HEAD = 'audithead';
const ANCHOR = 'auditanchor';
const TENANTS = 'tenant';
const REQUEST_INDEX = 'request-index';
const SUBSCRIPTION_INDEX = 'subscription-index';
const DELIVERY_INDEX = 'delivery-index';
const COUNTER = 'counter';
const CONVERSATIONS = 'conversation';
const ONCE = 'once';
const SECRETS = 'secret';
const WINDOW_COUNTS = 'window-count';
const UPGRADES = 'upgrade';

/** Delivery ids reserved per round trip to the counter. */
const ID_BLOCK = 1000;
/** How long a write keeps retrying against other writers before it gives up with an error. */
const RETRY_FOR_MS = 30_000;
const ABANDONED =
  'the process stopped while sending; not sent again, so the channel may not have it';

const RETRY = Symbol('retry');

/** What one attempt of a step writes into its partition. */
interface Step<T> {
  actions: TransactionAction[];
  result: T;
  /** Whether the step's effects go with it (false: nothing happened, so nothing is recorded). */
  withEffects: boolean;
  /** Audit events the step decided on (requests it closed), linked after the effects' own. */
  audits?: AuditEvent[];
}

/** The requests a step closes (see CloseOthers), with what writes them. */
interface Closing {
  actions: TransactionAction[];
  audits: AuditEvent[];
  closed: ElevationRequest[];
}

interface DeliveryRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
  id: number;
  notificationId: string;
  channelId: string;
  state: DeliveryRecord['state'];
  attempts: number;
  nextAttemptAt: string;
  leaseUntil?: string;
  lastError?: string;
  finishedAt?: string;
}

export class TableStore implements ElevationStore {
  /** Tenant partitions this process has registered (each is registered once, before its first write). */
  private readonly registered = new Set<string>();
  /** Request id -> partition; an id's partition never changes. */
  private readonly requestPartitions = new Map<string, string>();
  private ids = { next: 0, end: 0 };
  private idQueue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly tenants: TableClient,
    private readonly shared: TableClient,
  ) {}

  /** Connects, and creates the tables when they are missing. */
  static async open(options: TableStoreOptions): Promise<TableStore> {
    const prefix = options.tablePrefix ?? '';
    if (!/^([A-Za-z][A-Za-z0-9]{0,40})?$/.test(prefix)) {
      throw new Error(
        `TableStore: the table prefix "${prefix}" must be letters and digits (at most 41), starting with a letter`,
      );
    }
    // Plain HTTP only when the connection string asks for it (Azurite, the storage emulator).
    const insecure =
      /(^|;)\s*(DefaultEndpointsProtocol\s*=\s*http\s*(;|$)|TableEndpoint\s*=\s*http:)/i.test(
        options.connectionString,
      ) || /UseDevelopmentStorage\s*=\s*true/i.test(options.connectionString);
    const client = (name: string) =>
      TableClient.fromConnectionString(options.connectionString, `${prefix}${name}`, {
        allowInsecureConnection: insecure,
      });
    const store = new TableStore(client('elevation'), client('elevationshared'));
    await store.tenants.createTable();
    await store.shared.createTable();
    await store.indexEarlierRequests();
    return store;
  }

  // ---------------------------------------------------------------------------------------------
  // Requests

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = new Date().toISOString();
    const entity: Entity = {
      partitionKey: ONCE,
      rowKey: keyPart(key),
      key,
      expiresAt: expiresAt.toISOString(),
    };
    for (;;) {
      try {
        await this.shared.createEntity(entity);
        return true;
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
      }
      const current = await this.get(this.shared, ONCE, entity.rowKey);
      if (!current) continue; // purged meanwhile: insert again
      if (text(current, 'expiresAt') > now) return false;
      // Expired: taking it over is conditional on what was read; one caller wins.
      try {
        await this.shared.updateEntity(entity, 'Replace', { etag: current.etag });
        return true;
      } catch (error) {
        const status = statusOf(error);
        if (status === 412) return false;
        if (status !== 404) throw error;
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Counters per time window

  async countInWindow(
    key: string,
    windowEndsAt: Date,
    data: string,
  ): Promise<{ count: number; data: string }> {
    const rowKey = keyPart(key);
    return this.retrying(`counting "${key}"`, async () => {
      const current = await this.get(this.shared, WINDOW_COUNTS, rowKey);
      if (!current) {
        const entity: Entity = {
          partitionKey: WINDOW_COUNTS,
          rowKey,
          key,
          count: 1,
          windowEndsAt: windowEndsAt.toISOString(),
          ...packText('data', data),
        };
        checkEntity(entity, `the counter "${key}"`);
        try {
          await this.shared.createEntity(entity);
          return { count: 1, data };
        } catch (error) {
          if (retriable(error)) return RETRY;
          throw error;
        }
      }
      // Conditional on what was read: of two callers that read the same count, one writes it.
      const count = num(current, 'count') + 1;
      try {
        await this.shared.updateEntity({ partitionKey: WINDOW_COUNTS, rowKey, count }, 'Merge', {
          etag: current.etag,
        });
        return { count, data: unpackText(current, 'data') ?? '' };
      } catch (error) {
        if (retriable(error)) return RETRY;
        throw error;
      }
    });
  }

  async takeEndedCounts(prefix: string, now: Date, limit: number): Promise<WindowCount[]> {
    const ended = await this.list(
      this.shared,
      odata`PartitionKey eq ${WINDOW_COUNTS} and windowEndsAt le ${now.toISOString()}`,
    );
    const taken: WindowCount[] = [];
    for (const entity of ended) {
      if (taken.length >= limit) break;
      const key = text(entity, 'key');
      if (!key.startsWith(prefix)) continue;
      // Deleted as read: a caller that loses the race (or a counter counted again) skips it.
      if (!(await this.deleteIfUnchanged(this.shared, entity))) continue;
      taken.push({
        key,
        count: num(entity, 'count'),
        windowEndsAt: new Date(text(entity, 'windowEndsAt')),
        data: unpackText(entity, 'data') ?? '',
      });
    }
    return taken;
  }

  async createRequest(request: ElevationRequest, effects?: Effects): Promise<void> {
    const pk = tenantPartition(request.requester.tenantId);
    const entity = requestEntity(pk, request);
    checkEntity(entity, `request ${request.id}`);
    await this.register(pk);
    // The index first: a request is never in the table without a way to find it by id.
    const index: Entity = {
      partitionKey: REQUEST_INDEX,
      rowKey: keyPart(request.id),
      partition: pk,
    };
    try {
      await this.shared.createEntity(index);
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.get(this.shared, REQUEST_INDEX, index.rowKey);
      if (existing && text(existing, 'partition') !== pk) throw duplicateRequest(request.id);
    }
    // The request, its index rows, its audit link and the requests it closes: one transaction.
    const at = new Date(request.createdAt);
    const closed = await this.step(
      pk,
      `creating request ${request.id}`,
      effects,
      at,
      true,
      async () => {
        if (await this.get(this.tenants, pk, entity.rowKey!)) throw duplicateRequest(request.id);
        const closing = await this.closing(pk, request, effects?.closeOthers, at);
        return {
          actions: [
            ['create', entity],
            ...indexChanges(pk, undefined, request),
            ...closing.actions,
          ],
          audits: closing.audits,
          result: closing.closed,
          withEffects: true,
        };
      },
    );
    if (effects?.closeOthers) effects.closeOthers.closed = closed;
    this.remember(request.id, pk);
  }

  /**
   * Requests written by a version before the index rows get them, once per storage account (as
   * SqliteStore upgrades an old file on open): oldest first, so that the last execution pointer
   * ends on the latest. Each is conditional on the request as read; one changed meanwhile was
   * written, and indexed, by its writer.
   */
  private async indexEarlierRequests(): Promise<void> {
    if (await this.get(this.shared, UPGRADES, 'request-index')) return;
    for (const pk of await this.partitions()) {
      const earlier = (
        await this.list(
          this.tenants,
          odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'}`,
        )
      )
        .filter((entity) => entity.indexed !== true)
        .sort((a, b) => compare(text(a, 'updatedAt'), text(b, 'updatedAt')));
      for (const entity of earlier) {
        const request = toRequest(entity);
        try {
          await this.tenants.submitTransaction([
            ['update', requestEntity(pk, request), 'Replace', { etag: entity.etag }],
            ...indexChanges(pk, undefined, request),
          ]);
        } catch (error) {
          if (!retriable(error)) throw error;
        }
      }
    }
    await this.shared.upsertEntity({ partitionKey: UPGRADES, rowKey: 'request-index' }, 'Replace');
  }

  async findRequest(id: string): Promise<ElevationRequest | undefined> {
    const pk = await this.partitionOfRequest(id);
    if (!pk) return undefined;
    const stored = await this.get(this.tenants, pk, requestRow(id));
    return stored ? toRequest(stored) : undefined;
  }

  async transition(
    id: string,
    change: Transition,
    effects?: Effects,
  ): Promise<ElevationRequest | undefined> {
    const pk = await this.partitionOfRequest(id);
    if (!pk) return undefined;
    const rk = requestRow(id);
    const nothing: Step<undefined> = { actions: [], result: undefined, withEffects: false };
    const moved = await this.step<
      { request: ElevationRequest; closed: ElevationRequest[] } | undefined
    >(pk, `moving request ${id} to ${change.to}`, effects, change.at, true, async () => {
      const stored = await this.get(this.tenants, pk, rk);
      if (!stored) return nothing;
      const current = toRequest(stored);
      // Read again on every attempt: once another caller moved it, this one has lost.
      if (!change.from.includes(current.state)) return nothing;
      if (change.unexpiredAt && !(Date.parse(current.expiresAt) > change.unexpiredAt.getTime())) {
        return nothing;
      }
      const next: ElevationRequest = {
        ...current,
        ...jsonCopy(change.set ?? {}),
        state: change.to,
        updatedAt: change.at.toISOString(),
      };
      const entity = requestEntity(pk, next);
      checkEntity(entity, `request ${id}`);
      const closing = await this.closing(pk, next, effects?.closeOthers, change.at);
      return {
        actions: [
          ['update', entity, 'Replace', { etag: stored.etag }],
          ...indexChanges(pk, stored.indexed === true ? current : undefined, next),
          ...closing.actions,
        ],
        audits: closing.audits,
        result: { request: jsonCopy(next), closed: closing.closed },
        withEffects: true,
      };
    });
    if (moved && effects?.closeOthers) effects.closeOthers.closed = moved.closed;
    return moved?.request;
  }

  /**
   * What closes the requester's other open requests in the environment of `request` (read from
   * its `open|` index rows), each conditional on its ETag, with its audit event.
   */
  private async closing(
    pk: string,
    request: ElevationRequest,
    close: CloseOthers | undefined,
    at: Date,
  ): Promise<Closing> {
    const closing: Closing = { actions: [], audits: [], closed: [] };
    if (!close) return closing;
    for (const id of await this.indexed(pk, openPrefix(request))) {
      if (id === request.id) continue;
      const stored = await this.get(this.tenants, pk, requestRow(id));
      const current = stored ? toRequest(stored) : undefined;
      if (!stored || current?.state !== 'requested') continue;
      const next: ElevationRequest = {
        ...current,
        state: 'cancelled',
        updatedAt: at.toISOString(),
        closedBecause: close.because,
      };
      closing.actions.push(
        ['update', requestEntity(pk, next), 'Replace', { etag: stored.etag }],
        ...indexChanges(pk, stored.indexed === true ? current : undefined, next),
      );
      closing.audits.push(close.audit(next));
      closing.closed.push(jsonCopy(next));
    }
    return closing;
  }

  async setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void> {
    const pk = await this.partitionOfRequest(id);
    if (!pk) return;
    const rk = requestRow(id);
    await this.retrying(`recording the card of request ${id}`, async () => {
      const stored = await this.get(this.tenants, pk, rk);
      if (!stored) return undefined;
      const next = { ...toRequest(stored), ...jsonCopy({ conversation, cardMessageId }) };
      const entity = requestEntity(pk, next, stored.indexed === true);
      checkEntity(entity, `request ${id}`);
      try {
        await this.tenants.updateEntity(entity, 'Replace', { etag: stored.etag });
        return undefined;
      } catch (error) {
        if (retriable(error)) return RETRY;
        throw error;
      }
    });
  }

  async findExpired(now: Date, limit: number): Promise<ElevationRequest[]> {
    const found = await this.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'} and state eq ${'requested'} and expiresAt le ${now.toISOString()}`,
    );
    return found
      .sort((a, b) => compare(text(a, 'expiresAt'), text(b, 'expiresAt')))
      .slice(0, limit)
      .map(toRequest);
  }

  async findAbandonedExecutions(now: Date, limit: number): Promise<ElevationRequest[]> {
    const found = await this.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'} and state eq ${'executing'} and executionDeadline le ${now.toISOString()}`,
    );
    return found
      .sort((a, b) => compare(text(a, 'updatedAt'), text(b, 'updatedAt')))
      .slice(0, limit)
      .map(toRequest);
  }

  async requestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    page: Page,
  ): Promise<ElevationRequest[]> {
    const pk = tenantPartition(user.tenantId);
    return this.pageOf(pk, `hist|${keyPart(user.aadObjectId.toLowerCase())}|`, page, () => true);
  }

  async requestsIn(
    tenantId: string,
    environmentId: string,
    page: Page,
  ): Promise<ElevationRequest[]> {
    const pk = tenantPartition(tenantId);
    return this.pageOf(pk, `outc|${keyPart(environmentId.toLowerCase())}|`, page, (r) =>
      isFinal(r.state),
    );
  }

  async openRequestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest[]> {
    const pk = tenantPartition(user.tenantId);
    const prefix = openPrefix({ requester: user, environment: { id: environmentId } });
    const found = await this.requestsById(pk, await this.indexed(pk, prefix));
    return found
      .filter((r) => r.state === 'requested')
      .sort((a, b) => compare(a.updatedAt, b.updatedAt) || compare(a.id, b.id));
  }

  async lastExecutionOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest | undefined> {
    const pk = tenantPartition(user.tenantId);
    const pointer = await this.get(this.tenants, pk, lastExecutionRow(user, environmentId));
    if (!pointer) return undefined;
    const [found] = await this.requestsById(pk, [text(pointer, 'id')]);
    return found && (found.state === 'succeeded' || found.state === 'failed') ? found : undefined;
  }

  /**
   * One page of an index whose RowKeys are `<prefix><inverted outcome time>|<id>`, so that they
   * sort newest first: a range read of the index, then the requests by id (point reads). A Newer
   * page reads the index from its start to the cursor (Table Storage reads ranges in one order
   * only), which is as long as the pages the user went through.
   */
  private async pageOf(
    pk: string,
    prefix: string,
    page: Page,
    keep: (request: ElevationRequest) => boolean,
  ): Promise<ElevationRequest[]> {
    const end = `${prefix.slice(0, -1)}}`;
    let ids: string[];
    if (page.after) {
      const cursor = `${prefix}${invertedTime(page.after.at)}|${keyPart(page.after.id)}`;
      ids = (await this.indexed(pk, prefix, cursor)).slice(-page.limit);
    } else {
      const from = page.before
        ? `${prefix}${invertedTime(page.before.at)}|${keyPart(page.before.id)}`
        : prefix;
      ids = await this.indexed(pk, from, end, page.limit, page.before !== undefined);
    }
    return (await this.requestsById(pk, ids)).filter(keep);
  }

  /**
   * The request ids of the index rows from `from` (inclusive unless `after`) up to `to`
   * (exclusive; default: the end of the prefix `from` starts with), at most `limit`, in order.
   */
  private async indexed(
    pk: string,
    from: string,
    to = `${from.slice(0, -1)}}`,
    limit = Infinity,
    after = false,
  ): Promise<string[]> {
    const ids: string[] = [];
    if (limit <= 0) return ids;
    const filter = after
      ? odata`PartitionKey eq ${pk} and RowKey gt ${from} and RowKey lt ${to}`
      : odata`PartitionKey eq ${pk} and RowKey ge ${from} and RowKey lt ${to}`;
    const pages = this.tenants
      .listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['id'] } })
      .byPage({ maxPageSize: Math.min(1000, limit) });
    for await (const entities of pages) {
      for (const entity of entities) {
        ids.push(text(entity, 'id'));
        if (ids.length >= limit) return ids;
      }
    }
    return ids;
  }

  /** The requests with these ids, in that order, leaving out those no longer there. */
  private async requestsById(pk: string, ids: string[]): Promise<ElevationRequest[]> {
    const found = await Promise.all(ids.map((id) => this.get(this.tenants, pk, requestRow(id))));
    return found.filter((e): e is Stored => e !== undefined).map(toRequest);
  }

  async purgeExpired(now: Date, finishedBefore: Date): Promise<void> {
    const at = now.toISOString();
    const cutoff = finishedBefore.toISOString();
    for (const kind of [ONCE, SECRETS]) {
      for (const entity of await this.list(
        this.shared,
        odata`PartitionKey eq ${kind} and expiresAt le ${at}`,
      )) {
        // Conditional: a key claimed again, or a secret written again, since it was read stays.
        await this.deleteIfUnchanged(this.shared, entity);
      }
    }
    for (const pk of await this.partitions()) {
      const finished = FINAL_STATES.map((state) => odata`state eq ${state}`).join(' or ');
      for (const request of await this.list(
        this.tenants,
        `${odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'} and updatedAt lt ${cutoff}`} and (${finished})`,
      )) {
        if (await this.deleteIfUnchanged(this.tenants, request)) {
          const id = text(request, 'id');
          this.requestPartitions.delete(id);
          await this.deleteQuietly(this.shared, REQUEST_INDEX, keyPart(id));
          if (request.indexed === true) {
            for (const row of indexRows(pk, toRequest(request))) {
              await this.deleteQuietly(this.tenants, pk, row.rowKey!);
            }
          }
        }
      }
      for (const delivery of await this.list(
        this.tenants,
        odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and finishedAt lt ${cutoff}`,
      )) {
        const row = toDeliveryRow(delivery);
        if (row.state !== 'delivered' && row.state !== 'dropped') continue;
        if (await this.deleteIfUnchanged(this.tenants, delivery)) {
          await this.deleteQuietly(this.shared, DELIVERY_INDEX, String(row.id));
        }
      }
      for (const notification of await this.list(
        this.tenants,
        odata`PartitionKey eq ${pk} and RowKey ge ${'notif|'} and RowKey lt ${'notif}'} and createdAt lt ${cutoff}`,
      )) {
        if (notification.fanoutPending === true) continue;
        const prefix = `deliv|${keyPart(text(notification, 'id'))}|`;
        const deliveries = await this.list(
          this.tenants,
          odata`PartitionKey eq ${pk} and RowKey ge ${prefix} and RowKey lt ${`${prefix.slice(0, -1)}}`}`,
        );
        if (deliveries.length === 0) await this.deleteIfUnchanged(this.tenants, notification);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Audit

  async appendAudit(event: AuditEvent, notification?: ElevationNotification): Promise<void> {
    await this.writeEffects({ audit: event, notification }, event.at);
  }

  async readAudit(query: AuditQuery): Promise<StoredAuditEvent[]> {
    const pk = keyPart(query.chain);
    const after = `audit|${paddedSeq(query.afterSeq ?? 0)}`;
    const since = (query.since ?? new Date(0)).toISOString();
    const events: StoredAuditEvent[] = [];
    if (query.limit <= 0) return events;
    const pages = this.tenants
      .listEntities<Record<string, unknown>>({
        queryOptions: {
          filter: odata`PartitionKey eq ${pk} and RowKey gt ${after} and RowKey lt ${'audit}'} and at ge ${since}`,
        },
      })
      .byPage({ maxPageSize: Math.min(1000, query.limit) });
    for await (const page of pages) {
      for (const entity of page) {
        events.push(toAuditEvent(entity));
        if (events.length >= query.limit) return events;
      }
    }
    return events;
  }

  async auditChains(): Promise<Array<{ chain: string; anchor?: { seq: number; hash: string } }>> {
    const chains: Array<{ chain: string; anchor?: { seq: number; hash: string } }> = [];
    for (const pk of await this.partitions()) {
      const [head, anchor] = await Promise.all([
        this.get(this.tenants, pk, HEAD),
        this.get(this.tenants, pk, ANCHOR),
      ]);
      const chain = head ? text(head, 'chain') : anchor ? text(anchor, 'chain') : undefined;
      if (chain === undefined) continue;
      chains.push({
        chain,
        anchor: anchor ? { seq: num(anchor, 'seq'), hash: text(anchor, 'hash') } : undefined,
      });
    }
    return chains.sort((a, b) => compare(a.chain, b.chain));
  }

  /**
   * Whole links from the start of each chain, in transactions of the anchor and up to 99 deletions:
   * after each, the chain verifies from its anchor. A deletion of an event another pruner already
   * removed voids the transaction (404), and the chain is looked at again.
   */
  async pruneAudit(before: Date): Promise<number> {
    let removed = 0;
    for (const pk of await this.partitions()) {
      removed += await this.retrying(`pruning the audit chain ${pk}`, async () => {
        const old = await this.list(
          this.tenants,
          odata`PartitionKey eq ${pk} and RowKey gt ${'audit|'} and RowKey lt ${'audit}'} and at lt ${before.toISOString()}`,
        );
        if (old.length === 0) return 0;
        const last = Math.max(...old.map((e) => num(e, 'seq')));
        const doomed = (
          await this.list(
            this.tenants,
            odata`PartitionKey eq ${pk} and RowKey gt ${'audit|'} and RowKey le ${`audit|${paddedSeq(last)}`}`,
          )
        ).sort((a, b) => num(a, 'seq') - num(b, 'seq'));
        let count = 0;
        for (let i = 0; i < doomed.length; i += MAX_TRANSACTION_OPERATIONS - 1) {
          const chunk = doomed.slice(i, i + MAX_TRANSACTION_OPERATIONS - 1);
          const end = chunk[chunk.length - 1]!;
          const anchor: Entity = {
            partitionKey: pk,
            rowKey: ANCHOR,
            kind: 'auditanchor',
            chain: text(end, 'chain'),
            seq: num(end, 'seq'),
            hash: text(end, 'hash'),
          };
          try {
            await this.tenants.submitTransaction([
              ['upsert', anchor, 'Replace'],
              ...chunk.map((e): TransactionAction => [
                'delete',
                { partitionKey: pk, rowKey: e.rowKey! },
              ]),
            ]);
          } catch (error) {
            if (!retriable(error)) throw error;
            removed += count;
            return RETRY;
          }
          count += chunk.length;
        }
        return count;
      });
    }
    return removed;
  }

  // ---------------------------------------------------------------------------------------------
  // Secrets

  async readSecret(key: string, now: Date): Promise<string | undefined> {
    const stored = await this.get(this.shared, SECRETS, keyPart(key));
    if (!stored || !(text(stored, 'expiresAt') > now.toISOString())) return undefined;
    return unpackText(stored, 'value');
  }

  async writeSecret(key: string, value: string, expiresAt: Date): Promise<void> {
    const entity: Entity = {
      partitionKey: SECRETS,
      rowKey: keyPart(key),
      key,
      expiresAt: expiresAt.toISOString(),
      ...packText('value', value),
    };
    checkEntity(entity, `the secret "${key}"`);
    await this.shared.upsertEntity(entity, 'Replace');
  }

  async deleteSecret(key: string): Promise<void> {
    await this.deleteQuietly(this.shared, SECRETS, keyPart(key));
  }

  // ---------------------------------------------------------------------------------------------
  // Conversations and subscriptions

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
    await this.shared.upsertEntity(entity, 'Replace');
  }

  async findConversation(
    id: string,
  ): Promise<(ConversationRecord & { suspended: boolean }) | undefined> {
    const stored = await this.get(this.shared, CONVERSATIONS, keyPart(id));
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
        await this.deleteQuietly(this.shared, CONVERSATIONS, conversation.rowKey!);
      }
      for (const subscription of await this.teamSubscriptions(target.teamId)) {
        await this.deleteQuietly(this.tenants, subscription.partitionKey!, subscription.rowKey!);
      }
      return;
    }
    await this.deleteQuietly(this.shared, CONVERSATIONS, keyPart(target.id));
    const pk = await this.partitionOfSubscription(target.id);
    if (pk) await this.deleteQuietly(this.tenants, pk, subscriptionRow(target.id));
  }

  async suspendConversations(
    target: { id: string } | { teamId: string },
    suspended: boolean,
  ): Promise<void> {
    if ('teamId' in target) {
      for (const conversation of await this.teamConversations(target.teamId)) {
        await this.setSuspended(this.shared, CONVERSATIONS, conversation.rowKey!, suspended);
      }
      for (const subscription of await this.teamSubscriptions(target.teamId)) {
        await this.setSuspended(
          this.tenants,
          subscription.partitionKey!,
          subscription.rowKey!,
          suspended,
        );
      }
      return;
    }
    await this.setSuspended(this.shared, CONVERSATIONS, keyPart(target.id), suspended);
    const pk = await this.partitionOfSubscription(target.id);
    if (pk) await this.setSuspended(this.tenants, pk, subscriptionRow(target.id), suspended);
  }

  async subscribe(subscription: ChannelSubscription, effects?: Effects): Promise<boolean> {
    const pk = tenantPartition(subscription.tenantId);
    const rk = subscriptionRow(subscription.channelId);
    const entity = subscriptionEntity(pk, subscription);
    checkEntity(entity, `the subscription of ${subscription.channelId}`);
    await this.register(pk);
    // A channel lives in one tenant; should it be subscribed under another, the old one goes.
    let existedElsewhere = false;
    const previous = await this.partitionOfSubscription(subscription.channelId);
    if (previous && previous !== pk) {
      existedElsewhere = await this.deleteQuietly(this.tenants, previous, rk);
    }
    if (previous !== pk) {
      await this.shared.upsertEntity(
        {
          partitionKey: SUBSCRIPTION_INDEX,
          rowKey: keyPart(subscription.channelId),
          partition: pk,
        },
        'Replace',
      );
    }
    return this.step(
      pk,
      `subscribing ${subscription.channelId}`,
      effects,
      new Date(),
      false,
      async () => {
        const current = await this.get(this.tenants, pk, rk);
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
    return this.step(pk, `unsubscribing ${channelId}`, effects, new Date(), false, async () => {
      const current = await this.get(this.tenants, pk, rk);
      if (!current) return { actions: [], result: false, withEffects: false };
      // A delete in a transaction is unconditional; a 404 (removed meanwhile) voids it and the
      // next attempt finds nothing to remove.
      return {
        actions: [['delete', { partitionKey: pk, rowKey: rk }]],
        result: true,
        withEffects: true,
      };
    });
  }

  async findSubscription(channelId: string): Promise<ChannelSubscription | undefined> {
    const pk = await this.partitionOfSubscription(channelId);
    if (!pk) return undefined;
    const stored = await this.get(this.tenants, pk, subscriptionRow(channelId));
    return stored ? toSubscription(stored) : undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // The outbox

  async claimDeliveries(now: Date, limit: number, leaseMs: number): Promise<Delivery[]> {
    await this.repairFanouts();
    const due = (
      await this.inEveryTenant(
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
    await this.step(
      location.pk,
      `finishing delivery ${id}`,
      effects,
      result.at,
      false,
      async () => {
        const stored = await this.get(this.tenants, location.pk, location.rk);
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
    await this.retrying(`putting delivery ${id} back in the queue`, async () => {
      const stored = await this.get(this.tenants, location.pk, location.rk);
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
    const pk = await this.partitionOfSubscription(channelId);
    if (pk) {
      const rk = subscriptionRow(channelId);
      await this.step(pk, `dropping ${channelId}`, effects, at, false, async () => {
        const current = await this.get(this.tenants, pk, rk);
        return {
          actions: current ? [['delete', { partitionKey: pk, rowKey: rk }]] : [],
          result: undefined,
          withEffects: true,
        };
      });
    } else if (effects) {
      await this.writeEffects(effects, at);
    }
    const waiting = await this.inEveryTenant(
      (p) =>
        odata`PartitionKey eq ${p} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and channelId eq ${channelId} and state eq ${'pending'}`,
    );
    let dropped = 0;
    for (const found of waiting) {
      const done = await this.retrying(`dropping a delivery to ${channelId}`, async () => {
        const stored = await this.get(this.tenants, found.partitionKey!, found.rowKey!);
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
    const stale = await this.inEveryTenant(
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
      const dropped = await this.step(
        row.partitionKey,
        `abandoning delivery ${row.id}`,
        delivery && effectsOf?.(delivery),
        now,
        false,
        async () => {
          const current = await this.get(this.tenants, row.partitionKey, row.rowKey);
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
    const waiting = await this.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'} and state eq ${'pending'}`,
    );
    if (waiting.length === 0) return undefined;
    const first = waiting.map((e) => text(e, 'nextAttemptAt')).sort(compare)[0]!;
    return new Date(first);
  }

  // ---------------------------------------------------------------------------------------------
  // For tests and diagnostics

  /** The outbox's rows in id order. */
  async deliveries(): Promise<DeliveryRecord[]> {
    const rows = (
      await this.inEveryTenant(
        (pk) => odata`PartitionKey eq ${pk} and RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'}`,
      )
    )
      .map(toDeliveryRow)
      .sort((a, b) => a.id - b.id);
    return rows.map((r) => ({
      id: r.id,
      notificationId: r.notificationId,
      channelId: r.channelId,
      state: r.state,
      attempts: r.attempts,
      lastError: r.lastError,
    }));
  }

  /** Every audit event, chain by chain, in seq order. */
  async auditEvents(): Promise<StoredAuditEvent[]> {
    const events = await this.inEveryTenant(
      (pk) => odata`PartitionKey eq ${pk} and RowKey gt ${'audit|'} and RowKey lt ${'audit}'}`,
    );
    return events.map(toAuditEvent);
  }

  async close(): Promise<void> {
    // The SDK holds no connection that needs closing; pending calls finish on their own.
  }

  // ---------------------------------------------------------------------------------------------
  // Steps, effects and the fan-out

  /**
   * One step in partition `pk`: what `read` decides to write and, in the same transaction, the
   * effects that belong to this partition. Effects of another partition (an audit event without
   * the tenant of the subscription it is about, say) cannot join the transaction: `strict`
   * refuses them (a transition's effects must be atomic with it); otherwise they are written
   * right after, as a step of their own.
   */
  private async step<T>(
    pk: string,
    what: string,
    effects: Effects | undefined,
    at: Date,
    strict: boolean,
    read: () => Promise<Step<T>>,
  ): Promise<T> {
    const { here, elsewhere } = splitEffects(pk, effects);
    if (strict && elsewhere) {
      throw new Error(
        `TableStore: ${what}: its audit event and notification must be of the request's tenant (${fromKeyPart(pk)}), to be written in one transaction with it`,
      );
    }
    await this.register(pk);
    let followUp: (() => Promise<void>) | undefined;
    let withEffects = false;
    const attempt = () =>
      this.retrying(what, async () => {
        const step = await read();
        const staged =
          step.withEffects && (here || step.audits?.length)
            ? await this.stageEffects(pk, here ?? {}, at, step.actions, step.audits ?? [])
            : undefined;
        const actions = [...step.actions, ...(staged?.actions ?? [])];
        if (actions.length > 0) {
          try {
            await this.tenants.submitTransaction(actions);
          } catch (error) {
            // The request, the chain head or the notification moved since they were read.
            if (retriable(error)) return RETRY;
            throw error;
          }
        }
        followUp = staged?.followUp;
        withEffects = step.withEffects;
        return step.result;
      });
    // Writes with effects move the tenant's audit chain head: inside this process they take
    // turns, so that only other instances can make them retry (optimistic concurrency between
    // fifty local writers would mostly retry).
    const result = here ? await this.oneAtATime(pk, attempt) : await attempt();
    if (followUp) await followUp();
    if (withEffects && elsewhere) await this.writeEffects(elsewhere, at);
    return result;
  }

  private readonly partitionTurns = new Map<string, Promise<void>>();

  /** Runs `work` after every earlier call for the same partition in this process has finished. */
  private async oneAtATime<T>(pk: string, work: () => Promise<T>): Promise<T> {
    const previous = this.partitionTurns.get(pk) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const turn = previous.then(() => mine);
    this.partitionTurns.set(pk, turn);
    await previous;
    try {
      return await work();
    } finally {
      release();
      if (this.partitionTurns.get(pk) === turn) this.partitionTurns.delete(pk);
    }
  }

  /** Effects alone: the audit event's chain and the notification's tenant, together when they are one partition. */
  private async writeEffects(effects: Effects, at: Date): Promise<void> {
    const auditPk = effects.audit ? chainPartition(effects.audit) : undefined;
    const notificationPk = effects.notification
      ? tenantPartition(effects.notification.tenantId)
      : undefined;
    if (auditPk && notificationPk && auditPk !== notificationPk) {
      await this.writeEffects({ audit: effects.audit }, at);
      await this.writeEffects({ notification: effects.notification }, at);
      return;
    }
    const pk = auditPk ?? notificationPk;
    if (!pk) return;
    await this.step(pk, 'writing an audit event', effects, at, true, async () => ({
      actions: [],
      result: undefined,
      withEffects: true,
    }));
  }

  /**
   * The operations that write `effects` into partition `pk`, after `primary`: the chain's next
   * link (head ETag-conditional, event inserted), and the notification with one outbox row per
   * matching subscription, for as many as the transaction can hold. A transaction holds at most
   * 100 operations (and 4 MiB): with a request, the chain head, the event and the notification,
   * 96 channels fit. The notification of more channels is written with `fanoutPending`, and the
   * other rows right after the transaction, by `completeFanout`: creates that skip rows already
   * there, so doing it twice is harmless. Should the process stop before it is done,
   * `repairFanouts` (before every claim) finishes it, for the channels subscribed then.
   */
  private async stageEffects(
    pk: string,
    effects: Effects,
    at: Date,
    primary: TransactionAction[],
    moreAudits: AuditEvent[] = [],
  ): Promise<{ actions: TransactionAction[]; followUp?: () => Promise<void> }> {
    const actions: TransactionAction[] = [];
    const audits = [...(effects.audit ? [effects.audit] : []), ...moreAudits];
    if (audits.length > 0) {
      const head = await this.get(this.tenants, pk, HEAD);
      const anchor = head ? undefined : await this.get(this.tenants, pk, ANCHOR);
      const last = head ?? anchor;
      let previous = last ? { seq: num(last, 'seq'), hash: text(last, 'hash') } : undefined;
      const events: Entity[] = [];
      let linked: StoredAuditEvent | undefined;
      for (const audit of audits) {
        linked = linkAuditEvent(audit, previous);
        const event = auditEntity(pk, linked);
        checkEntity(event, `the audit event (${linked.type}) ${linked.chain}/${linked.seq}`);
        events.push(event);
        previous = linked;
      }
      const headEntity: Entity = {
        partitionKey: pk,
        rowKey: HEAD,
        kind: 'audithead',
        chain: linked!.chain,
        seq: linked!.seq,
        hash: linked!.hash,
      };
      actions.push(
        head ? ['update', headEntity, 'Replace', { etag: head.etag }] : ['create', headEntity],
      );
      for (const event of events) actions.push(['create', event]);
    }
    let followUp: (() => Promise<void>) | undefined;
    const notification = effects.notification;
    if (notification && !(await this.get(this.tenants, pk, notificationRow(notification.id)))) {
      const channels = await this.matchingChannels(pk, notification);
      const core = [...primary, ...actions];
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
    } else if (actions.length > 0) {
      const bytes = [...primary, ...actions].reduce((sum, a) => sum + wireBytes(a[1]), 0);
      if (bytes > MAX_TRANSACTION_BYTES) throw tooBig(bytes);
    }
    return { actions, followUp };
  }

  /** Subscribed, not suspended channels of the partition whose filter wants the notification. */
  private async matchingChannels(
    pk: string,
    notification: ElevationNotification,
  ): Promise<string[]> {
    const subscriptions = await this.list(
      this.tenants,
      odata`PartitionKey eq ${pk} and RowKey ge ${'sub|'} and RowKey lt ${'sub}'} and suspended eq false`,
    );
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
        await this.tenants.submitTransaction(entities.map((e): TransactionAction => ['create', e]));
      } catch (error) {
        if (statusOf(error) !== 409) throw error;
        // Some were written before (an earlier attempt, another instance): the others one by one.
        for (const entity of entities) {
          try {
            await this.tenants.createEntity(entity);
          } catch (inner) {
            if (statusOf(inner) !== 409) throw inner;
          }
        }
      }
    }
    try {
      await this.tenants.updateEntity(
        { partitionKey: pk, rowKey: notificationRow(notificationId), fanoutPending: false },
        'Merge',
      );
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  /** Finishes fan-outs left unfinished by a process that stopped. */
  private async repairFanouts(): Promise<void> {
    const unfinished = await this.inEveryTenant(
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
    return this.retrying('reserving delivery ids', async () => {
      const counter = await this.get(this.shared, COUNTER, 'delivery-id');
      const start = counter ? Number(text(counter, 'next')) : 1;
      const entity: Entity = {
        partitionKey: COUNTER,
        rowKey: 'delivery-id',
        next: String(start + size),
      };
      try {
        if (counter) await this.shared.updateEntity(entity, 'Replace', { etag: counter.etag });
        else await this.shared.createEntity(entity);
        return start;
      } catch (error) {
        if (retriable(error)) return RETRY;
        throw error;
      }
    });
  }

  /** Takes one delivery for a lease, if no other caller took it since it was read. */
  private async claimOne(row: DeliveryRow, leaseUntil: string): Promise<DeliveryRow | undefined> {
    if (row.attempts === 0) {
      // The index first, so finishDelivery (by id alone) finds every delivery ever claimed.
      await this.shared.upsertEntity(
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
      await this.tenants.updateEntity(deliveryEntity(row), 'Replace', { etag: row.etag });
      return won();
    } catch (error) {
      if (retriable(error)) return undefined;
      throw error;
    }
  }

  private async deliveryLocation(id: number): Promise<{ pk: string; rk: string } | undefined> {
    const index = await this.get(this.shared, DELIVERY_INDEX, String(id));
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
            this.get(this.tenants, row.partitionKey, notificationRow(row.notificationId)).then(
              (e) => JSON.parse((e && unpackText(e, 'data')) ?? '{}') as ElevationNotification,
            ),
          );
        }
        if (!subscriptions.has(row.channelId)) {
          subscriptions.set(
            row.channelId,
            this.partitionOfSubscription(row.channelId).then((pk) =>
              pk ? this.get(this.tenants, pk, subscriptionRow(row.channelId)) : undefined,
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

  // ---------------------------------------------------------------------------------------------
  // Reading, partitions and indexes

  private async register(pk: string): Promise<void> {
    if (this.registered.has(pk)) return;
    await this.shared.upsertEntity({ partitionKey: TENANTS, rowKey: pk }, 'Replace');
    this.registered.add(pk);
  }

  /** Every tenant partition (registered before its first write, by whichever instance). */
  private async partitions(): Promise<string[]> {
    const found = await this.list(this.shared, odata`PartitionKey eq ${TENANTS}`);
    return found.map((e) => e.rowKey!);
  }

  /** The entities `filter(pk)` selects in every tenant partition, partition by partition. */
  private async inEveryTenant(filter: (pk: string) => string): Promise<Stored[]> {
    const results = await Promise.all(
      (await this.partitions()).map((pk) => this.list(this.tenants, filter(pk))),
    );
    return results.flat();
  }

  private async partitionOfRequest(id: string): Promise<string | undefined> {
    const known = this.requestPartitions.get(id);
    if (known) return known;
    const index = await this.get(this.shared, REQUEST_INDEX, keyPart(id));
    if (!index) return undefined;
    const pk = text(index, 'partition');
    this.remember(id, pk);
    return pk;
  }

  private remember(id: string, pk: string): void {
    if (this.requestPartitions.size >= 10_000) this.requestPartitions.clear();
    this.requestPartitions.set(id, pk);
  }

  private async partitionOfSubscription(channelId: string): Promise<string | undefined> {
    const index = await this.get(this.shared, SUBSCRIPTION_INDEX, keyPart(channelId));
    return index ? text(index, 'partition') : undefined;
  }

  private async teamConversations(teamId: string): Promise<Stored[]> {
    const found = await this.list(
      this.shared,
      odata`PartitionKey eq ${CONVERSATIONS} and teamId eq ${teamId}`,
    );
    const team = await this.get(this.shared, CONVERSATIONS, keyPart(teamId));
    if (team && !found.some((e) => e.rowKey === team.rowKey)) found.push(team);
    return found;
  }

  private teamSubscriptions(teamId: string): Promise<Stored[]> {
    return this.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'sub|'} and RowKey lt ${'sub}'} and teamId eq ${teamId}`,
    );
  }

  private async setSuspended(
    client: TableClient,
    pk: string,
    rk: string,
    suspended: boolean,
  ): Promise<void> {
    try {
      await client.updateEntity({ partitionKey: pk, rowKey: rk, suspended }, 'Merge', {
        etag: '*',
      });
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
  }

  private async get(client: TableClient, pk: string, rk: string): Promise<Stored | undefined> {
    try {
      return await client.getEntity<Record<string, unknown>>(pk, rk);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  private async list(client: TableClient, filter: string): Promise<Stored[]> {
    const found: Stored[] = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      found.push(entity);
    }
    return found;
  }

  /** True when this call removed it. */
  private async deleteQuietly(client: TableClient, pk: string, rk: string): Promise<boolean> {
    try {
      await client.deleteEntity(pk, rk);
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /** Deletes an entity only if it is still as read; true when it was deleted. */
  private async deleteIfUnchanged(client: TableClient, entity: Stored): Promise<boolean> {
    try {
      await client.deleteEntity(entity.partitionKey!, entity.rowKey!, { etag: entity.etag });
      return true;
    } catch (error) {
      if (retriable(error)) return false;
      throw error;
    }
  }

  /** Runs `attempt` until it returns something else than RETRY, with a short jittered backoff. */
  private async retrying<T>(what: string, attempt: () => Promise<T | typeof RETRY>): Promise<T> {
    const deadline = Date.now() + RETRY_FOR_MS;
    for (let n = 0; ; n += 1) {
      const result = await attempt();
      if (result !== RETRY) return result;
      if (Date.now() > deadline) {
        throw new Error(
          `TableStore: ${what} kept conflicting with other writers for ${RETRY_FOR_MS / 1000} s; gave up`,
        );
      }
      const ceiling = Math.min(100, 4 * 2 ** Math.min(n, 5));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}

// -----------------------------------------------------------------------------------------------
// Entities

function tenantPartition(tenantId: string): string {
  return keyPart(tenantId.toLowerCase());
}

function chainPartition(event: Pick<AuditEvent, 'tenantId'>): string {
  return keyPart(chainOf(event));
}

function requestRow(id: string): string {
  return `req|${keyPart(id)}`;
}

function notificationRow(id: string): string {
  return `notif|${keyPart(id)}`;
}

function subscriptionRow(channelId: string): string {
  return `sub|${keyPart(channelId)}`;
}

function deliveryRow(notificationId: string, channelId: string): string {
  return `deliv|${keyPart(notificationId)}|${keyPart(channelId)}`;
}

/**
 * The request as one entity; the properties beside `data` are there to be queried. `indexed`: its
 * index rows are written (by every write since they exist; see indexChanges).
 */
function requestEntity(pk: string, request: ElevationRequest, indexed = true): Entity {
  const { state, updatedAt, ...rest } = request;
  return {
    partitionKey: pk,
    rowKey: requestRow(request.id),
    kind: 'request',
    indexed,
    id: request.id,
    state,
    updatedAt,
    createdAt: request.createdAt,
    // Normalised, so that comparing texts compares times.
    expiresAt: new Date(request.expiresAt).toISOString(),
    requester: request.requester.aadObjectId.toLowerCase(),
    environment: request.environment.id.toLowerCase(),
    ...(request.executionDeadline ? { executionDeadline: request.executionDeadline } : {}),
    ...packText('data', JSON.stringify(rest)),
  };
}

function toRequest(entity: Stored): ElevationRequest {
  const data = JSON.parse(unpackText(entity, 'data') ?? '{}') as Omit<
    ElevationRequest,
    'state' | 'updatedAt'
  >;
  return {
    ...data,
    state: text(entity, 'state') as ElevationRequest['state'],
    updatedAt: text(entity, 'updatedAt'),
  };
}

/**
 * A request's index rows, in its partition: `hist|<user>|<time>|<id>` (history), while final
 * `outc|<environment>|<time>|<id>` (audit), while waiting `open|<user>|<environment>|<id>`. The
 * time is the outcome time inverted, so that the rows sort newest first.
 */
function indexRows(pk: string, request: ElevationRequest): Entity[] {
  const id = keyPart(request.id);
  const user = keyPart(request.requester.aadObjectId.toLowerCase());
  const time = invertedTime(request.updatedAt);
  const rows = [`hist|${user}|${time}|${id}`];
  if (isFinal(request.state)) {
    rows.push(`outc|${keyPart(request.environment.id.toLowerCase())}|${time}|${id}`);
  }
  if (request.state === 'requested') rows.push(`${openPrefix(request)}${id}`);
  return rows.map((rowKey) => ({ partitionKey: pk, rowKey, kind: 'index', id: request.id }));
}

/**
 * What moves a request's index rows from `before` (absent: none written yet) to `after`, in the
 * request's own transaction: the rows it no longer has go, the others are written; an executed
 * request also becomes its requester's last execution in the environment.
 */
function indexChanges(
  pk: string,
  before: ElevationRequest | undefined,
  after: ElevationRequest,
): TransactionAction[] {
  const rows = indexRows(pk, after);
  const kept = new Set(rows.map((row) => row.rowKey));
  const actions: TransactionAction[] = [
    ...(before ? indexRows(pk, before) : [])
      .filter((row) => !kept.has(row.rowKey))
      .map((row): TransactionAction => ['delete', { partitionKey: pk, rowKey: row.rowKey! }]),
    ...rows.map((row): TransactionAction => ['upsert', row, 'Replace']),
  ];
  if (after.state === 'succeeded' || after.state === 'failed') {
    const last: Entity = {
      partitionKey: pk,
      rowKey: lastExecutionRow(after.requester, after.environment.id),
      kind: 'index',
      id: after.id,
    };
    actions.push(['upsert', last, 'Replace']);
  }
  return actions;
}

function openPrefix(request: {
  requester: Pick<Requester, 'aadObjectId'>;
  environment: { id: string };
}): string {
  const user = keyPart(request.requester.aadObjectId.toLowerCase());
  return `open|${user}|${keyPart(request.environment.id.toLowerCase())}|`;
}

function lastExecutionRow(user: Pick<Requester, 'aadObjectId'>, environmentId: string): string {
  return `last|${keyPart(user.aadObjectId.toLowerCase())}|${keyPart(environmentId.toLowerCase())}`;
}

/** A time as 15 digits that sort the other way (newest first). */
function invertedTime(iso: string): string {
  return String(999_999_999_999_999 - Date.parse(iso)).padStart(15, '0');
}

function auditEntity(pk: string, event: StoredAuditEvent): Entity {
  return {
    partitionKey: pk,
    rowKey: `audit|${paddedSeq(event.seq)}`,
    kind: 'audit',
    chain: event.chain,
    seq: event.seq,
    at: event.at.toISOString(),
    type: event.type,
    ...(event.requestId !== undefined ? { requestId: event.requestId } : {}),
    ...(event.actor !== undefined ? { actor: event.actor } : {}),
    ...(event.tenantId !== undefined ? { tenantId: event.tenantId } : {}),
    ...(event.environmentId !== undefined ? { environmentId: event.environmentId } : {}),
    ...(event.details !== undefined ? packText('details', JSON.stringify(event.details)) : {}),
    prevHash: event.prevHash,
    hash: event.hash,
  };
}

function toAuditEvent(entity: Stored): StoredAuditEvent {
  const details = unpackText(entity, 'details');
  return {
    chain: text(entity, 'chain'),
    seq: num(entity, 'seq'),
    at: new Date(text(entity, 'at')),
    type: text(entity, 'type') as AuditEvent['type'],
    requestId: optionalText(entity, 'requestId'),
    actor: optionalText(entity, 'actor'),
    tenantId: optionalText(entity, 'tenantId'),
    environmentId: optionalText(entity, 'environmentId'),
    details: details === undefined ? undefined : (JSON.parse(details) as Record<string, unknown>),
    prevHash: text(entity, 'prevHash'),
    hash: text(entity, 'hash'),
  };
}

function notificationEntity(
  pk: string,
  notification: ElevationNotification,
  fanoutPending: boolean,
  at: Date,
): Entity {
  return {
    partitionKey: pk,
    rowKey: notificationRow(notification.id),
    kind: 'notification',
    id: notification.id,
    createdAt: notification.at,
    fanoutPending,
    // When its outbox rows are due (the step's time), for a fan-out finished later.
    fanoutAt: at.toISOString(),
    ...packText('data', JSON.stringify(notification)),
  };
}

function subscriptionEntity(pk: string, subscription: ChannelSubscription): Entity {
  return {
    partitionKey: pk,
    rowKey: subscriptionRow(subscription.channelId),
    kind: 'subscription',
    channelId: subscription.channelId,
    tenantId: subscription.tenantId.toLowerCase(),
    ...(subscription.teamId ? { teamId: subscription.teamId } : {}),
    suspended: false,
    ...packText('data', JSON.stringify(subscription)),
  };
}

function toSubscription(entity: Stored): ChannelSubscription {
  return JSON.parse(unpackText(entity, 'data') ?? '{}') as ChannelSubscription;
}

function pendingDelivery(
  pk: string,
  notificationId: string,
  channelId: string,
  id: number,
  at: Date,
): DeliveryRow {
  return {
    partitionKey: pk,
    rowKey: deliveryRow(notificationId, channelId),
    etag: '',
    id,
    notificationId,
    channelId,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: at.toISOString(),
  };
}

function deliveryEntity(row: DeliveryRow): Entity {
  return {
    partitionKey: row.partitionKey,
    rowKey: row.rowKey,
    kind: 'delivery',
    // A string: a number above 2^31 would come back as Edm.Int64, a BigInt.
    deliveryId: String(row.id),
    notificationId: row.notificationId,
    channelId: row.channelId,
    state: row.state,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    ...(row.leaseUntil ? { leaseUntil: row.leaseUntil } : {}),
    ...(row.lastError !== undefined ? packText('lastError', row.lastError) : {}),
    ...(row.finishedAt ? { finishedAt: row.finishedAt } : {}),
  };
}

function toDeliveryRow(entity: Stored): DeliveryRow {
  return {
    partitionKey: entity.partitionKey!,
    rowKey: entity.rowKey!,
    etag: entity.etag,
    id: Number(text(entity, 'deliveryId')),
    notificationId: text(entity, 'notificationId'),
    channelId: text(entity, 'channelId'),
    state: text(entity, 'state') as DeliveryRow['state'],
    attempts: num(entity, 'attempts'),
    nextAttemptAt: text(entity, 'nextAttemptAt'),
    leaseUntil: optionalText(entity, 'leaseUntil'),
    lastError: unpackText(entity, 'lastError'),
    finishedAt: optionalText(entity, 'finishedAt'),
  };
}

/** Which effects can join a transaction in partition `pk`, and which cannot. */
function splitEffects(
  pk: string,
  effects: Effects | undefined,
): { here?: Effects; elsewhere?: Effects } {
  if (!effects) return {};
  const here: Effects = {};
  const elsewhere: Effects = {};
  if (effects.audit) {
    if (chainPartition(effects.audit) === pk) here.audit = effects.audit;
    else elsewhere.audit = effects.audit;
  }
  if (effects.notification) {
    if (tenantPartition(effects.notification.tenantId) === pk) {
      here.notification = effects.notification;
    } else {
      elsewhere.notification = effects.notification;
    }
  }
  const some = (e: Effects) => e.audit !== undefined || e.notification !== undefined;
  return {
    here: some(here) ? here : undefined,
    elsewhere: some(elsewhere) ? elsewhere : undefined,
  };
}

// -----------------------------------------------------------------------------------------------
// Small things

function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Another writer got there first (412: changed, 409: created, 404: removed): read again. */
function retriable(error: unknown): boolean {
  const status = statusOf(error);
  return status === 412 || status === 409 || status === 404;
}

function text(entity: Record<string, unknown>, name: string): string {
  const value = entity[name];
  if (typeof value !== 'string') {
    throw new Error(`TableStore: an entity lacks its "${name}" (found ${typeof value})`);
  }
  return value;
}

function optionalText(entity: Record<string, unknown>, name: string): string | undefined {
  const value = entity[name];
  return typeof value === 'string' ? value : undefined;
}

function num(entity: Record<string, unknown>, name: string): number {
  const value = entity[name];
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number') {
    throw new Error(`TableStore: an entity lacks its "${name}" (found ${typeof value})`);
  }
  return n;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** As stored: JSON, undefined left out. */
function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function duplicateRequest(id: string): Error {
  return new Error(`TableStore: a request with id ${id} already exists`);
}

function tooBig(bytes: number): Error {
  return new Error(
    `TableStore: this write is about ${bytes} bytes, above the ${MAX_TRANSACTION_BYTES} bytes (4 MiB) an entity group transaction may carry; it was not written.`,
  );
}
