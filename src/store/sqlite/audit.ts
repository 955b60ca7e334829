/**
 * The audit trail in the SQLite file: one hash chain per tenant in `audit_log`, and where each
 * chain starts once retention removed its oldest events (`audit_anchors`). A link is appended
 * inside the caller's IMMEDIATE transaction, which holds the file's write lock, so the next link
 * is computed by one writer at a time, in any number of processes.
 */
import type Database from 'better-sqlite3';
import { chainOf, linkAuditEvent, type StoredAuditEvent } from '../../elevation/audit-chain';
import type { AuditEvent, AuditQuery } from '../../elevation/ports';

export class SqliteAudit {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      audit: db.prepare(INSERT_AUDIT),
      lastLink: db.prepare<[string], { seq: number; hash: string }>(
        'SELECT seq, hash FROM audit_log WHERE chain = ? ORDER BY seq DESC LIMIT 1',
      ),
      anchor: db.prepare<[string], { seq: number; hash: string }>(
        'SELECT seq, hash FROM audit_anchors WHERE chain = ?',
      ),
      readAudit: db.prepare<[string, number, string, number], AuditRow>(
        `SELECT * FROM audit_log WHERE chain = ? AND seq > ? AND at >= ? ORDER BY seq LIMIT ?`,
      ),
      chains: db.prepare<[], { chain: string; seq: number | null; hash: string | null }>(
        `SELECT c.chain, a.seq, a.hash FROM
           (SELECT chain FROM audit_log UNION SELECT chain FROM audit_anchors) c
           LEFT JOIN audit_anchors a ON a.chain = c.chain ORDER BY c.chain`,
      ),
      lastBefore: db.prepare<[string, string], { seq: number; hash: string }>(
        `SELECT seq, hash FROM audit_log WHERE chain = ? AND at < ? ORDER BY seq DESC LIMIT 1`,
      ),
      pruneChain: db.prepare<[string, number]>(
        'DELETE FROM audit_log WHERE chain = ? AND seq <= ?',
      ),
      setAnchor: db.prepare<[string, number, string]>(
        `INSERT INTO audit_anchors (chain, seq, hash) VALUES (?, ?, ?)
         ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash`,
      ),
    };
  }

  /** The next link of the event's chain; runs inside the caller's IMMEDIATE transaction. */
  insert(event: AuditEvent): void {
    const chain = chainOf(event);
    const last = this.statements.lastLink.get(chain) ?? this.statements.anchor.get(chain);
    this.statements.audit.run(auditParameters(linkAuditEvent(event, last)));
  }

  readAudit(query: AuditQuery): StoredAuditEvent[] {
    return this.statements.readAudit
      .all(
        query.chain,
        query.afterSeq ?? 0,
        (query.since ?? new Date(0)).toISOString(),
        query.limit,
      )
      .map(toAuditEvent);
  }

  auditChains(): Array<{ chain: string; anchor?: { seq: number; hash: string } }> {
    return this.statements.chains.all().map((row) => ({
      chain: row.chain,
      anchor: row.seq !== null && row.hash !== null ? { seq: row.seq, hash: row.hash } : undefined,
    }));
  }

  pruneAudit(before: Date): number {
    return this.db
      .transaction(() => {
        let removed = 0;
        for (const { chain } of this.statements.chains.all()) {
          // Whole links only, from the start: the last removed one becomes the chain's anchor.
          const last = this.statements.lastBefore.get(chain, before.toISOString());
          if (!last) continue;
          removed += this.statements.pruneChain.run(chain, last.seq).changes;
          this.statements.setAnchor.run(chain, last.seq, last.hash);
        }
        return removed;
      })
      .immediate();
  }
}

export const INSERT_AUDIT = `INSERT INTO audit_log (chain, seq, at, type, request_id, actor, tenant_id,
                                             environment_id, details, prev_hash, hash)
  VALUES (@chain, @seq, @at, @type, @requestId, @actor, @tenantId, @environmentId, @details,
          @prevHash, @hash)`;

export function auditParameters(linked: StoredAuditEvent) {
  return {
    chain: linked.chain,
    seq: linked.seq,
    at: linked.at.toISOString(),
    type: linked.type,
    requestId: linked.requestId ?? null,
    actor: linked.actor ?? null,
    tenantId: linked.tenantId ?? null,
    environmentId: linked.environmentId ?? null,
    details: linked.details ? JSON.stringify(linked.details) : null,
    prevHash: linked.prevHash,
    hash: linked.hash,
  };
}

/** The columns an audit event has had in every version of the schema. */
export interface AuditColumns {
  at: string;
  type: AuditEvent['type'];
  request_id: string | null;
  actor: string | null;
  tenant_id: string | null;
  environment_id: string | null;
  details: string | null;
}

export function eventOf(row: AuditColumns): AuditEvent {
  return {
    at: new Date(row.at),
    type: row.type,
    requestId: row.request_id ?? undefined,
    actor: row.actor ?? undefined,
    tenantId: row.tenant_id ?? undefined,
    environmentId: row.environment_id ?? undefined,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : undefined,
  };
}

export interface AuditRow extends AuditColumns {
  chain: string;
  seq: number;
  prev_hash: string;
  hash: string;
}

export function toAuditEvent(row: AuditRow): StoredAuditEvent {
  return {
    ...eventOf(row),
    chain: row.chain,
    seq: row.seq,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
