/**
 * The audit trail on Table Storage: each tenant's hash chain in its partition, as `audit|<seq>`
 * rows under a chain head (`audithead`, the lock of the chain: every new link is conditional on
 * its ETag) and, once retention removed the oldest events, an anchor (`auditanchor`) where the
 * chain now starts.
 */
import { odata, type TransactionAction } from '@azure/data-tables';
import { linkAuditEvent, type StoredAuditEvent } from '../../elevation/audit-chain';
import type { AuditEvent, AuditQuery } from '../../elevation/ports';
import {
  auditEntity,
  checkEntity,
  type Entity,
  keyPart,
  MAX_TRANSACTION_OPERATIONS,
  num,
  paddedSeq,
  type Stored,
  text,
  toAuditEvent,
} from './entities';
import { compare, retriable, RETRY, retrying, type Tables } from './tables';

/** The chain head's row key. */
export const AUDIT_HEAD = 'audithead';
const HEAD = AUDIT_HEAD;
const ANCHOR = 'auditanchor';

/** The chain head of partition `pk` as it is now (absent before the first event). */
export async function readAuditHead(tables: Tables, pk: string): Promise<Stored | undefined> {
  return tables.get(tables.tenants, pk, HEAD);
}

/**
 * The operations that append `audits` to the chain of partition `pk`, in a step's transaction:
 * the chain's next links (head ETag-conditional, events inserted). `knownHead`: the head as read
 * before the step read anything else, so that the ETag condition also covers those reads.
 */
export async function stageAuditLinks(
  tables: Tables,
  pk: string,
  audits: AuditEvent[],
  knownHead?: { entity: Stored | undefined },
): Promise<TransactionAction[]> {
  const actions: TransactionAction[] = [];
  const head = knownHead ? knownHead.entity : await readAuditHead(tables, pk);
  const anchor = head ? undefined : await tables.get(tables.tenants, pk, ANCHOR);
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
  return actions;
}

export class TableAudit {
  constructor(private readonly tables: Tables) {}

  async readAudit(query: AuditQuery): Promise<StoredAuditEvent[]> {
    const pk = keyPart(query.chain);
    const after = `audit|${paddedSeq(query.afterSeq ?? 0)}`;
    const since = (query.since ?? new Date(0)).toISOString();
    const events: StoredAuditEvent[] = [];
    if (query.limit <= 0) return events;
    const pages = this.tables.tenants
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
    for (const pk of await this.tables.partitions()) {
      const [head, anchor] = await Promise.all([
        this.tables.get(this.tables.tenants, pk, HEAD),
        this.tables.get(this.tables.tenants, pk, ANCHOR),
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
    for (const pk of await this.tables.partitions()) {
      removed += await retrying(`pruning the audit chain ${pk}`, async () => {
        const old = await this.tables.list(
          this.tables.tenants,
          odata`PartitionKey eq ${pk} and RowKey gt ${'audit|'} and RowKey lt ${'audit}'} and at lt ${before.toISOString()}`,
        );
        if (old.length === 0) return 0;
        const last = Math.max(...old.map((e) => num(e, 'seq')));
        const doomed = (
          await this.tables.list(
            this.tables.tenants,
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
            await this.tables.tenants.submitTransaction([
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
}
