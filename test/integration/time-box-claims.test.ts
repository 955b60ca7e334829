/**
 * Two processes on one SQLite file take the same due time boxes at the same moment, each with the
 * guarded transition the timer uses (not leased -> leased): every time box is taken by exactly one
 * of them, with one audit event. The store contract suite shows the same with two store objects
 * in one process; here the guard is read and the lease written by two processes that really
 * interleave, on the file's write lock.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { verifyChain } from '../../src/elevation/audit-chain';
import type { ElevationRequest } from '../../src/elevation/request';
import { SqliteStore } from '../../src/store/sqlite-store';

const ROOT = resolve(__dirname, '../..');
const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const DUE_AT = '2031-03-01T09:50:00.000Z';
const NOW = '2031-03-01T09:51:00.000Z';
const LEASE_UNTIL = '2031-03-01T09:56:00.000Z';

/** What each process runs: from `start` on, the timer's claim of every id given, in order. */
const CLAIMER = `
const { SqliteStore } = require(${JSON.stringify(join(ROOT, 'src/store/sqlite-store.ts'))});
const [path, ids, start, who] = [process.argv[1], JSON.parse(process.argv[2]), Number(process.argv[3]), process.argv[4]];
const now = new Date(${JSON.stringify(NOW)});
(async () => {
  const store = new SqliteStore({ path });
  while (Date.now() < start) {}
  const won = [];
  for (const id of ids) {
    const current = await store.findRequest(id);
    const moved = await store.transition(
      id,
      {
        from: ['succeeded'],
        to: 'succeeded',
        at: now,
        set: { timeBox: { ...current.timeBox, leaseUntil: ${JSON.stringify(LEASE_UNTIL)}, phase: 'removing', attempts: 1 } },
        guard: (stored) => !stored.timeBox.leaseUntil || Date.parse(stored.timeBox.leaseUntil) <= now.getTime(),
      },
      { audit: { type: 'removal-attempted', at: now, requestId: id, tenantId: ${JSON.stringify(TENANT)}, details: { who } } },
    );
    if (moved) won.push(id);
  }
  await store.close();
  process.stdout.write(JSON.stringify(won));
})().catch((error) => { console.error(error); process.exit(1); });
`;

function claimer(path: string, ids: string[], start: number, who: string): Promise<string[]> {
  return new Promise((resolveRun, reject) => {
    execFile(
      process.execPath,
      [
        '-r',
        join(ROOT, 'test/support/ts-register.js'),
        '-e',
        CLAIMER,
        path,
        JSON.stringify(ids),
        String(start),
        who,
      ],
      { cwd: ROOT, timeout: 60_000 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${who} failed: ${error.message}\n${stderr}`));
        else resolveRun(JSON.parse(stdout) as string[]);
      },
    );
  });
}

function granted(): ElevationRequest {
  return {
    id: randomUUID(),
    state: 'succeeded',
    requester: { aadObjectId: randomUUID(), tenantId: TENANT, name: 'Alex' },
    environment: { id: 'env-1', displayName: 'Contoso Dev', type: 'Sandbox' },
    query: 'contoso dev',
    createdAt: '2031-03-01T08:59:00.000Z',
    expiresAt: '2031-03-01T09:09:00.000Z',
    updatedAt: '2031-03-01T09:00:00.000Z',
    minutes: 60,
    timeBox: {
      phase: 'active',
      grantedAt: '2031-03-01T09:00:00.000Z',
      endsAt: DUE_AT,
      latestEnd: '2031-03-01T17:00:00.000Z',
      dueAt: DUE_AT,
      attempts: 0,
      extensions: [],
    },
  };
}

it('two processes claim the same 50 due time boxes at once: each is taken exactly once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'time-box-claims-'));
  const path = join(dir, 'store.db');
  const store = new SqliteStore({ path });
  try {
    const requests = Array.from({ length: 50 }, granted);
    for (const request of requests) await store.createRequest(request);
    const ids = requests.map((r) => r.id);
    expect((await store.findDueTimeBoxes(new Date(NOW), 100)).length).toBe(50);

    // Both start at the same moment, once both have loaded (transpiling takes a while), from
    // opposite ends of the list: they meet, and contend, wherever their speeds make them meet.
    const start = Date.now() + 4_000;
    const [first, second] = await Promise.all([
      claimer(path, ids, start, 'first'),
      claimer(path, [...ids].reverse(), start, 'second'),
    ]);
    expect([...first, ...second].sort()).toEqual([...ids].sort());
    expect(first.filter((id) => second.includes(id))).toEqual([]);

    const events = await store.readAudit({ chain: TENANT, limit: 1000 });
    expect(events.filter((e) => e.type === 'removal-attempted')).toHaveLength(50);
    expect(new Set(events.map((e) => e.requestId)).size).toBe(50);
    expect(verifyChain(events, TENANT)).toMatchObject({ ok: true });
    // Leased, so due for nobody until the lease ends; the outcome time untouched.
    expect(await store.findDueTimeBoxes(new Date(NOW), 100)).toEqual([]);
    expect(await store.findDueTimeBoxes(new Date(LEASE_UNTIL), 100)).toHaveLength(50);
    expect((await store.findRequest(ids[0]!))?.updatedAt).toBe('2031-03-01T09:00:00.000Z');
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
