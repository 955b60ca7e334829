/**
 * The SQLite file's schema, and the upgrades of files written by earlier versions: opening a
 * database creates what is missing and upgrades what is old, so that every part of SqliteStore
 * finds the tables and indexes it prepares its statements against.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { chainOf, linkAuditEvent } from '../../elevation/audit-chain';
import { FINAL_STATES, FINAL_TIME_BOX_PHASES } from '../../elevation/request';
import { type AuditColumns, auditParameters, eventOf, INSERT_AUDIT } from './audit';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS elevation_requests (
  id TEXT PRIMARY KEY,
  state TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  updated_at TEXT NOT NULL,
  data TEXT NOT NULL,
  -- Copies of fields in data that lists look up by: plain columns, so that rewriting data on each
  -- transition does not re-evaluate expression indexes.
  tenant_id TEXT,
  requester_id TEXT,
  environment_id TEXT,
  created_at TEXT,
  -- The time box's (see addTimeBoxColumns).
  due_at TEXT,
  lease_until TEXT,
  ends_at TEXT
);
CREATE INDEX IF NOT EXISTS elevation_requests_waiting ON elevation_requests (state, expires_at);
CREATE TABLE IF NOT EXISTS once_keys (
  key TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
);
-- The audit trail: append-only, one hash chain per tenant (see src/elevation/audit-chain.ts).
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  chain TEXT NOT NULL,
  seq INTEGER NOT NULL,
  at TEXT NOT NULL,
  type TEXT NOT NULL,
  request_id TEXT,
  actor TEXT,
  tenant_id TEXT,
  environment_id TEXT,
  details TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL,
  UNIQUE (chain, seq)
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (chain, at);
-- Where a chain starts once retention removed its oldest events.
CREATE TABLE IF NOT EXISTS audit_anchors (
  chain TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS secrets (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  expires_at INTEGER NOT NULL
);
-- Counters per time window (refused sign-ins): counted atomically, taken once when ended.
CREATE TABLE IF NOT EXISTS window_counts (
  key TEXT PRIMARY KEY,
  count INTEGER NOT NULL,
  window_ends_at INTEGER NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS window_counts_end ON window_counts (window_ends_at);
CREATE TABLE IF NOT EXISTS conversations (
  id TEXT PRIMARY KEY,
  scope TEXT NOT NULL,
  tenant_id TEXT,
  team_id TEXT,
  suspended INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  reference TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS conversations_team ON conversations (team_id);
CREATE TABLE IF NOT EXISTS subscriptions (
  channel_id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  team_id TEXT,
  suspended INTEGER NOT NULL DEFAULT 0,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS subscriptions_tenant ON subscriptions (tenant_id);
CREATE INDEX IF NOT EXISTS subscriptions_team ON subscriptions (team_id);
CREATE TABLE IF NOT EXISTS notifications (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  created_at TEXT NOT NULL,
  data TEXT NOT NULL
);
-- The outbox: one row per notification and channel, so each channel gets each one at most once.
CREATE TABLE IF NOT EXISTS deliveries (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  notification_id TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  state TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  lease_until INTEGER,
  last_error TEXT,
  finished_at TEXT,
  UNIQUE (notification_id, channel_id)
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_channel ON deliveries (channel_id, state);
`;

/** The final states, for SQL (`state IN (...)`); the partial index and its queries use the same text. */
export const FINAL_SQL = FINAL_STATES.map((state) => `'${state}'`).join(', ');

/** The final time box phases, for SQL. */
const FINAL_TIME_BOX_SQL = FINAL_TIME_BOX_PHASES.map((phase) => `'${phase}'`).join(', ');

/** Opens (or creates) the database file, with every table and index, upgraded. */
export function openDatabase(path: string): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('busy_timeout = 5000');
  db.exec(SCHEMA);
  migrateLegacyAudit(db);
  addRequestColumns(db);
  addTimeBoxColumns(db);
  return db;
}

/**
 * Databases from before the lookup columns get them, filled from each request's data; the
 * indexes are on the columns (earlier versions indexed json_extract expressions).
 */
function addRequestColumns(db: Database.Database): void {
  const columns = (
    db.prepare('PRAGMA table_info(elevation_requests)').all() as Array<{
      name: string;
    }>
  ).map((c) => c.name);
  db.transaction(() => {
    if (!columns.includes('tenant_id')) {
      for (const column of ['tenant_id', 'requester_id', 'environment_id', 'created_at']) {
        db.exec(`ALTER TABLE elevation_requests ADD COLUMN ${column} TEXT`);
      }
      db.exec(`UPDATE elevation_requests SET
        tenant_id = lower(json_extract(data, '$.requester.tenantId')),
        requester_id = lower(json_extract(data, '$.requester.aadObjectId')),
        environment_id = lower(json_extract(data, '$.environment.id')),
        created_at = json_extract(data, '$.createdAt')`);
    }
    // history and audit list by outcome time (updated_at), not by when a request was made; audit
    // lists outcomes only (a partial index). Databases with the created_at indexes lose them.
    db.exec(`DROP INDEX IF EXISTS requests_by_requester;
      DROP INDEX IF EXISTS requests_by_environment;
      DROP INDEX IF EXISTS requests_of_requester;
      DROP INDEX IF EXISTS requests_in_environment;
      CREATE INDEX IF NOT EXISTS requests_of_requester_by_outcome
        ON elevation_requests (tenant_id, requester_id, updated_at, id);
      CREATE INDEX IF NOT EXISTS outcomes_in_environment
        ON elevation_requests (tenant_id, environment_id, updated_at, id)
        WHERE state IN (${FINAL_SQL});
      CREATE INDEX IF NOT EXISTS requests_of_requester_in_environment
        ON elevation_requests (tenant_id, requester_id, environment_id, state, updated_at);`);
  }).immediate();
}

/**
 * Databases written before the audit trail was chained have an `audit_events` table: its events
 * are linked into chains, in the order they were written, and the old table goes.
 */
function migrateLegacyAudit(db: Database.Database): void {
  const legacy = db
    .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'audit_events'")
    .get();
  if (!legacy) return;
  db.transaction(() => {
    const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as AuditColumns[];
    const last = new Map<string, { seq: number; hash: string }>();
    const insert = db.prepare(INSERT_AUDIT);
    for (const row of rows) {
      const event = eventOf(row);
      const linked = linkAuditEvent(event, last.get(chainOf(event)));
      last.set(linked.chain, linked);
      insert.run(auditParameters(linked));
    }
    db.exec('DROP TABLE audit_events');
  }).immediate();
}

/**
 * Time-boxed elevation: copies of a request's time box that the timer and `elevations` look up by
 * (see TimeBoxStore), kept by every write of the request: `due_at` (timeBox.dueAt), `lease_until`
 * (timeBox.leaseUntil) and `ends_at` (timeBox.endsAt while the phase is not final), NULL when
 * absent. Partial indexes: they hold the pending time boxes only, not every request ever made.
 */
function addTimeBoxColumns(db: Database.Database): void {
  db.transaction(() => {
    // Read under the write lock: two processes opening one old file add the columns once.
    const columns = (
      db.prepare('PRAGMA table_info(elevation_requests)').all() as Array<{ name: string }>
    ).map((c) => c.name);
    if (!columns.includes('due_at')) {
      for (const column of ['due_at', 'lease_until', 'ends_at']) {
        db.exec(`ALTER TABLE elevation_requests ADD COLUMN ${column} TEXT`);
      }
      db.exec(`UPDATE elevation_requests SET
        due_at = json_extract(data, '$.timeBox.dueAt'),
        lease_until = json_extract(data, '$.timeBox.leaseUntil'),
        ends_at = CASE WHEN json_extract(data, '$.timeBox.phase') IN (${FINAL_TIME_BOX_SQL})
          THEN NULL ELSE json_extract(data, '$.timeBox.endsAt') END
        WHERE json_extract(data, '$.timeBox') IS NOT NULL`);
    }
    db.exec(`CREATE INDEX IF NOT EXISTS time_boxes_due
        ON elevation_requests (due_at, id) WHERE due_at IS NOT NULL;
      CREATE INDEX IF NOT EXISTS active_time_boxes
        ON elevation_requests (tenant_id, ends_at, id) WHERE ends_at IS NOT NULL;
      CREATE INDEX IF NOT EXISTS active_time_boxes_of_requester
        ON elevation_requests (tenant_id, requester_id, ends_at, id) WHERE ends_at IS NOT NULL;`);
  }).immediate();
}
