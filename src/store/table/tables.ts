/**
 * TableStore's two tables and how every part reads and writes them: point reads and queries that
 * treat "not there" as an answer, deletes that are quiet or conditional, the tenant partitions
 * (registered before their first write, so that queries can go partition by partition), and the
 * retry of a step that another writer beat to it.
 */
import { odata, type TableClient } from '@azure/data-tables';
import type { Stored } from './entities';

/** The partitions of the shared table, one per kind of record looked up by a key alone. */
export const TENANTS = 'tenant';
export const REQUEST_INDEX = 'request-index';
export const SUBSCRIPTION_INDEX = 'subscription-index';
export const DELIVERY_INDEX = 'delivery-index';
export const COUNTER = 'counter';
export const CONVERSATIONS = 'conversation';
export const ONCE = 'once';
export const SECRETS = 'secret';
export const WINDOW_COUNTS = 'window-count';
export const UPGRADES = 'upgrade';

/** How long a write keeps retrying against other writers before it gives up with an error. */
const RETRY_FOR_MS = 30_000;

/** What an attempt returns when another writer got there first: `retrying` tries again. */
export const RETRY = Symbol('retry');

export class Tables {
  /** Tenant partitions this process has registered (each is registered once, before its first write). */
  private readonly registered = new Set<string>();
  /** Tenant partitions this process knows of: registered here, or read from the registry. */
  private readonly known = new Set<string>();

  constructor(
    /** `<prefix>elevation`: everything that belongs to a tenant, one partition per tenant. */
    readonly tenants: TableClient,
    /** `<prefix>elevationshared`: what is looked up by a key alone, one partition per kind. */
    readonly shared: TableClient,
  ) {}

  async register(pk: string): Promise<void> {
    if (this.registered.has(pk)) return;
    await this.shared.upsertEntity({ partitionKey: TENANTS, rowKey: pk }, 'Replace');
    this.registered.add(pk);
    this.known.add(pk);
  }

  /** Every tenant partition (registered before its first write, by whichever instance). */
  async partitions(): Promise<string[]> {
    const found = (await this.list(this.shared, odata`PartitionKey eq ${TENANTS}`)).map(
      (e) => e.rowKey!,
    );
    for (const pk of found) this.known.add(pk);
    return found;
  }

  /**
   * `read` of every tenant partition, for what runs every few seconds (the time boxes' timer):
   * the partitions this process knows of are read beside the registry, not after it, and only
   * those the registry adds (a tenant another instance wrote first) wait for it.
   */
  async inEveryPartition<T>(read: (pk: string) => Promise<T>): Promise<T[]> {
    const known = [...this.known];
    const [all, first] = await Promise.all([this.partitions(), Promise.all(known.map(read))]);
    const missed = all.filter((pk) => !known.includes(pk));
    return [...first, ...(await Promise.all(missed.map(read)))];
  }

  /** The entities `filter(pk)` selects in every tenant partition, partition by partition. */
  async inEveryTenant(filter: (pk: string) => string): Promise<Stored[]> {
    const results = await Promise.all(
      (await this.partitions()).map((pk) => this.list(this.tenants, filter(pk))),
    );
    return results.flat();
  }

  async setSuspended(
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

  async get(client: TableClient, pk: string, rk: string): Promise<Stored | undefined> {
    try {
      return await client.getEntity<Record<string, unknown>>(pk, rk);
    } catch (error) {
      if (statusOf(error) === 404) return undefined;
      throw error;
    }
  }

  async list(client: TableClient, filter: string): Promise<Stored[]> {
    const found: Stored[] = [];
    for await (const entity of client.listEntities<Record<string, unknown>>({
      queryOptions: { filter },
    })) {
      found.push(entity);
    }
    return found;
  }

  /** True when this call removed it. */
  async deleteQuietly(client: TableClient, pk: string, rk: string): Promise<boolean> {
    try {
      await client.deleteEntity(pk, rk);
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw error;
    }
  }

  /** Deletes an entity only if it is still as read; true when it was deleted. */
  async deleteIfUnchanged(client: TableClient, entity: Stored): Promise<boolean> {
    try {
      await client.deleteEntity(entity.partitionKey!, entity.rowKey!, { etag: entity.etag });
      return true;
    } catch (error) {
      if (retriable(error)) return false;
      throw error;
    }
  }
}

/** Runs `attempt` until it returns something else than RETRY, with a short jittered backoff. */
export async function retrying<T>(
  what: string,
  attempt: () => Promise<T | typeof RETRY>,
): Promise<T> {
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

export function statusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('statusCode' in error)) return undefined;
  const status = (error as { statusCode?: unknown }).statusCode;
  return typeof status === 'number' ? status : undefined;
}

/** Another writer got there first (412: changed, 409: created, 404: removed): read again. */
export function retriable(error: unknown): boolean {
  const status = statusOf(error);
  return status === 412 || status === 409 || status === 404;
}

export function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** As stored: JSON, undefined left out. */
export function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}
