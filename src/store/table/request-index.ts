/**
 * The index rows of TableStore's requests, in each request's tenant partition, so that history,
 * audit and the open cards are range reads of an index and point reads, never a partition scan:
 * which rows a request has in each state, and what moves them, in the request's own transaction.
 * The time boxes of granted elevations have theirs too, found by when they are due and by user.
 */
import type { TransactionAction } from '@azure/data-tables';
import {
  type ElevationRequest,
  isFinal,
  isTimeBoxFinal,
  type Requester,
} from '../../elevation/request';
import { type Entity, keyPart } from './entities';

/**
 * A request's index rows, in its partition: `hist|<user>|<time>|<id>` (history), while final
 * `outc|<environment>|<time>|<id>` (audit), while waiting `open|<user>|<environment>|<id>`. The
 * time is the outcome time inverted, so that the rows sort newest first. A time box has
 * `due|<dueAt>|<id>` while it has a dueAt (with its leaseUntil, '' when none, so that a query can
 * leave out the leased ones), and `active|<user>|<endsAt>|<id>` while its phase is not final
 * (with its endsAt); the times as ISO texts, which sort as times.
 */
export function indexRows(pk: string, request: ElevationRequest): Entity[] {
  const id = keyPart(request.id);
  const user = keyPart(request.requester.aadObjectId.toLowerCase());
  const time = invertedTime(request.updatedAt);
  const rows: Entity[] = [`hist|${user}|${time}|${id}`].map((rowKey) =>
    indexRow(pk, rowKey, request),
  );
  if (isFinal(request.state)) {
    const rowKey = `outc|${keyPart(request.environment.id.toLowerCase())}|${time}|${id}`;
    rows.push(indexRow(pk, rowKey, request));
  }
  if (request.state === 'requested') {
    rows.push(indexRow(pk, `${openPrefix(request)}${id}`, request));
  }
  const box = request.timeBox;
  if (box?.dueAt) {
    const leaseUntil = box.leaseUntil ? isoTime(box.leaseUntil) : '';
    rows.push({ ...indexRow(pk, dueRow(box.dueAt, request.id), request), leaseUntil });
  }
  if (box && !isTimeBoxFinal(box)) {
    const endsAt = isoTime(box.endsAt);
    rows.push({
      ...indexRow(pk, `${activePrefix(request.requester)}${endsAt}|${id}`, request),
      endsAt,
    });
  }
  return rows;
}

function indexRow(pk: string, rowKey: string, request: ElevationRequest): Entity {
  return { partitionKey: pk, rowKey, kind: 'index', id: request.id };
}

/** Where the due time boxes start: `due|` sorts before the RowKey of any of them. */
export const DUE_PREFIX = 'due|';

export function dueRow(dueAt: string, id: string): string {
  return `${DUE_PREFIX}${isoTime(dueAt)}|${keyPart(id)}`;
}

/** The end (exclusive) of the due rows due at or before `now`. */
export function dueUntil(now: Date): string {
  return `${DUE_PREFIX}${now.toISOString()}~`;
}

/** The active time boxes of a tenant (no user) or of one user. */
export function activePrefix(user?: Pick<Requester, 'aadObjectId'>): string {
  return user ? `active|${keyPart(user.aadObjectId.toLowerCase())}|` : 'active|';
}

/** A time as an ISO text (UTC, milliseconds): texts compare as the times do. */
function isoTime(value: string): string {
  return new Date(value).toISOString();
}

/**
 * What moves a request's index rows from `before` (absent: none written yet) to `after`, in the
 * request's own transaction: the rows it no longer has go, the others are written; a request
 * executed now (`moved`: its state changed) also becomes its requester's last execution in the
 * environment, which a time box moving on an older one must not take back.
 */
export function indexChanges(
  pk: string,
  before: ElevationRequest | undefined,
  after: ElevationRequest,
  moved = true,
): TransactionAction[] {
  const rows = indexRows(pk, after);
  const kept = new Set(rows.map((row) => row.rowKey));
  const actions: TransactionAction[] = [
    ...(before ? indexRows(pk, before) : [])
      .filter((row) => !kept.has(row.rowKey))
      .map((row): TransactionAction => ['delete', { partitionKey: pk, rowKey: row.rowKey! }]),
    ...rows.map((row): TransactionAction => ['upsert', row, 'Replace']),
  ];
  if (moved && (after.state === 'succeeded' || after.state === 'failed')) {
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
