/**
 * Time boxes on Table Storage, read through the index rows each request write keeps in its
 * tenant partition (request-index.ts): the due rows, a range read per tenant partition (every
 * partition the registry knows, so an instance finds work it never wrote), and the active rows.
 */
import { odata } from '@azure/data-tables';
import { type ElevationRequest, isTimeBoxFinal, type Requester } from '../../elevation/request';
import { isDue, leaseFree } from '../../elevation/time-box';
import { requestRow, type Stored, tenantPartition, text, toRequest } from './entities';
import { activePrefix, DUE_PREFIX, dueUntil } from './request-index';
import { compare, type Tables } from './tables';

/** The requests with these ids, in that order, leaving out those no longer there. */
export async function requestsById(
  tables: Tables,
  pk: string,
  ids: string[],
): Promise<ElevationRequest[]> {
  const found = await Promise.all(ids.map((id) => tables.get(tables.tenants, pk, requestRow(id))));
  return found.filter((e): e is Stored => e !== undefined).map(toRequest);
}

/**
 * The due time boxes: in every tenant partition, the due rows up to `now` whose lease is over
 * (a range read), the soonest `limit` of them all, then their requests, checked as they are now
 * (another instance may have claimed one since the index was read).
 */
export async function findDueTimeBoxes(
  tables: Tables,
  now: Date,
  limit: number,
): Promise<ElevationRequest[]> {
  if (limit <= 0) return [];
  const at = now.toISOString();
  const rows = await tables.inEveryPartition(async (pk) => {
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${DUE_PREFIX} and RowKey lt ${dueUntil(now)} and leaseUntil le ${at}`;
    const found: Array<{ pk: string; rowKey: string; id: string }> = [];
    const pages = tables.tenants
      .listEntities<Record<string, unknown>>({
        queryOptions: { filter, select: ['rowKey', 'id'] },
      })
      .byPage({ maxPageSize: Math.min(1000, limit) });
    for await (const entities of pages) {
      for (const entity of entities) {
        found.push({ pk, rowKey: entity.rowKey!, id: text(entity, 'id') });
        if (found.length >= limit) return found;
      }
    }
    return found;
  });
  const soonest = rows
    .flat()
    .sort((a, b) => compare(a.rowKey, b.rowKey))
    .slice(0, limit);
  const requests = await Promise.all(
    soonest.map(({ pk, id }) => tables.get(tables.tenants, pk, requestRow(id))),
  );
  return requests
    .filter((e): e is Stored => e !== undefined)
    .map(toRequest)
    .filter((r) => r.timeBox !== undefined && isDue(r.timeBox, now) && leaseFree(r.timeBox, now));
}

/** The soonest dueAt: the first due row of each tenant partition. */
export async function nextTimeBoxDue(tables: Tables): Promise<Date | undefined> {
  const firsts = await tables.inEveryPartition(async (pk) => {
    const filter = odata`PartitionKey eq ${pk} and RowKey ge ${DUE_PREFIX} and RowKey lt ${'due}'}`;
    const pages = tables.tenants
      .listEntities<Record<string, unknown>>({ queryOptions: { filter, select: ['rowKey'] } })
      .byPage({ maxPageSize: 1 });
    for await (const entities of pages) {
      if (entities.length > 0) return entities[0]!.rowKey!.split('|')[1];
    }
    return undefined;
  });
  const soonest = firsts.filter((t): t is string => t !== undefined).sort(compare)[0];
  return soonest ? new Date(soonest) : undefined;
}

/** The active rows of the tenant (or of one user), soonest end first, then their requests. */
export async function activeElevations(
  tables: Tables,
  tenantId: string,
  user?: Pick<Requester, 'aadObjectId'>,
): Promise<ElevationRequest[]> {
  const pk = tenantPartition(tenantId);
  const prefix = activePrefix(user);
  const rows = await tables.list(
    tables.tenants,
    odata`PartitionKey eq ${pk} and RowKey ge ${prefix} and RowKey lt ${`${prefix.slice(0, -1)}}`}`,
  );
  const ids = rows
    .map((row) => ({ endsAt: text(row, 'endsAt'), id: text(row, 'id') }))
    .sort((a, b) => compare(a.endsAt, b.endsAt) || compare(a.id, b.id))
    .map((row) => row.id);
  return (await requestsById(tables, pk, ids)).filter(
    (r) => r.timeBox !== undefined && !isTimeBoxFinal(r.timeBox),
  );
}
