/**
 * How TableStore's records are table entities: keys that Table Storage accepts, long values split
 * over several properties, the service's size limits checked before a write (so that nothing is
 * ever cut silently), and each record (request, audit event, notification, subscription,
 * delivery) to and from its entity.
 */
import type { TableEntity, TableEntityResult } from '@azure/data-tables';
import { createHash } from 'node:crypto';
import { chainOf, type StoredAuditEvent } from '../../elevation/audit-chain';
import type { ChannelSubscription, ElevationNotification } from '../../elevation/notifications';
import type { AuditEvent } from '../../elevation/ports';
import type { ElevationRequest } from '../../elevation/request';
import type { DeliveryState } from '../deliveries';

export type Entity = TableEntity<Record<string, unknown>>;
export type Stored = TableEntityResult<Record<string, unknown>>;

/**
 * Table Storage forbids `/`, `\`, `#`, `?` and control characters in PartitionKey and RowKey, and
 * `'` and `%` are awkward in the URLs that address an entity. Every character outside a small safe
 * set is percent-encoded (its UTF-8 bytes), `|` included, so `|` can separate the parts of a key.
 * A key longer than 400 characters once encoded keeps its first 300 and a SHA-256 of the whole
 * after `!` (never produced by the encoding itself), well under the 1 KiB key limit.
 */
export function keyPart(value: string): string {
  let out = '';
  for (const ch of value) {
    if (/^[A-Za-z0-9._~:@-]$/.test(ch)) out += ch;
    else
      for (const byte of Buffer.from(ch, 'utf8')) {
        out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      }
  }
  if (out.length <= 400) return out;
  return `${out.slice(0, 300)}!${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}

/** The inverse of keyPart for keys that were not shortened. */
export function fromKeyPart(key: string): string {
  return decodeURIComponent(key);
}

/** A string property holds at most 64 KiB, i.e. 32 Ki UTF-16 code units; chunks stay below. */
export const CHUNK_CHARS = 30_000;

/** An entity holds at most 1 MiB (as the service counts it) and 255 properties. */
export const MAX_ENTITY_BYTES = 1024 * 1024;

/** An entity group transaction carries at most 100 operations and 4 MiB. */
export const MAX_TRANSACTION_OPERATIONS = 100;
export const MAX_TRANSACTION_BYTES = 4 * 1024 * 1024;

/**
 * Splits a text over properties `name`, `name_1`, `name_2`, ... (with `name_parts` when there is
 * more than one), each within a string property's 64 KiB.
 */
export function packText(name: string, text: string): Record<string, string | number> {
  if (text.length <= CHUNK_CHARS) return { [name]: text };
  const packed: Record<string, string | number> = {};
  let parts = 0;
  for (let start = 0; start < text.length; parts += 1) {
    let end = Math.min(text.length, start + CHUNK_CHARS);
    // Never split a surrogate pair: each part must be valid UTF-16 on its own.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    packed[parts === 0 ? name : `${name}_${parts}`] = text.slice(start, end);
    start = end;
  }
  packed[`${name}_parts`] = parts;
  return packed;
}

/** Reads back what packText wrote; undefined when the entity has no such text. */
export function unpackText(entity: Record<string, unknown>, name: string): string | undefined {
  const first = entity[name];
  if (typeof first !== 'string') return undefined;
  const parts = entity[`${name}_parts`];
  if (typeof parts !== 'number' || parts <= 1) return first;
  let text = first;
  for (let i = 1; i < parts; i += 1) {
    const part = entity[`${name}_${i}`];
    if (typeof part !== 'string') {
      throw new Error(`TableStore: part ${i} of ${parts} of "${name}" is missing from an entity`);
    }
    text += part;
  }
  return text;
}

/**
 * The size of an entity as Table Storage counts it: 4 bytes, the keys in UTF-16, and per property
 * 8 bytes, its name in UTF-16 and its value (a string: 4 bytes and UTF-16).
 */
export function entityBytes(entity: Record<string, unknown>): number {
  let bytes = 4;
  for (const [name, value] of Object.entries(entity)) {
    if (value === undefined) continue;
    if (name === 'partitionKey' || name === 'rowKey') {
      bytes += String(value).length * 2;
      continue;
    }
    bytes += 8 + name.length * 2;
    if (typeof value === 'string') bytes += 4 + value.length * 2;
    else if (typeof value === 'boolean') bytes += 1;
    else bytes += 8;
  }
  return bytes;
}

/** Refuses, with a sentence that says what and how big, an entity the service would refuse. */
export function checkEntity(entity: Record<string, unknown>, what: string): void {
  const bytes = entityBytes(entity);
  if (bytes > MAX_ENTITY_BYTES) {
    throw new Error(
      `TableStore: ${what} is ${bytes} bytes as a table entity, above Azure Table Storage's limit of ${MAX_ENTITY_BYTES} bytes (1 MiB); it was not written.`,
    );
  }
  const properties = Object.keys(entity).length;
  if (properties > 250) {
    throw new Error(
      `TableStore: ${what} needs ${properties} table properties, above Azure Table Storage's limit of 255; it was not written.`,
    );
  }
}

/** Roughly what an operation weighs in a transaction's body (the entity as JSON and headers). */
export function wireBytes(entity: Record<string, unknown>): number {
  return Buffer.byteLength(JSON.stringify(entity), 'utf8') + 600;
}

/** Seq numbers zero-padded, so RowKey order is seq order. */
export function paddedSeq(seq: number): string {
  return String(seq).padStart(12, '0');
}

// -----------------------------------------------------------------------------------------------
// Records and their entities

export function tenantPartition(tenantId: string): string {
  return keyPart(tenantId.toLowerCase());
}

export function chainPartition(event: Pick<AuditEvent, 'tenantId'>): string {
  return keyPart(chainOf(event));
}

export function requestRow(id: string): string {
  return `req|${keyPart(id)}`;
}

export function notificationRow(id: string): string {
  return `notif|${keyPart(id)}`;
}

export function subscriptionRow(channelId: string): string {
  return `sub|${keyPart(channelId)}`;
}

export function deliveryRow(notificationId: string, channelId: string): string {
  return `deliv|${keyPart(notificationId)}|${keyPart(channelId)}`;
}

/**
 * The request as one entity; the properties beside `data` are there to be queried. `indexed`: its
 * index rows are written (by every write since they exist; see indexChanges).
 */
export function requestEntity(pk: string, request: ElevationRequest, indexed = true): Entity {
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
    // Where a granted elevation's time box stands, to be seen beside the state (Storage
    // Explorer); the timer finds it by its index rows (request-index.ts), not by these.
    ...(request.minutes !== undefined ? { minutes: request.minutes } : {}),
    ...(request.timeBox
      ? {
          timeBoxPhase: request.timeBox.phase,
          ...(request.timeBox.dueAt
            ? { dueAt: new Date(request.timeBox.dueAt).toISOString() }
            : {}),
        }
      : {}),
    ...packText('data', JSON.stringify(rest)),
  };
}

export function toRequest(entity: Stored): ElevationRequest {
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

export function auditEntity(pk: string, event: StoredAuditEvent): Entity {
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

export function toAuditEvent(entity: Stored): StoredAuditEvent {
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

export function notificationEntity(
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

export function subscriptionEntity(pk: string, subscription: ChannelSubscription): Entity {
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

export function toSubscription(entity: Stored): ChannelSubscription {
  return JSON.parse(unpackText(entity, 'data') ?? '{}') as ChannelSubscription;
}

export interface DeliveryRow {
  partitionKey: string;
  rowKey: string;
  etag: string;
  id: number;
  notificationId: string;
  channelId: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string;
  leaseUntil?: string;
  lastError?: string;
  finishedAt?: string;
}

export function pendingDelivery(
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

export function deliveryEntity(row: DeliveryRow): Entity {
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

export function toDeliveryRow(entity: Stored): DeliveryRow {
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

/** A text property; an entity without it is refused with what it lacks. */
export function text(entity: Record<string, unknown>, name: string): string {
  const value = entity[name];
  if (typeof value !== 'string') {
    throw new Error(`TableStore: an entity lacks its "${name}" (found ${typeof value})`);
  }
  return value;
}

export function optionalText(entity: Record<string, unknown>, name: string): string | undefined {
  const value = entity[name];
  return typeof value === 'string' ? value : undefined;
}

export function num(entity: Record<string, unknown>, name: string): number {
  const value = entity[name];
  const n = typeof value === 'bigint' ? Number(value) : value;
  if (typeof n !== 'number') {
    throw new Error(`TableStore: an entity lacks its "${name}" (found ${typeof value})`);
  }
  return n;
}

export function tooBig(bytes: number): Error {
  return new Error(
    `TableStore: this write is about ${bytes} bytes, above the ${MAX_TRANSACTION_BYTES} bytes (4 MiB) an entity group transaction may carry; it was not written.`,
  );
}
