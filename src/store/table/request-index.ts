/**
 * The index rows of TableStore's requests, in each request's tenant partition, so that history,
 * audit and the open cards are range reads of an index and point reads, never a partition scan:
 * which rows a request has in each state, and what moves them, in the request's own transaction.
 */
import type { TransactionAction } from '@azure/data-tables';
import { type ElevationRequest, isFinal, type Requester } from '../../elevation/request';
import { type Entity, keyPart } from './entities';

/**
 * A request's index rows, in its partition: `hist|<user>|<time>|<id>` (history), while final
 * `outc|<environment>|<time>|<id>` (audit), while waiting `open|<user>|<environment>|<id>`. The
 * time is the outcome time inverted, so that the rows sort newest first.
 */
export function indexRows(pk: string, request: ElevationRequest): Entity[] {
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
export function indexChanges(
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

export function openPrefix(request: {
  requester: Pick<Requester, 'aadObjectId'>;
  environment: { id: string };
}): string {
  const user = keyPart(request.requester.aadObjectId.toLowerCase());
  return `open|${user}|${keyPart(request.environment.id.toLowerCase())}|`;
}

export function lastExecutionRow(
  user: Pick<Requester, 'aadObjectId'>,
  environmentId: string,
): string {
  return `last|${keyPart(user.aadObjectId.toLowerCase())}|${keyPart(environmentId.toLowerCase())}`;
}

/** A time as 15 digits that sort the other way (newest first). */
export function invertedTime(iso: string): string {
  return String(999_999_999_999_999 - Date.parse(iso)).padStart(15, '0');
}
