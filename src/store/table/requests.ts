/**
 * Elevation requests on Table Storage, one entity each in its tenant's partition (found by id
 * through the `request-index` partition): a state change is an ETag-conditional Replace in one
 * transaction with its index rows, its effects and the requester's other open cards it closes;
 * history, audit and the open cards read the index rows (see request-index.ts), and so do the
 * time boxes (time-boxes.ts).
 */
import { odata, type TransactionAction } from '@azure/data-tables';
import type { AuditEvent, CloseOthers, Effects, Page, Transition } from '../../elevation/ports';
import {
  type ElevationRequest,
  FINAL_STATES,
  isFinal,
  isTimeBoxFinal,
  type Requester,
} from '../../elevation/request';
import {
  checkEntity,
  type Entity,
  keyPart,
  requestEntity,
  requestRow,
  type Stored,
  tenantPartition,
  text,
  toRequest,
} from './entities';
import {
  indexChanges,
  indexRows,
  invertedTime,
  lastExecutionRow,
  openPrefix,
} from './request-index';
import {
  compare,
  jsonCopy,
  REQUEST_INDEX,
  retriable,
  RETRY,
  retrying,
  statusOf,
  type Tables,
  UPGRADES,
} from './tables';
import { activeElevations, findDueTimeBoxes, nextTimeBoxDue, requestsById } from './time-boxes';
import type { FanOut } from './fan-out';
import type { Step, Transactions } from './transaction';
import { BoundedMap } from '../../support/bounded-map';

/** The requests a step closes (see CloseOthers), with what writes them. */
interface Closing {
  actions: TransactionAction[];
  audits: AuditEvent[];
  closed: ElevationRequest[];
}

/** How many request rows this process remembers as it last read or wrote them. */
const KNOWN_REQUESTS = 2_000;

export class TableRequests {
  /** Request id -> partition; an id's partition never changes. */
  private readonly requestPartitions = new Map<string, string>();
  /**
   * Request rows as this process last read or wrote them, with their ETag. A transition starts
   * from one instead of reading it (one round trip less before the answer): its update is
   * conditional on that ETag, so a row another instance moved since voids the transaction and the
   * retry reads it. A transition that would do nothing on a remembered row reads it before saying
   * so: only a fresh read may refuse.
   */
  private readonly known = new BoundedMap<string, Stored>(KNOWN_REQUESTS);

  constructor(
    private readonly tables: Tables,
    private readonly transactions: Transactions,
    private readonly fanOut: FanOut,
  ) {}

  async createRequest(request: ElevationRequest, effects?: Effects): Promise<void> {
    const pk = tenantPartition(request.requester.tenantId);
    const entity = requestEntity(pk, request);
    checkEntity(entity, `request ${request.id}`);
    await this.tables.register(pk);
    // The index before the request: a request is never in the table without a way to find it by
    // id. Written beside the step's first reads (a round trip less), and awaited before its
    // transaction is sent.
    const indexed = this.writeIndex(pk, request.id);
    // Should the step fail before it awaits the index, the step's error is the one reported.
    indexed.catch(() => undefined);
    // The request, its index rows, its audit link and the requests it closes: one transaction.
    const at = new Date(request.createdAt);
    const closed = await this.transactions.step(
      pk,
      `creating request ${request.id}`,
      effects,
      at,
      true,
      async (afterHead) => {
        // Its own row (the create fails if it exists), and the requester's other open cards for
        // the environment: all read at once (one round trip).
        const [existing, , closing] = await Promise.all([
          this.tables.get(this.tables.tenants, pk, entity.rowKey!),
          indexed,
          this.closing(pk, request, effects?.closeOthers, at, afterHead),
        ]);
        if (existing) throw duplicateRequest(request.id);
        return {
          actions: [
            ['create', entity],
            ...indexChanges(pk, undefined, request),
            ...closing.actions,
          ],
          audits: closing.audits,
          result: closing.closed,
          withEffects: true,
          committed: (etags) => this.wrote(request.id, entity, etags[0]),
        };
      },
    );
    if (effects?.closeOthers) effects.closeOthers.closed = closed;
    this.remember(request.id, pk);
  }

  /** The shared index row that finds request `id` in partition `pk`; refuses an id of another. */
  private async writeIndex(pk: string, id: string): Promise<void> {
    const index: Entity = { partitionKey: REQUEST_INDEX, rowKey: keyPart(id), partition: pk };
    try {
      await this.tables.shared.createEntity(index);
    } catch (error) {
      if (statusOf(error) !== 409) throw error;
      const existing = await this.tables.get(this.tables.shared, REQUEST_INDEX, index.rowKey);
      if (existing && text(existing, 'partition') !== pk) throw duplicateRequest(id);
    }
  }

  /**
   * Requests written by a version before the index rows get them, once per storage account (as
   * SqliteStore upgrades an old file on open): oldest first, so that the last execution pointer
   * ends on the latest. Each is conditional on the request as read; one changed meanwhile was
   * written, and indexed, by its writer.
   */
  async indexEarlierRequests(): Promise<void> {
    if (await this.tables.get(this.tables.shared, UPGRADES, 'request-index')) return;
    for (const pk of await this.tables.partitions()) {
      const earlier = (
        await this.tables.list(
          this.tables.tenants,
          odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'}`,
        )
      )
        .filter((entity) => entity.indexed !== true)
        .sort((a, b) => compare(text(a, 'updatedAt'), text(b, 'updatedAt')));
      for (const entity of earlier) {
        const request = toRequest(entity);
        try {
          await this.tables.tenants.submitTransaction([
            ['update', requestEntity(pk, request), 'Replace', { etag: entity.etag }],
            ...indexChanges(pk, undefined, request),
          ]);
        } catch (error) {
          if (!retriable(error)) throw error;
        }
      }
    }
    await this.tables.shared.upsertEntity(
      { partitionKey: UPGRADES, rowKey: 'request-index' },
      'Replace',
    );
  }

  async findRequest(
    id: string,
    options?: { recent?: boolean },
  ): Promise<ElevationRequest | undefined> {
    const pk = await this.partitionOfRequest(id);
    if (!pk) return undefined;
    const known = options?.recent && this.transactions.calm(pk) ? this.known.get(id) : undefined;
    if (known) return toRequest(known);
    const stored = await this.tables.get(this.tables.tenants, pk, requestRow(id));
    if (stored) this.known.set(id, stored);
    return stored ? toRequest(stored) : undefined;
  }

  /** After a write of request `id` as `entity`: remembered with its new ETag, or forgotten. */
  private wrote(id: string, entity: Entity, etag: string | undefined): void {
    if (etag) this.known.set(id, { ...entity, etag } as Stored);
    else this.known.delete(id);
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
    // The audience of the notification that follows, read beside this step (see Effects).
    if (effects?.notificationFollows) this.fanOut.readAhead(pk, id);
    let attempts = 0;
    const moved = await this.transactions.step<
      { request: ElevationRequest; closed: ElevationRequest[] } | undefined
    >(pk, `moving request ${id} to ${change.to}`, effects, change.at, true, async (afterHead) => {
      // The row as this process knows it, on the first attempt only; else its own row (updated
      // on its ETag) beside the chain head's read.
      const remembered =
        attempts++ === 0 && this.transactions.calm(pk) ? this.known.get(id) : undefined;
      let stored = remembered ?? (await this.tables.get(this.tables.tenants, pk, rk));
      let current = stored ? toRequest(stored) : undefined;
      if (remembered && !(current && this.moves(change, current))) {
        stored = await this.tables.get(this.tables.tenants, pk, rk);
        current = stored ? toRequest(stored) : undefined;
      }
      // Read again on every attempt: once another caller moved it, this one has lost. The guard
      // runs on the request as read: its ETag conditions the transaction, so the guard's answer
      // holds until the commit, or the step reads and asks again.
      if (!stored || !current || !this.moves(change, current)) return nothing;
      // Staying in its state (a time box moving), a request keeps its outcome time.
      const stays = current.state === change.to;
      const next: ElevationRequest = {
        ...current,
        ...jsonCopy(change.set ?? {}),
        state: change.to,
        updatedAt: stays ? current.updatedAt : change.at.toISOString(),
      };
      const entity = requestEntity(pk, next);
      checkEntity(entity, `request ${id}`);
      const closing = await this.closing(pk, next, effects?.closeOthers, change.at, afterHead);
      return {
        actions: [
          ['update', entity, 'Replace', { etag: stored.etag }],
          ...indexChanges(pk, stored.indexed === true ? current : undefined, next, !stays),
          ...closing.actions,
        ],
        audits: closing.audits,
        result: { request: jsonCopy(next), closed: closing.closed },
        withEffects: true,
        committed: (etags) => this.wrote(id, entity, etags[0]),
      };
    });
    if (moved && effects?.closeOthers) effects.closeOthers.closed = moved.closed;
    return moved?.request;
  }

  /** Whether `change` applies to the request as it is: its state, its expiry, its guard. */
  private moves(change: Transition, current: ElevationRequest): boolean {
    if (!change.from.includes(current.state)) return false;
    if (change.unexpiredAt && !(Date.parse(current.expiresAt) > change.unexpiredAt.getTime())) {
      return false;
    }
    return !change.guard || change.guard(jsonCopy(current));
  }

  /**
   * What closes the requester's other open requests in the environment of `request` (read from
   * its `open|` index rows), each conditional on its ETag, with its audit event. The index is
   * read after the chain head (`afterHead`): a card opened after this read moves the head, and
   * so voids the transaction that would have missed it.
   */
  private async closing(
    pk: string,
    request: ElevationRequest,
    close: CloseOthers | undefined,
    at: Date,
    afterHead: Promise<void>,
  ): Promise<Closing> {
    const closing: Closing = { actions: [], audits: [], closed: [] };
    if (!close) return closing;
    await afterHead;
    for (const id of await this.indexed(pk, openPrefix(request))) {
      if (id === request.id) continue;
      const stored = await this.tables.get(this.tables.tenants, pk, requestRow(id));
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
    await retrying(`recording the card of request ${id}`, async () => {
      const stored = await this.tables.get(this.tables.tenants, pk, rk);
      if (!stored) return undefined;
      const next = { ...toRequest(stored), ...jsonCopy({ conversation, cardMessageId }) };
      const entity = requestEntity(pk, next, stored.indexed === true);
      checkEntity(entity, `request ${id}`);
      try {
        const written = await this.tables.tenants.updateEntity(entity, 'Replace', {
          etag: stored.etag,
        });
        this.wrote(id, entity, written.etag);
        return undefined;
      } catch (error) {
        if (retriable(error)) return RETRY;
        throw error;
      }
    });
  }

  async findExpired(now: Date, limit: number): Promise<ElevationRequest[]> {
    const found = await this.tables.inEveryTenant(
      (pk) =>
        odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'} and state eq ${'requested'} and expiresAt le ${now.toISOString()}`,
    );
    return found
      .sort((a, b) => compare(text(a, 'expiresAt'), text(b, 'expiresAt')))
      .slice(0, limit)
      .map(toRequest);
  }

  async findAbandonedExecutions(now: Date, limit: number): Promise<ElevationRequest[]> {
    const found = await this.tables.inEveryTenant(
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
    const found = await requestsById(this.tables, pk, await this.indexed(pk, prefix));
    return found
      .filter((r) => r.state === 'requested')
      .sort((a, b) => compare(a.updatedAt, b.updatedAt) || compare(a.id, b.id));
  }

  async lastExecutionOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): Promise<ElevationRequest | undefined> {
    const pk = tenantPartition(user.tenantId);
    const pointer = await this.tables.get(
      this.tables.tenants,
      pk,
      lastExecutionRow(user, environmentId),
    );
    if (!pointer) return undefined;
    const [found] = await requestsById(this.tables, pk, [text(pointer, 'id')]);
    return found && (found.state === 'succeeded' || found.state === 'failed') ? found : undefined;
  }

  findDueTimeBoxes(now: Date, limit: number): Promise<ElevationRequest[]> {
    return findDueTimeBoxes(this.tables, now, limit);
  }

  nextTimeBoxDue(): Promise<Date | undefined> {
    return nextTimeBoxDue(this.tables);
  }

  activeElevations(
    tenantId: string,
    user?: Pick<Requester, 'aadObjectId'>,
  ): Promise<ElevationRequest[]> {
    return activeElevations(this.tables, tenantId, user);
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
    return (await requestsById(this.tables, pk, ids)).filter(keep);
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
    const pages = this.tables.tenants
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

  /** Removes the partition's finished requests last changed before `cutoff`, with their index rows. */
  async purge(pk: string, cutoff: string): Promise<void> {
    const finished = FINAL_STATES.map((state) => odata`state eq ${state}`).join(' or ');
    for (const request of await this.tables.list(
      this.tables.tenants,
      `${odata`PartitionKey eq ${pk} and RowKey ge ${'req|'} and RowKey lt ${'req}'} and updatedAt lt ${cutoff}`} and (${finished})`,
    )) {
      // Never a request whose time box is pending: it is the timer that removes the role.
      const timeBox = toRequest(request).timeBox;
      if (timeBox && (!isTimeBoxFinal(timeBox) || timeBox.dueAt)) continue;
      if (await this.tables.deleteIfUnchanged(this.tables.tenants, request)) {
        const id = text(request, 'id');
        this.requestPartitions.delete(id);
        await this.tables.deleteQuietly(this.tables.shared, REQUEST_INDEX, keyPart(id));
        if (request.indexed === true) {
          for (const row of indexRows(pk, toRequest(request))) {
            await this.tables.deleteQuietly(this.tables.tenants, pk, row.rowKey!);
          }
        }
      }
    }
  }

  private async partitionOfRequest(id: string): Promise<string | undefined> {
    const known = this.requestPartitions.get(id);
    if (known) return known;
    const index = await this.tables.get(this.tables.shared, REQUEST_INDEX, keyPart(id));
    if (!index) return undefined;
    const pk = text(index, 'partition');
    this.remember(id, pk);
    return pk;
  }

  private remember(id: string, pk: string): void {
    if (this.requestPartitions.size >= 10_000) this.requestPartitions.clear();
    this.requestPartitions.set(id, pk);
  }
}

function duplicateRequest(id: string): Error {
  return new Error(`TableStore: a request with id ${id} already exists`);
}
