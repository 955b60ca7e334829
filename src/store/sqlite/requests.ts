/**
 * Elevation requests in the SQLite file: transitions are conditional UPDATE statements, so a
 * request changes state at most once even under concurrent clicks, and across processes sharing
 * the file; a request created or moved closes its requester's other open cards in the same
 * IMMEDIATE transaction; history and audit page by outcome time on their indexes; the time boxes
 * of granted elevations are found by when they are due, and by tenant and user, on theirs.
 */
import type Database from 'better-sqlite3';
import type { CloseOthers, Effects, Page, Transition } from '../../elevation/ports';
import {
  type ElevationRequest,
  isTimeBoxFinal,
  type Requester,
  type RequestState,
} from '../../elevation/request';
import type { SqliteAudit } from './audit';
import type { WriteEffects } from './outbox';
import { FINAL_SQL } from './schema';

interface RequestRow {
  state: RequestState;
  updated_at: string;
  data: string;
}

/**
 * The history, audit and open-card queries, by name: each must be a search of its index, never
 * a scan (test/integration/sqlite-migration.test.ts reads their query plans). Lists by outcome
 * time (updated_at: a final state's is its outcome's), on their indexes; the (updated_at, id)
 * cursor pages both ways.
 */
export const LIST_QUERIES = {
  requestsOfBefore: `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND requester_id = ? AND (updated_at, id) < (?, ?)
          ORDER BY updated_at DESC, id DESC LIMIT ?`,
  requestsOfAfter: `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND requester_id = ? AND (updated_at, id) > (?, ?)
          ORDER BY updated_at, id LIMIT ?`,
  requestsInBefore: `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND environment_id = ? AND state IN (${FINAL_SQL})
            AND (updated_at, id) < (?, ?)
          ORDER BY updated_at DESC, id DESC LIMIT ?`,
  requestsInAfter: `SELECT state, updated_at, data FROM elevation_requests
          WHERE tenant_id = ? AND environment_id = ? AND state IN (${FINAL_SQL})
            AND (updated_at, id) > (?, ?)
          ORDER BY updated_at, id LIMIT ?`,
  openRequestsOf: `SELECT id, state, updated_at, data FROM elevation_requests
            INDEXED BY requests_of_requester_in_environment
          WHERE tenant_id = ? AND requester_id = ? AND environment_id = ? AND state = 'requested'
          ORDER BY updated_at, id`,
  lastExecutionOf: `SELECT state, updated_at, data FROM elevation_requests
            INDEXED BY requests_of_requester_in_environment
          WHERE tenant_id = ? AND requester_id = ? AND environment_id = ?
            AND state IN ('succeeded', 'failed')
          ORDER BY updated_at DESC LIMIT 1`,
  // Time boxes (TimeBoxStore): the lease is filtered among the due ones, which are few.
  dueTimeBoxes: `SELECT state, updated_at, data FROM elevation_requests
            INDEXED BY time_boxes_due
          WHERE due_at <= ? AND (lease_until IS NULL OR lease_until <= ?)
          ORDER BY due_at, id LIMIT ?`,
  nextTimeBoxDue: `SELECT due_at FROM elevation_requests INDEXED BY time_boxes_due
          WHERE due_at IS NOT NULL ORDER BY due_at LIMIT 1`,
  activeElevations: `SELECT state, updated_at, data FROM elevation_requests
            INDEXED BY active_time_boxes
          WHERE tenant_id = ? AND ends_at IS NOT NULL ORDER BY ends_at, id`,
  activeElevationsOf: `SELECT state, updated_at, data FROM elevation_requests
            INDEXED BY active_time_boxes_of_requester
          WHERE tenant_id = ? AND requester_id = ? AND ends_at IS NOT NULL ORDER BY ends_at, id`,
} as const;

/** A new request's row; its parameters are requestParameters(request). */
export const INSERT_REQUEST = `INSERT INTO elevation_requests
    (id, state, expires_at, updated_at, data, tenant_id, requester_id, environment_id,
     created_at, due_at, lease_until, ends_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The parameters of INSERT_REQUEST: the request's data, and the columns it is looked up by. */
export function requestParameters(request: ElevationRequest): Array<string | number | null> {
  const { state, updatedAt, ...rest } = request;
  return [
    request.id,
    state,
    Date.parse(request.expiresAt),
    updatedAt,
    JSON.stringify(rest),
    request.requester.tenantId.toLowerCase(),
    request.requester.aadObjectId.toLowerCase(),
    request.environment.id.toLowerCase(),
    request.createdAt,
    ...timeBoxColumns(request),
  ];
}

export class SqliteRequests {
  private readonly statements;

  constructor(
    private readonly db: Database.Database,
    private readonly audit: SqliteAudit,
    private readonly writeEffects: WriteEffects,
  ) {
    this.statements = {
      insert: db.prepare(INSERT_REQUEST),
      find: db.prepare<[string], RequestRow>(
        'SELECT state, updated_at, data FROM elevation_requests WHERE id = ?',
      ),
      // One statement: the state check and the write cannot be separated by another writer.
      // json_patch merges objects key by key: the first patch removes the fields being set, so
      // that each is replaced whole (a roleCheck or a conversation never mixes with the old one).
      // A request staying in its state (a time box moving) keeps its updated_at: its outcome time.
      transition: db.prepare<
        [string, string, string, string, string, string, string, number | null, number | null],
        RequestRow
      >(
        `UPDATE elevation_requests
            SET state = ?, updated_at = CASE WHEN state = ? THEN updated_at ELSE ? END,
                data = json_patch(json_patch(data, ?), ?)
          WHERE id = ?
            AND state IN (SELECT value FROM json_each(?))
            AND (? IS NULL OR expires_at > ?)
        RETURNING state, updated_at, data`,
      ),
      setTimeBox: db.prepare<[string | null, string | null, string | null, string]>(
        'UPDATE elevation_requests SET due_at = ?, lease_until = ?, ends_at = ? WHERE id = ?',
      ),
      setExpiresAt: db.prepare<[number, string]>(
        'UPDATE elevation_requests SET expires_at = ? WHERE id = ?',
      ),
      setCard: db.prepare<[string, string, string]>(
        'UPDATE elevation_requests SET data = json_patch(json_patch(data, ?), ?) WHERE id = ?',
      ),
      expired: db.prepare<[number, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE state = 'requested' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
      ),
      abandoned: db.prepare<[string, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE state = 'executing' AND json_extract(data, '$.executionDeadline') <= ?
          ORDER BY updated_at LIMIT ?`,
      ),
      requestsOfBefore: db.prepare<[string, string, string, string, number], RequestRow>(
        LIST_QUERIES.requestsOfBefore,
      ),
      requestsOfAfter: db.prepare<[string, string, string, string, number], RequestRow>(
        LIST_QUERIES.requestsOfAfter,
      ),
      requestsInBefore: db.prepare<[string, string, string, string, number], RequestRow>(
        LIST_QUERIES.requestsInBefore,
      ),
      requestsInAfter: db.prepare<[string, string, string, string, number], RequestRow>(
        LIST_QUERIES.requestsInAfter,
      ),
      openRequestsOf: db.prepare<[string, string, string], RequestRow & { id: string }>(
        LIST_QUERIES.openRequestsOf,
      ),
      lastExecutionOf: db.prepare<[string, string, string], RequestRow>(
        LIST_QUERIES.lastExecutionOf,
      ),
      // Never a request whose time box is pending: it is the timer that removes the role.
      purgeRequests: db.prepare<[string]>(
        `DELETE FROM elevation_requests
          WHERE state IN ('succeeded', 'failed', 'cancelled', 'expired') AND updated_at < ?
            AND ends_at IS NULL AND due_at IS NULL`,
      ),
      dueTimeBoxes: db.prepare<[string, string, number], RequestRow>(LIST_QUERIES.dueTimeBoxes),
      nextTimeBoxDue: db.prepare<[], { due_at: string }>(LIST_QUERIES.nextTimeBoxDue),
      activeElevations: db.prepare<[string], RequestRow>(LIST_QUERIES.activeElevations),
      activeElevationsOf: db.prepare<[string, string], RequestRow>(LIST_QUERIES.activeElevationsOf),
    };
  }

  createRequest(request: ElevationRequest, effects?: Effects): void {
    this.db
      .transaction(() => {
        this.statements.insert.run(...requestParameters(request));
        this.writeEffects(effects, new Date(request.createdAt));
        this.closeOthers(request, effects?.closeOthers, new Date(request.createdAt));
      })
      .immediate();
  }

  /**
   * Cancels the requester's other open requests in the environment, each with its audit event;
   * runs inside the caller's IMMEDIATE transaction, so no other writer can open one meanwhile.
   */
  private closeOthers(request: ElevationRequest, close: CloseOthers | undefined, at: Date): void {
    if (!close) return;
    const closed: ElevationRequest[] = [];
    for (const row of this.statements.openRequestsOf.all(
      request.requester.tenantId.toLowerCase(),
      request.requester.aadObjectId.toLowerCase(),
      request.environment.id.toLowerCase(),
    )) {
      if (row.id === request.id) continue;
      const moved = this.statements.transition.get(
        'cancelled',
        'cancelled',
        at.toISOString(),
        ...replacing({ closedBecause: close.because }),
        row.id,
        JSON.stringify(['requested']),
        null,
        null,
      );
      if (!moved) continue;
      const done = toRequest(moved);
      this.audit.insert(close.audit(done));
      closed.push(done);
    }
    close.closed = closed;
  }

  findRequest(id: string): ElevationRequest | undefined {
    const row = this.statements.find.get(id);
    return row ? toRequest(row) : undefined;
  }

  transition(id: string, change: Transition, effects?: Effects): ElevationRequest | undefined {
    const unexpired = change.unexpiredAt ? change.unexpiredAt.getTime() : null;
    return this.db
      .transaction(() => {
        // The guard reads the request inside the write lock: nobody changes it until the commit.
        if (change.guard) {
          const current = this.statements.find.get(id);
          if (!current || !change.guard(toRequest(current))) return undefined;
        }
        const row = this.statements.transition.get(
          change.to,
          change.to,
          change.at.toISOString(),
          ...replacing(change.set ?? {}),
          id,
          JSON.stringify(change.from),
          unexpired,
          unexpired,
        );
        if (!row) return undefined;
        const moved = toRequest(row);
        if (change.set?.timeBox !== undefined) {
          this.statements.setTimeBox.run(...timeBoxColumns(moved), id);
        }
        // The indexed column too: expiry (findExpired, unexpiredAt) reads it, not the JSON.
        if (change.set?.expiresAt !== undefined) {
          this.statements.setExpiresAt.run(Date.parse(change.set.expiresAt), id);
        }
        this.writeEffects(effects, change.at);
        this.closeOthers(moved, effects?.closeOthers, change.at);
        return moved;
      })
      .immediate();
  }

  setCardMessage(id: string, conversation: unknown, cardMessageId: string): void {
    this.statements.setCard.run(...replacing({ conversation, cardMessageId }), id);
  }

  findExpired(now: Date, limit: number): ElevationRequest[] {
    return this.statements.expired.all(now.getTime(), limit).map(toRequest);
  }

  findAbandonedExecutions(now: Date, limit: number): ElevationRequest[] {
    return this.statements.abandoned.all(now.toISOString(), limit).map(toRequest);
  }

  requestsOf(user: Pick<Requester, 'tenantId' | 'aadObjectId'>, page: Page): ElevationRequest[] {
    const key = [user.tenantId.toLowerCase(), user.aadObjectId.toLowerCase()] as const;
    if (page.after) {
      return this.statements.requestsOfAfter
        .all(...key, page.after.at, page.after.id, page.limit)
        .map(toRequest)
        .reverse();
    }
    const before = page.before ?? END_OF_LIST;
    return this.statements.requestsOfBefore
      .all(...key, before.at, before.id, page.limit)
      .map(toRequest);
  }

  requestsIn(tenantId: string, environmentId: string, page: Page): ElevationRequest[] {
    const key = [tenantId.toLowerCase(), environmentId.toLowerCase()] as const;
    if (page.after) {
      return this.statements.requestsInAfter
        .all(...key, page.after.at, page.after.id, page.limit)
        .map(toRequest)
        .reverse();
    }
    const before = page.before ?? END_OF_LIST;
    return this.statements.requestsInBefore
      .all(...key, before.at, before.id, page.limit)
      .map(toRequest);
  }

  openRequestsOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): ElevationRequest[] {
    return this.statements.openRequestsOf
      .all(user.tenantId.toLowerCase(), user.aadObjectId.toLowerCase(), environmentId.toLowerCase())
      .map(toRequest);
  }

  lastExecutionOf(
    user: Pick<Requester, 'tenantId' | 'aadObjectId'>,
    environmentId: string,
  ): ElevationRequest | undefined {
    const row = this.statements.lastExecutionOf.get(
      user.tenantId.toLowerCase(),
      user.aadObjectId.toLowerCase(),
      environmentId.toLowerCase(),
    );
    return row ? toRequest(row) : undefined;
  }

  findDueTimeBoxes(now: Date, limit: number): ElevationRequest[] {
    const at = now.toISOString();
    return this.statements.dueTimeBoxes.all(at, at, limit).map(toRequest);
  }

  nextTimeBoxDue(): Date | undefined {
    const row = this.statements.nextTimeBoxDue.get();
    return row ? new Date(row.due_at) : undefined;
  }

  activeElevations(tenantId: string, user?: Pick<Requester, 'aadObjectId'>): ElevationRequest[] {
    const rows = user
      ? this.statements.activeElevationsOf.all(
          tenantId.toLowerCase(),
          user.aadObjectId.toLowerCase(),
        )
      : this.statements.activeElevations.all(tenantId.toLowerCase());
    return rows.map(toRequest);
  }

  /** Removes finished requests last changed before `cutoff`; inside the caller's transaction. */
  purge(cutoff: string): void {
    this.statements.purgeRequests.run(cutoff);
  }
}

/** Where a newest-first list starts: before every (updated_at, id). */
const END_OF_LIST = { at: '\uffff', id: '' };

/** The two patches that replace each given top-level field whole: remove them, then set them. */
function replacing(fields: Record<string, unknown>): [string, string] {
  const given = Object.entries(fields).filter(([, value]) => value !== undefined);
  return [
    JSON.stringify(Object.fromEntries(given.map(([key]) => [key, null]))),
    JSON.stringify(Object.fromEntries(given)),
  ];
}

/**
 * The time box columns (due_at, lease_until, ends_at) of a request, as ISO texts that compare as
 * times; ends_at only while the time box is not final.
 */
function timeBoxColumns(request: ElevationRequest): [string | null, string | null, string | null] {
  const box = request.timeBox;
  const time = (value: string | undefined) => (value ? new Date(value).toISOString() : null);
  if (!box) return [null, null, null];
  return [time(box.dueAt), time(box.leaseUntil), isTimeBoxFinal(box) ? null : time(box.endsAt)];
}

function toRequest(row: RequestRow): ElevationRequest {
  const data = JSON.parse(row.data) as Omit<ElevationRequest, 'state' | 'updatedAt'>;
  return { ...data, state: row.state, updatedAt: row.updated_at };
}
