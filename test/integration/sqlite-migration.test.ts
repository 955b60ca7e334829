/**
 * A database written by the version before the audit trail was chained is upgraded on open: its
 * events are linked into per-tenant chains in the order they were written, and verify holds.
 */
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyAudit } from '../../src/audit/audit-cli';
import { SqliteStore } from '../../src/store/sqlite-store';
import { auditEvents, queryPlans } from '../support/store-rows';

it('old audit_events rows become hash-chained audit_log events, nothing lost', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-'));
  const path = join(dir, 'old.db');
  try {
    const old = new Database(path);
    old.exec(`CREATE TABLE audit_events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, type TEXT NOT NULL,
      request_id TEXT, actor TEXT, tenant_id TEXT, environment_id TEXT, details TEXT)`);
    const insert = old.prepare(
      'INSERT INTO audit_events (at, type, request_id, actor, tenant_id, environment_id, details) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    insert.run(
      '2026-11-01T10:00:00.000Z',
      'requested',
      'r1',
      'u1',
      'TENANT-A',
      'e1',
      '{"query":"dev"}',
    );
    insert.run('2026-11-01T10:00:01.000Z', 'refused', null, 'u2', null, null, '{"reason":"x"}');
    insert.run('2026-11-01T10:00:02.000Z', 'confirmed', 'r1', 'u1', 'TENANT-A', 'e1', null);
    insert.run('2026-11-01T10:00:03.000Z', 'requested', 'r2', 'u3', 'tenant-b', 'e2', null);
    old.close();

    const store = new SqliteStore({ path });
    try {
      const events = auditEvents(path);
      expect(events.map((e) => [e.chain, e.seq, e.type, e.requestId ?? null])).toEqual([
        ['tenant-a', 1, 'requested', 'r1'],
        ['no-tenant', 1, 'refused', null],
        ['tenant-a', 2, 'confirmed', 'r1'],
        ['tenant-b', 1, 'requested', 'r2'],
      ]);
      expect(events[0]!.details).toEqual({ query: 'dev' });
      expect((await verifyAudit(store)).ok).toBe(true);
      // New events continue the migrated chains.
      await store.appendAudit({
        type: 'executed',
        at: new Date(),
        requestId: 'r1',
        tenantId: 'TENANT-A',
      });
      expect((await store.readAudit({ chain: 'tenant-a', limit: 10 })).map((e) => e.seq)).toEqual([
        1, 2, 3,
      ]);
      expect((await verifyAudit(store)).ok).toBe(true);
    } finally {
      await store.close();
    }
    // Opening again does not migrate twice.
    const again = new SqliteStore({ path });
    expect(auditEvents(path)).toHaveLength(5);
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('requests stored before the lookup columns are found by history and audit after an upgrade', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-requests-'));
  const path = join(dir, 'old.db');
  try {
    const old = new Database(path);
    old.exec(`CREATE TABLE elevation_requests (id TEXT PRIMARY KEY, state TEXT NOT NULL,
      expires_at INTEGER NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL)`);
    // The indexes of an earlier version, by when a request was made.
    old.exec(`CREATE INDEX requests_by_requester ON elevation_requests (
      lower(json_extract(data, '$.requester.aadObjectId')), json_extract(data, '$.createdAt'))`);
    const data = {
      id: 'r1',
      requester: { aadObjectId: 'OID-1', tenantId: 'TENANT-A', name: 'Alex' },
      environment: { id: 'ENV-1', displayName: 'Contoso Dev', type: 'Sandbox' },
      query: 'dev',
      createdAt: '2026-11-01T10:00:00.000Z',
      expiresAt: '2026-11-01T10:10:00.000Z',
    };
    old
      .prepare('INSERT INTO elevation_requests VALUES (?, ?, ?, ?, ?)')
      .run('r1', 'succeeded', Date.parse(data.expiresAt), data.createdAt, JSON.stringify(data));
    old.close();

    const store = new SqliteStore({ path });
    try {
      // history, audit, the open cards and the time boxes are searches of the new indexes, never a scan; the
      // pages read their index in order, with no sort of everything before the page.
      const plans = queryPlans(path);
      const search = (index: string) =>
        expect.stringMatching(new RegExp(`^SEARCH elevation_requests USING INDEX ${index} `));
      expect(plans).toEqual({
        requestsOfBefore: [search('requests_of_requester_by_outcome')],
        requestsOfAfter: [search('requests_of_requester_by_outcome')],
        requestsInBefore: [search('outcomes_in_environment')],
        requestsInAfter: [search('outcomes_in_environment')],
        openRequestsOf: [search('requests_of_requester_in_environment'), expect.any(String)],
        lastExecutionOf: [search('requests_of_requester_in_environment'), expect.any(String)],
        // The time boxes' (one step each: read in index order, no sort).
        dueTimeBoxes: [search('time_boxes_due')],
        nextTimeBoxDue: [
          expect.stringMatching(/^SEARCH elevation_requests USING COVERING INDEX time_boxes_due /),
        ],
        activeElevations: [search('active_time_boxes')],
        activeElevationsOf: [search('active_time_boxes_of_requester')],
      });
      const mine = await store.requestsOf(
        { tenantId: 'tenant-a', aadObjectId: 'oid-1' },
        { limit: 5 },
      );
      expect(mine.map((r) => r.id)).toEqual(['r1']);
      const there = await store.requestsIn('TENANT-A', 'env-1', { limit: 5 });
      expect(there.map((r) => r.id)).toEqual(['r1']);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('a file from before the time boxes gets their columns and indexes, filled from each request', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'migrate-time-boxes-'));
  const path = join(dir, 'old.db');
  try {
    // The version before: the lookup columns, no time box columns.
    const old = new Database(path);
    old.exec(`CREATE TABLE elevation_requests (id TEXT PRIMARY KEY, state TEXT NOT NULL,
      expires_at INTEGER NOT NULL, updated_at TEXT NOT NULL, data TEXT NOT NULL, tenant_id TEXT,
      requester_id TEXT, environment_id TEXT, created_at TEXT)`);
    const data = (id: string, timeBox?: object) =>
      JSON.stringify({
        id,
        requester: { aadObjectId: 'OID-1', tenantId: 'TENANT-A', name: 'Alex' },
        environment: { id: 'ENV-1', displayName: 'Contoso Dev', type: 'Sandbox' },
        query: 'dev',
        createdAt: '2026-11-01T10:00:00.000Z',
        expiresAt: '2026-11-01T10:10:00.000Z',
        ...(timeBox ? { timeBox } : {}),
      });
    const box = {
      phase: 'active',
      grantedAt: '2026-11-01T10:01:00.000Z',
      endsAt: '2026-11-01T11:01:00.000Z',
      latestEnd: '2026-11-01T18:01:00.000Z',
      dueAt: '2026-11-01T10:51:00.000Z',
      attempts: 0,
      extensions: [],
    };
    const insert = old.prepare(
      `INSERT INTO elevation_requests VALUES (?, 'succeeded', 0, '2026-11-01T10:01:00.000Z', ?,
        'tenant-a', 'oid-1', 'env-1', '2026-11-01T10:00:00.000Z')`,
    );
    insert.run('boxed', data('boxed', box));
    insert.run('removed', data('removed', { ...box, phase: 'removed', dueAt: undefined }));
    insert.run('plain', data('plain'));
    old.close();

    const store = new SqliteStore({ path });
    try {
      const now = new Date('2026-11-01T12:00:00.000Z');
      expect((await store.findDueTimeBoxes(now, 10)).map((r) => r.id)).toEqual(['boxed']);
      expect(await store.nextTimeBoxDue()).toEqual(new Date(box.dueAt));
      expect((await store.activeElevations('TENANT-A')).map((r) => r.id)).toEqual(['boxed']);
      // Their queries name their indexes (INDEXED BY): they would not prepare without them.
      expect(Object.keys(queryPlans(path))).toContain('dueTimeBoxes');
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
