/**
 * What a store holds beyond what its ports show, read straight from its storage for tests (no
 * production class carries methods for tests): the SQLite file opened read-only, next to the
 * bot's own connection; Azure Table Storage through a TableClient of its own on the same table.
 */
import { odata, TableClient } from '@azure/data-tables';
import Database from 'better-sqlite3';
import type { StoredAuditEvent } from '../../src/elevation/audit-chain';
import type { DeliveryState } from '../../src/store/deliveries';
import { type AuditRow, toAuditEvent } from '../../src/store/sqlite/audit';
import { LIST_QUERIES } from '../../src/store/sqlite/requests';
import { toDeliveryRow } from '../../src/store/table/entities';

/** What the outbox holds for one delivery. */
export interface DeliveryRecord {
  id: number;
  notificationId: string;
  channelId: string;
  state: DeliveryState;
  attempts: number;
  lastError?: string;
}

/** A SQLite file: its path, or a test bot on one (see TestBot.storePath). */
export type SqliteFile = string | { storePath?: string };

function reading<T>(file: SqliteFile, read: (db: Database.Database) => T): T {
  const path = typeof file === 'string' ? file : file.storePath;
  if (!path) throw new Error('store-rows: this store is not a SQLite file');
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/** Every audit event of the file, in the order written. */
export function auditEvents(file: SqliteFile): StoredAuditEvent[] {
  return reading(file, (db) =>
    (db.prepare('SELECT * FROM audit_log ORDER BY id').all() as AuditRow[]).map(toAuditEvent),
  );
}

/** The file's outbox rows in order. */
export function outbox(file: SqliteFile): DeliveryRecord[] {
  const rows = reading(
    file,
    (db) =>
      db
        .prepare(
          'SELECT id, notification_id, channel_id, state, attempts, last_error FROM deliveries ORDER BY id',
        )
        .all() as Array<{
        id: number;
        notification_id: string;
        channel_id: string;
        state: DeliveryState;
        attempts: number;
        last_error: string | null;
      }>,
  );
  return rows.map((r) => ({
    id: r.id,
    notificationId: r.notification_id,
    channelId: r.channel_id,
    state: r.state,
    attempts: r.attempts,
    lastError: r.last_error ?? undefined,
  }));
}

/**
 * How SQLite runs the history, audit and open-card queries: the EXPLAIN QUERY PLAN lines of
 * each, so that a scan instead of an index search shows.
 */
export function queryPlans(file: SqliteFile): Record<string, string[]> {
  return reading(file, (db) =>
    Object.fromEntries(
      Object.entries(LIST_QUERIES).map(([name, source]) => {
        const parameters = (source.match(/\?/g) ?? []).map(() => 'x');
        const plan = db.prepare(`EXPLAIN QUERY PLAN ${source}`).all(...parameters) as Array<{
          detail: string;
        }>;
        return [name, plan.map((step) => step.detail)];
      }),
    ),
  );
}

/** The outbox rows of a TableStore's tables, in id order. */
export async function tableOutbox(options: {
  connectionString: string;
  tablePrefix?: string;
}): Promise<DeliveryRecord[]> {
  const table = TableClient.fromConnectionString(
    options.connectionString,
    `${options.tablePrefix ?? ''}elevation`,
    { allowInsecureConnection: true },
  );
  const rows = [];
  for await (const entity of table.listEntities<Record<string, unknown>>({
    queryOptions: { filter: odata`RowKey ge ${'deliv|'} and RowKey lt ${'deliv}'}` },
  })) {
    rows.push(toDeliveryRow(entity));
  }
  return rows
    .sort((a, b) => a.id - b.id)
    .map((r) => ({
      id: r.id,
      notificationId: r.notificationId,
      channelId: r.channelId,
      state: r.state,
      attempts: r.attempts,
      lastError: r.lastError,
    }));
}
