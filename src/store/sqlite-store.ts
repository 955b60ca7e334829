/**
 * The default store: one SQLite file (WAL), zero setup. Transitions are single conditional
 * UPDATE statements, so a request changes state at most once even under concurrent clicks, and
 * across processes sharing the file.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AuditEvent, ElevationStore, Transition } from '../elevation/ports';
import type { ElevationRequest, RequestState } from '../elevation/request';

export interface SqliteStoreOptions {
  /** Path of the database file; ':memory:' for a private in-memory database. */
  path: string;
}

interface RequestRow {
  state: RequestState;
  updated_at: string;
  data: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS elevation_requests (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS elevation_requests_waiting ON elevation_requests (state, expires_at);
CREATE TABLE IF NOT EXISTS once_keys (
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  request_id TEXT,
  actor TEXT,
  tenant_id TEXT,
  environment_id TEXT,
  details TEXT
);
`;

export class SqliteStore implements ElevationStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(options: SqliteStoreOptions) {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    this.db = new Database(options.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    this.statements = {
      insert: this.db.prepare(
        'INSERT INTO elevation_requests (id, state, expires_at, updated_at, data) VALUES (?, ?, ?, ?, ?)',
      ),
      find: this.db.prepare<[string], RequestRow>(
        'SELECT state, updated_at, data FROM elevation_requests WHERE id = ?',
      ),
      // One statement: the state check and the write cannot be separated by another writer.
      transition: this.db.prepare<
        [string, string, string, string, string, number | null, number | null],
        RequestRow
      >(
        `UPDATE elevation_requests
            SET state = ?, updated_at = ?, data = json_patch(data, ?)
          WHERE id = ?
            AND state IN (SELECT value FROM json_each(?))
            AND (? IS NULL OR expires_at > ?)
        RETURNING state, updated_at, data`,
      ),
      // Inserts the key, or takes over an expired one; changes === 1 only for the one winner.
      claimOnce: this.db.prepare<[string, number, number]>(
        `INSERT INTO once_keys (key, expires_at) VALUES (?, ?)
         ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE once_keys.expires_at <= ?`,
      ),
      forgetExpiredKeys: this.db.prepare<[number]>('DELETE FROM once_keys WHERE expires_at <= ?'),
      setCard: this.db.prepare(
        'UPDATE elevation_requests SET data = json_patch(data, ?) WHERE id = ?',
      ),
      expired: this.db.prepare<[number, number], RequestRow>(
        `SELECT state, updated_at, data FROM elevation_requests
          WHERE state = 'requested' AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
      ),
      audit: this.db.prepare(
        `INSERT INTO audit_events (at, type, request_id, actor, tenant_id, environment_id, details)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      ),
    };
  }

  async createRequest(request: ElevationRequest): Promise<void> {
    const { state, updatedAt, ...rest } = request;
    this.statements.insert.run(
      request.id,
      state,
      Date.parse(request.expiresAt),
      updatedAt,
      JSON.stringify(rest),
    );
  }

  async findRequest(id: string): Promise<ElevationRequest | undefined> {
    const row = this.statements.find.get(id);
    return row ? toRequest(row) : undefined;
  }

  async transition(id: string, change: Transition): Promise<ElevationRequest | undefined> {
    const unexpired = change.unexpiredAt ? change.unexpiredAt.getTime() : null;
    const row = this.statements.transition.get(
      change.to,
      change.at.toISOString(),
      JSON.stringify(change.set ?? {}),
      id,
      JSON.stringify(change.from),
      unexpired,
      unexpired,
    );
    return row ? toRequest(row) : undefined;
  }

  async claimOnce(key: string, expiresAt: Date): Promise<boolean> {
    const now = Date.now();
    const claimed = this.statements.claimOnce.run(key, expiresAt.getTime(), now).changes === 1;
    // Expired keys are cleaned up as new ones arrive; a little now and then is enough.
    if (claimed && Math.random() < 0.01) this.statements.forgetExpiredKeys.run(now);
    return claimed;
  }

  async setCardMessage(id: string, conversation: unknown, cardMessageId: string): Promise<void> {
    this.statements.setCard.run(JSON.stringify({ conversation, cardMessageId }), id);
  }

  async findExpired(now: Date, limit: number): Promise<ElevationRequest[]> {
    return this.statements.expired.all(now.getTime(), limit).map(toRequest);
  }

  async appendAudit(event: AuditEvent): Promise<void> {
    this.statements.audit.run(
      event.at.toISOString(),
      event.type,
      event.requestId ?? null,
      event.actor ?? null,
      event.tenantId ?? null,
      event.environmentId ?? null,
      event.details ? JSON.stringify(event.details) : null,
    );
  }

  /** Audit events in order (for tests and, later, the audit commands). */
  auditEvents(): Array<AuditEvent & { seq: number }> {
    const rows = this.db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Array<
      Record<string, string | number | null>
    >;
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: new Date(String(r.at)),
      type: r.type as AuditEvent['type'],
      requestId: (r.request_id as string | null) ?? undefined,
      actor: (r.actor as string | null) ?? undefined,
      tenantId: (r.tenant_id as string | null) ?? undefined,
      environmentId: (r.environment_id as string | null) ?? undefined,
      details: r.details ? (JSON.parse(String(r.details)) as Record<string, unknown>) : undefined,
    }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

function toRequest(row: RequestRow): ElevationRequest {
  const data = JSON.parse(row.data) as Omit<ElevationRequest, 'state' | 'updatedAt'>;
  return { ...data, state: row.state, updatedAt: row.updated_at };
}
