/**
 * The store port's contract, one suite run against both implementations: SqliteStore (a file)
 * and TableStore (Azure Table Storage, on Azurite started by this file). Real stores, no mocks.
 * Where an implementation breaks the contract, the test fails with a message that starts with
 * "CONTRACT BREACH" and says what and where.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { odata, TableClient } from '@azure/data-tables';
import { NO_TENANT_CHAIN, verifyChain } from '../../src/elevation/audit-chain';
import type { ChannelSubscription, ElevationNotification } from '../../src/elevation/notifications';
import type {
  AuditEvent,
  CloseOthers,
  Delivery,
  Effects,
  ElevationStore,
} from '../../src/elevation/ports';
import {
  type ElevationRequest,
  outcomeTime,
  type RequestState,
  type TimeBox,
} from '../../src/elevation/request';
import { SqliteStore } from '../../src/store/sqlite-store';
import { TableStore } from '../../src/store/table-store';
import { type Azurite, startAzurite } from '../support/azurite';
import { type DeliveryRecord, outbox, tableOutbox } from '../support/store-rows';
import {
  AUDIT_EVENT_WRITE,
  refuseSqliteAuditEvents,
  startTableEdge,
} from '../support/storage-edge';

// Mixed case on purpose: chains and partitions are the tenant id in lower case.
const TENANT = '3A4CFEC5-A51A-4112-A8BF-15CD69DBDBA8';
const CHAIN = TENANT.toLowerCase();
const OTHER_TENANT = '9f1c2d3e-0000-4000-8000-000000000002';
const ALEX = 'a1b2c3d4-0000-4000-8000-00000000a1e7';
const MEGAN = 'b1b2c3d4-0000-4000-8000-00000000e6a9';

const MINUTE = 60_000;
const T0 = Date.parse('2031-03-01T09:00:00.000Z');
const at = (minutes: number) => new Date(T0 + minutes * MINUTE);
const iso = (date: Date) => date.toISOString();

type Kind = 'sqlite' | 'azure-table';

interface Subject {
  store: ElevationStore;
  /** The outbox as the store holds it, read from its storage (test/support/store-rows.ts). */
  outbox(): Promise<DeliveryRecord[]>;
}

let azurite: Azurite | undefined;
let runs = 0;
const RUN = randomUUID().replace(/-/g, '').slice(0, 8);

beforeAll(async () => {
  azurite = await startAzurite();
});

afterAll(async () => {
  await azurite?.stop();
});

interface Opened extends Subject {
  /** Another store object on the same storage (another instance of the bot, as it were). */
  another(): Promise<ElevationStore>;
  /**
   * A store object on the same storage whose every audit event is refused at the store's edge (a
   * trigger in the SQLite file; a proxy in front of Azurite), until `lift` is called.
   */
  refusingAuditEvents(): Promise<{ store: ElevationStore; lift: () => Promise<void> }>;
  close(): Promise<void>;
}

async function open(kind: Kind): Promise<Opened> {
  const others: ElevationStore[] = [];
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'store-contract-'));
    const path = join(dir, 'store.db');
    const store = new SqliteStore({ path });
    return {
      store,
      outbox: async () => outbox(path),
      another: async () => {
        const other = new SqliteStore({ path });
        others.push(other);
        return other;
      },
      refusingAuditEvents: async () => {
        const lift = refuseSqliteAuditEvents(path);
        return { store, lift: async () => lift() };
      },
      close: async () => {
        for (const other of others) await other.close();
        await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  if (!azurite) throw new Error('Azurite did not start');
  runs += 1;
  const options = { connectionString: azurite.connectionString, tablePrefix: `c${RUN}n${runs}` };
  const store = await TableStore.open(options);
  return {
    store,
    outbox: () => tableOutbox(options),
    another: async () => {
      const other = await TableStore.open(options);
      others.push(other);
      return other;
    },
    refusingAuditEvents: async () => {
      const edge = await startTableEdge(azurite!);
      const other = await TableStore.open({ ...options, connectionString: edge.connectionString });
      edge.refuse(AUDIT_EVENT_WRITE);
      return { store: other, lift: () => edge.stop() };
    },
    close: async () => {
      for (const other of others) await other.close();
      await store.close();
    },
  };
}

function request(overrides: Partial<ElevationRequest> = {}): ElevationRequest {
  const createdAt = overrides.createdAt ?? at(0).toISOString();
  return {
    id: randomUUID(),
    state: 'requested',
    requester: { aadObjectId: ALEX, tenantId: TENANT, name: 'Alex Wilber' },
    environment: {
      id: 'e0c7f1a2-0000-4000-8000-00000000de01',
      displayName: 'Contoso Dev',
      type: 'Sandbox',
    },
    query: 'contoso dev',
    createdAt,
    expiresAt: new Date(Date.parse(createdAt) + 10 * MINUTE).toISOString(),
    updatedAt: createdAt,
    ...overrides,
  };
}

function auditEvent(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    type: 'requested',
    at: at(0),
    actor: ALEX,
    tenantId: TENANT,
    details: { n: 1 },
    ...overrides,
  };
}

function notification(overrides: Partial<ElevationNotification> = {}): ElevationNotification {
  return {
    id: randomUUID(),
    kind: 'succeeded',
    at: at(0).toISOString(),
    tenantId: TENANT,
    requester: { aadObjectId: ALEX, name: 'Alex Wilber' },
    environment: { id: 'env-prod', displayName: 'Contoso Prod', type: 'Production' },
    ...overrides,
  };
}

function subscription(
  channelId: string,
  overrides: Partial<ChannelSubscription> = {},
): ChannelSubscription {
  return {
    channelId,
    tenantId: TENANT,
    teamId: 'team-1',
    reference: { conversation: { id: channelId } },
    filter: { kind: 'all' },
    createdBy: { aadObjectId: ALEX, name: 'Alex Wilber' },
    createdAt: at(0).toISOString(),
    ...overrides,
  };
}

function breach(kind: Kind, what: string, expected: unknown, actual: unknown): Error {
  return new Error(
    `CONTRACT BREACH (${kind}): ${what}\n  expected: ${JSON.stringify(expected)}\n  actual:   ${JSON.stringify(actual)}`,
  );
}

describe.each<Kind>(['sqlite', 'azure-table'])('store contract: %s', (kind) => {
  let subject: Opened;
  let store: ElevationStore;

  beforeEach(async () => {
    subject = await open(kind);
    store = subject.store;
  });

  afterEach(async () => {
    await subject.close();
  });

  /** Every event of a chain, in order. */
  const chainOf = (chain: string) => store.readAudit({ chain, limit: 100_000 });

  /** Claims everything due at `now` (as one caller). */
  const claimAll = (now = at(60)) => store.claimDeliveries(now, 1000, 5 * MINUTE);

  describe('requests', () => {
    it('creates a request and finds it by id, as it was', async () => {
      const created = request({ justification: 'INC-1', cardMessageId: undefined });
      await store.createRequest(created);
      expect(await store.findRequest(created.id)).toEqual(created);
      expect(await store.findRequest(randomUUID())).toBeUndefined();
    });

    it('refuses a second request with the same id', async () => {
      const created = request();
      await store.createRequest(created);
      // Not `.rejects.toThrow()`: better-sqlite3's native module makes its errors in the realm of
      // the first test file that loaded it, and jest's toThrow does not see them as errors in the
      // next files of the same worker.
      await expect(store.createRequest({ ...created, query: 'other' })).rejects.toHaveProperty(
        'message',
        expect.stringMatching(/UNIQUE constraint failed|already exists/),
      );
      expect((await store.findRequest(created.id))?.query).toBe('contoso dev');
    });

    it('keeps ids, channel ids, keys and values with characters keys cannot hold', async () => {
      const odd = `odd/\\#?'%|\u0001\u007f é 𝄞 ${randomUUID()}`;
      const created = request({ id: odd, query: odd });
      await store.createRequest(created);
      expect(await store.findRequest(odd)).toEqual(created);
      const moved = await store.transition(odd, {
        from: ['requested'],
        to: 'cancelled',
        at: at(1),
      });
      expect(moved?.state).toBe('cancelled');

      await store.subscribe(subscription(odd));
      expect((await store.findSubscription(odd))?.channelId).toBe(odd);
      await store.saveConversation({
        id: odd,
        scope: 'channel',
        teamId: odd,
        reference: { odd },
        updatedAt: at(0).toISOString(),
      });
      expect((await store.findConversation(odd))?.reference).toEqual({ odd });
      await store.writeSecret(odd, odd, at(10_000));
      expect(await store.readSecret(odd, at(0))).toBe(odd);
      expect(await store.claimOnce(odd, at(10_000))).toBe(true);
      expect(await store.claimOnce(odd, at(10_000))).toBe(false);
      // A key longer than any table key allows.
      const long = `long-${'x/'.repeat(600)}`;
      expect(await store.claimOnce(long, at(10_000))).toBe(true);
      expect(await store.claimOnce(long, at(10_000))).toBe(false);
      expect(await store.claimOnce(`${long}y`, at(10_000))).toBe(true);
    });

    it('keeps values larger than one table property whole', async () => {
      const big = 'justification '.repeat(12_000); // 168,000 characters
      const created = request({ justification: big });
      await store.createRequest(created);
      expect((await store.findRequest(created.id))?.justification).toBe(big);
      const moved = await store.transition(
        created.id,
        { from: ['requested'], to: 'executing', at: at(1), set: { clientRequestId: big } },
        { audit: auditEvent({ type: 'confirmed', details: { rawBody: big } }) },
      );
      expect(moved?.clientRequestId).toBe(big);
      const [event] = await chainOf(CHAIN);
      expect(event?.details).toEqual({ rawBody: big });
      expect(verifyChain(await chainOf(CHAIN), CHAIN)).toMatchObject({ ok: true });
      await store.writeSecret('big', big, at(10_000));
      expect(await store.readSecret('big', at(0))).toBe(big);
    });

    it('records where the confirmation card was posted, without changing the state', async () => {
      const created = request();
      await store.createRequest(created);
      await store.setCardMessage(created.id, { conversation: { id: 'a:1' } }, 'msg-1');
      const found = await store.findRequest(created.id);
      expect(found).toMatchObject({
        state: 'requested',
        updatedAt: created.updatedAt,
        conversation: { conversation: { id: 'a:1' } },
        cardMessageId: 'msg-1',
      });
      await store.setCardMessage(randomUUID(), {}, 'nobody'); // unknown: nothing happens
    });
  });

  describe('transitions', () => {
    it('moves a request only from the states allowed, with the fields given', async () => {
      const created = request({ justification: 'first' });
      await store.createRequest(created);

      expect(
        await store.transition(created.id, { from: ['executing'], to: 'succeeded', at: at(1) }),
      ).toBeUndefined();
      expect((await store.findRequest(created.id))?.state).toBe('requested');

      const moved = await store.transition(created.id, {
        from: ['requested', 'executing'],
        to: 'executing',
        at: at(2),
        // An undefined field is not written: the justification stays.
        set: { clientRequestId: 'crid-1', justification: undefined },
      });
      expect(moved).toEqual({
        ...created,
        state: 'executing',
        updatedAt: at(2).toISOString(),
        clientRequestId: 'crid-1',
      });
      expect(await store.findRequest(created.id)).toEqual(moved);
      expect(
        await store.transition(created.id, { from: ['requested'], to: 'cancelled', at: at(3) }),
      ).toBeUndefined();
      expect(
        await store.transition(randomUUID(), { from: ['requested'], to: 'cancelled', at: at(3) }),
      ).toBeUndefined();
    });

    it('with unexpiredAt, moves only a request that has not expired at that time', async () => {
      const created = request(); // expires at minute 10
      await store.createRequest(created);
      const change = { from: ['requested'] as RequestState[], to: 'executing' as const };
      expect(
        await store.transition(created.id, { ...change, at: at(10), unexpiredAt: at(10) }),
      ).toBeUndefined();
      expect(
        await store.transition(created.id, { ...change, at: at(11), unexpiredAt: at(11) }),
      ).toBeUndefined();
      expect((await store.findRequest(created.id))?.state).toBe('requested');
      expect(
        (await store.transition(created.id, { ...change, at: at(9), unexpiredAt: at(9) }))?.state,
      ).toBe('executing');
      // Without unexpiredAt, expiry does not matter.
      const other = request();
      await store.createRequest(other);
      expect(
        (await store.transition(other.id, { from: ['requested'], to: 'expired', at: at(30) }))
          ?.state,
      ).toBe('expired');
    });

    it('a transition that moves the expiry moves what expiry reads (a request waiting for approval)', async () => {
      const created = request(); // expires at minute 10
      await store.createRequest(created);
      const later = at(40).toISOString();
      const moved = await store.transition(created.id, {
        from: ['requested'],
        to: 'requested',
        at: at(5),
        set: { expiresAt: later },
      });
      expect(moved?.expiresAt).toBe(later);
      expect((await store.findRequest(created.id))?.expiresAt).toBe(later);
      // Not expired at minute 20 any more, neither for the sweeper nor for a guarded move.
      expect((await store.findExpired(at(20), 10)).map((r) => r.id)).not.toContain(created.id);
      expect(
        (
          await store.transition(created.id, {
            from: ['requested'],
            to: 'executing',
            at: at(20),
            unexpiredAt: at(20),
          })
        )?.state,
      ).toBe('executing');
      const other = request();
      await store.createRequest(other);
      await store.transition(other.id, {
        from: ['requested'],
        to: 'requested',
        at: at(5),
        set: { expiresAt: at(30).toISOString() },
      });
      expect((await store.findExpired(at(31), 10)).map((r) => r.id)).toContain(other.id);
    });

    it('50 concurrent transitions from requested: exactly one wins, with its effects once', async () => {
      const created = request();
      await store.createRequest(created);
      await store.subscribe(subscription('19:all@thread.tacv2'));
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.transition(
            created.id,
            {
              from: ['requested'],
              to: 'executing',
              at: at(1),
              set: { clientRequestId: `click-${i}` },
            },
            {
              audit: auditEvent({ type: 'confirmed', requestId: created.id, details: { i } }),
              notification: notification({ requestId: created.id }),
            },
          ),
        ),
      );
      const winners = results.filter((r) => r !== undefined);
      expect(winners).toHaveLength(1);
      const stored = await store.findRequest(created.id);
      expect(stored?.state).toBe('executing');
      expect(stored?.clientRequestId).toBe(winners[0]!.clientRequestId);
      const events = await chainOf(CHAIN);
      expect(events.filter((e) => e.type === 'confirmed')).toHaveLength(1);
      expect(events[0]?.details).toEqual({ i: Number(winners[0]!.clientRequestId!.slice(6)) });
      expect(await subject.outbox()).toHaveLength(1);
    });

    it('writes the effects only when the transition happens', async () => {
      const created = request();
      await store.createRequest(created);
      await store.subscribe(subscription('19:all@thread.tacv2'));
      const lost = await store.transition(
        created.id,
        { from: ['executing'], to: 'succeeded', at: at(1) },
        { audit: auditEvent({ type: 'executed' }), notification: notification() },
      );
      expect(lost).toBeUndefined();
      expect(await chainOf(CHAIN)).toEqual([]);
      expect(await subject.outbox()).toEqual([]);
      expect(await store.claimDeliveries(at(60), 10, MINUTE)).toEqual([]);

      const won = await store.transition(
        created.id,
        { from: ['requested'], to: 'cancelled', at: at(2) },
        { audit: auditEvent({ type: 'cancelled' }), notification: notification() },
      );
      expect(won?.state).toBe('cancelled');
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual(['cancelled']);
      expect(await subject.outbox()).toHaveLength(1);
    });

    it('a transition and its audit event are written both or neither: refused at the edge, neither', async () => {
      const created = request();
      await store.createRequest(created);
      const failing = await subject.refusingAuditEvents();
      try {
        await expect(
          failing.store.transition(
            created.id,
            { from: ['requested'], to: 'cancelled', at: at(1) },
            { audit: auditEvent({ type: 'cancelled', requestId: created.id }) },
          ),
        ).rejects.toHaveProperty('message', expect.stringMatching(/refused/));
        // A new request and its `requested` event: neither either.
        const refusedRequest = request();
        await expect(
          failing.store.createRequest(refusedRequest, {
            audit: auditEvent({ requestId: refusedRequest.id }),
          }),
        ).rejects.toHaveProperty('message', expect.stringMatching(/refused/));
      } finally {
        await failing.lift();
      }
      const stored = await store.findRequest(created.id);
      if (stored?.state !== 'requested' || (await chainOf(CHAIN)).length !== 0) {
        throw breach(
          kind,
          'a transition whose audit event the storage refused must leave the request as it was, with no event',
          { state: 'requested', events: 0 },
          { state: stored?.state, events: (await chainOf(CHAIN)).length },
        );
      }
      // Once the storage takes writes again, the same transition writes both.
      const cancelled = await store.transition(
        created.id,
        { from: ['requested'], to: 'cancelled', at: at(2) },
        { audit: auditEvent({ type: 'cancelled', requestId: created.id }) },
      );
      expect(cancelled?.state).toBe('cancelled');
      expect((await chainOf(CHAIN)).map((e) => [e.type, e.requestId])).toEqual([
        ['cancelled', created.id],
      ]);
      // A transition that does not happen (the request is no longer waiting) writes no event.
      expect(
        await store.transition(
          created.id,
          { from: ['requested'], to: 'expired', at: at(3) },
          { audit: auditEvent({ type: 'expired', requestId: created.id }) },
        ),
      ).toBeUndefined();
      expect(await chainOf(CHAIN)).toHaveLength(1);
    });

    it('a field given in set replaces the stored one as a whole (objects are not merged)', async () => {
      const created = request({
        roleCheck: { result: 'not-checked', reason: 'the role check is off' },
      });
      await store.createRequest(created);
      const moved = await store.transition(created.id, {
        from: ['requested'],
        to: 'executing',
        at: at(1),
        set: { roleCheck: { result: 'already-admin' } },
      });
      const expected = { result: 'already-admin' };
      for (const [where, actual] of [
        ['returned by transition', moved?.roleCheck],
        ['as stored', (await store.findRequest(created.id))?.roleCheck],
      ] as const) {
        if (!isDeepStrictEqual(actual, expected)) {
          throw breach(
            kind,
            `transition(set: { roleCheck }) must store the RoleCheck given (${where}). SqliteStore merges it into the old value (src/store/sqlite/requests.ts, prepared statement "transition": SET data = json_patch(data, ?); json_patch is an RFC 7396 merge), so an "already-admin" RoleCheck keeps the old "reason" of a "not-checked" one. Fix: replace each given top-level field, e.g. json_set per field, or merge in JS.`,
            expected,
            actual,
          );
        }
      }
    });

    it('setCardMessage records the conversation given, replacing the one before', async () => {
      const created = request({ conversation: { user: { id: 'u1', name: 'Alex' } } });
      await store.createRequest(created);
      await store.setCardMessage(created.id, { bot: { id: 'b1' } }, 'm1');
      const found = await store.findRequest(created.id);
      expect(found?.cardMessageId).toBe('m1');
      if (!isDeepStrictEqual(found?.conversation, { bot: { id: 'b1' } })) {
        throw breach(
          kind,
          'setCardMessage must store the conversation reference given. SqliteStore merges it into the old one (src/store/sqlite/requests.ts, prepared statement "setCard": SET data = json_patch(data, ?)), so the result is a mix of two conversation references.',
          { bot: { id: 'b1' } },
          found?.conversation,
        );
      }
    });
  });

  describe('several instances on one storage', () => {
    it('a recent copy of a request, stale after another store object moved it, moves nothing', async () => {
      const other = await subject.another();
      const created = request();
      await store.createRequest(created);
      await other.transition(
        created.id,
        { from: ['requested'], to: 'cancelled', at: at(1) },
        { audit: auditEvent({ type: 'cancelled' }) },
      );
      // This process may answer from what it wrote (still requested): only a transition decides.
      const recent = await store.findRequest(created.id, { recent: true });
      expect(['requested', 'cancelled']).toContain(recent?.state);
      const moved = await store.transition(
        created.id,
        { from: ['requested'], to: 'executing', at: at(2) },
        { audit: auditEvent({ type: 'confirmed' }) },
      );
      expect(moved).toBeUndefined();
      expect((await store.findRequest(created.id))?.state).toBe('cancelled');
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual(['cancelled']);
    });

    it('two store objects act as one: one winner, one chain, each delivery claimed once', async () => {
      const other = await subject.another();
      const both = [store, other];
      const created = request();
      await store.createRequest(created);
      expect(await other.findRequest(created.id)).toEqual(created);
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          both[i % 2]!.transition(
            created.id,
            { from: ['requested'], to: 'executing', at: at(1) },
            { audit: auditEvent({ type: 'confirmed', details: { i } }) },
          ),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);

      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          both[i % 2]!.appendAudit(auditEvent({ details: { writer: i } })),
        ),
      );
      const events = await chainOf(CHAIN);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
      expect(verifyChain(events, CHAIN)).toMatchObject({ ok: true, events: 21 });

      await store.subscribe(subscription('19:a@thread.tacv2'));
      await other.subscribe(subscription('19:b@thread.tacv2'));
      await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          both[i % 2]!.appendAudit(auditEvent(), notification()),
        ),
      );
      const outbox = await subject.outbox();
      expect(outbox).toHaveLength(20);
      expect(new Set(outbox.map((d) => d.id)).size).toBe(20);
      const claimed = (
        await Promise.all(
          Array.from({ length: 6 }, async (_, i) => {
            const mine: Delivery[] = [];
            for (;;) {
              const batch = await both[i % 2]!.claimDeliveries(at(60), 2, MINUTE);
              if (batch.length === 0) return mine;
              mine.push(...batch);
            }
          }),
        )
      ).flat();
      expect(claimed.map((d) => d.id).sort((a, b) => a - b)).toEqual(
        outbox.map((d) => d.id).sort((a, b) => a - b),
      );
      // Finished by the other instance than the one that claimed it.
      for (const [i, delivery] of claimed.entries()) {
        await both[(i + 1) % 2]!.finishDelivery(delivery.id, { state: 'delivered', at: at(61) });
      }
      expect((await subject.outbox()).every((d) => d.state === 'delivered')).toBe(true);
    });
  });

  describe('claimOnce', () => {
    it('gives a key to exactly one of 50 concurrent callers', async () => {
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
          store.claimOnce('exchange:abc', new Date(Date.now() + MINUTE)),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.claimOnce('exchange:abc', new Date(Date.now() + MINUTE))).toBe(false);
      expect(await store.claimOnce('exchange:other', new Date(Date.now() + MINUTE))).toBe(true);
    });

    it('an expired key can be claimed again, by one of many', async () => {
      expect(await store.claimOnce('dedup:1', new Date(Date.now() - 1000))).toBe(true);
      const again = await Promise.all(
        Array.from({ length: 20 }, () => store.claimOnce('dedup:1', new Date(Date.now() + MINUTE))),
      );
      expect(again.filter(Boolean)).toHaveLength(1);
      expect(await store.claimOnce('dedup:1', new Date(Date.now() + MINUTE))).toBe(false);
    });
  });

  describe('counters per time window', () => {
    it('30 concurrent counts on two store objects come to 1..30, each once, with the first data', async () => {
      const other = await subject.another();
      const counts = await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          [store, other][i % 2]!.countInWindow(
            'refusals/alex/bad-signature',
            at(15),
            `caller ${i}`,
          ),
        ),
      );
      expect(counts.map((c) => c.count).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 30 }, (_, i) => i + 1),
      );
      const first = counts.find((c) => c.count === 1)!;
      // Every caller is told the data the first one stored, whatever it passed itself.
      expect(new Set(counts.map((c) => c.data))).toEqual(new Set([first.data]));
      expect((await store.countInWindow('refusals/alex/other', at(15), 'x')).count).toBe(1);
    });

    it('takeEndedCounts hands each ended counter of the prefix to exactly one caller', async () => {
      await store.countInWindow('refusals/a', at(15), 'a');
      await store.countInWindow('refusals/a', at(15), 'ignored');
      await store.countInWindow('refusals/b', at(30), 'b');
      await store.countInWindow('other/c', at(15), 'c');
      const other = await subject.another();
      expect(await store.takeEndedCounts('refusals/', at(14), 10)).toEqual([]);

      const taken = await Promise.all([
        store.takeEndedCounts('refusals/', at(15), 10),
        other.takeEndedCounts('refusals/', at(15), 10),
      ]);
      expect(taken.flat()).toEqual([
        { key: 'refusals/a', count: 2, windowEndsAt: at(15), data: 'a' },
      ]);
      expect(await store.takeEndedCounts('refusals/', at(15), 10)).toEqual([]);
      // Counted again after it was taken: a new counter.
      expect(await store.countInWindow('refusals/a', at(15), 'again')).toEqual({
        count: 1,
        data: 'again',
      });
      expect(
        (await store.takeEndedCounts('refusals/', at(60), 10)).map((c) => c.key).sort(),
      ).toEqual(['refusals/a', 'refusals/b']);
      expect(await store.takeEndedCounts('other/', at(60), 10)).toMatchObject([
        { key: 'other/c', count: 1 },
      ]);
    });
  });

  describe('audit chain', () => {
    it('30 concurrent writers in one tenant make seq 1..30, every link verifying', async () => {
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          store.appendAudit(auditEvent({ at: at(i % 7), details: { writer: i } })),
        ),
      );
      const events = await chainOf(CHAIN);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => (e.details as { writer: number }).writer)).size).toBe(30);
      expect(verifyChain(events, CHAIN)).toEqual({ ok: true, chain: CHAIN, events: 30 });
    });

    it('keeps one chain per tenant (lower case), and one for events without a tenant', async () => {
      await store.appendAudit(auditEvent({ tenantId: TENANT }));
      await store.appendAudit(auditEvent({ tenantId: OTHER_TENANT, type: 'refused' }));
      await store.appendAudit(auditEvent({ tenantId: TENANT.toLowerCase(), type: 'confirmed' }));
      await store.appendAudit(auditEvent({ tenantId: undefined, type: 'refused' }));
      const mine = await chainOf(CHAIN);
      expect(mine.map((e) => [e.seq, e.type, e.chain])).toEqual([
        [1, 'requested', CHAIN],
        [2, 'confirmed', CHAIN],
      ]);
      expect((await chainOf(OTHER_TENANT)).map((e) => e.seq)).toEqual([1]);
      expect((await chainOf(NO_TENANT_CHAIN)).map((e) => [e.seq, e.tenantId])).toEqual([
        [1, undefined],
      ]);
      for (const chain of [CHAIN, OTHER_TENANT, NO_TENANT_CHAIN]) {
        expect(verifyChain(await chainOf(chain), chain)).toMatchObject({ ok: true });
      }
      expect(await store.auditChains()).toEqual(
        [CHAIN, OTHER_TENANT, NO_TENANT_CHAIN].sort().map((chain) => ({ chain })),
      );
      // Stored as given: a Date in details reads back as its text, and the hash says so.
      await store.appendAudit(auditEvent({ details: { when: at(5), nested: { a: [1, 'b'] } } }));
      const [, , third] = await chainOf(CHAIN);
      expect(third?.details).toEqual({ when: at(5).toISOString(), nested: { a: [1, 'b'] } });
      expect(verifyChain(await chainOf(CHAIN), CHAIN)).toMatchObject({ ok: true });
    });

    it('reads a chain in pages: afterSeq, since and limit', async () => {
      for (let i = 0; i < 12; i += 1) await store.appendAudit(auditEvent({ at: at(i) }));
      const page = async (query: { afterSeq?: number; since?: Date; limit: number }) =>
        (await store.readAudit({ chain: CHAIN, ...query })).map((e) => e.seq);
      expect(await page({ limit: 5 })).toEqual([1, 2, 3, 4, 5]);
      expect(await page({ afterSeq: 5, limit: 5 })).toEqual([6, 7, 8, 9, 10]);
      expect(await page({ afterSeq: 10, limit: 5 })).toEqual([11, 12]);
      expect(await page({ afterSeq: 12, limit: 5 })).toEqual([]);
      expect(await page({ since: at(9), limit: 100 })).toEqual([10, 11, 12]);
      expect(await page({ since: at(3), afterSeq: 6, limit: 2 })).toEqual([7, 8]);
      expect(await store.readAudit({ chain: OTHER_TENANT, limit: 10 })).toEqual([]);
    });

    it('pruning keeps a chain that verifies from its anchor, and appends continue it', async () => {
      for (let i = 0; i < 120; i += 1) {
        await store.appendAudit(auditEvent({ at: at(i), details: { i } }));
      }
      await store.appendAudit(auditEvent({ tenantId: OTHER_TENANT, at: at(500) }));
      const before = await chainOf(CHAIN);

      expect(await store.pruneAudit(at(110))).toBe(110); // events at minutes 0..109
      const chains = await store.auditChains();
      const mine = chains.find((c) => c.chain === CHAIN);
      expect(mine?.anchor).toEqual({ seq: 110, hash: before[109]!.hash });
      expect(chains.find((c) => c.chain === OTHER_TENANT)?.anchor).toBeUndefined();

      const after = await chainOf(CHAIN);
      expect(after.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => 111 + i));
      expect(verifyChain(after, CHAIN, mine?.anchor)).toMatchObject({ ok: true, events: 10 });
      expect(verifyChain(after, CHAIN)).toMatchObject({ ok: false });

      await store.appendAudit(auditEvent({ at: at(200) }));
      const continued = await chainOf(CHAIN);
      expect(continued.at(-1)?.seq).toBe(121);
      expect(verifyChain(continued, CHAIN, mine?.anchor)).toMatchObject({ ok: true, events: 11 });
      expect(await store.pruneAudit(at(110))).toBe(0);

      // A chain pruned to nothing still has its anchor, and goes on from it.
      expect(await store.pruneAudit(at(10_000))).toBe(12);
      const emptied = (await store.auditChains()).find((c) => c.chain === CHAIN);
      expect(emptied?.anchor?.seq).toBe(121);
      expect(await chainOf(CHAIN)).toEqual([]);
      await store.appendAudit(auditEvent({ at: at(20_000) }));
      const restarted = await chainOf(CHAIN);
      expect(restarted.map((e) => e.seq)).toEqual([122]);
      expect(verifyChain(restarted, CHAIN, emptied?.anchor)).toMatchObject({ ok: true });
    });
  });

  describe('notifications and the outbox', () => {
    const ALL = '19:all@thread.tacv2';
    const PROD = '19:prod@thread.tacv2';
    const SANDBOX = '19:sandbox@thread.tacv2';
    const CONTOSO = '19:contoso@thread.tacv2';
    const FABRIKAM = '19:fabrikam@thread.tacv2';
    const SUSPENDED = '19:suspended@thread.tacv2';
    const ELSEWHERE = '19:elsewhere@thread.tacv2';

    async function subscribeChannels(): Promise<void> {
      await store.subscribe(subscription(ALL));
      await store.subscribe(subscription(PROD, { filter: { kind: 'type', type: 'production' } }));
      await store.subscribe(subscription(SANDBOX, { filter: { kind: 'type', type: 'sandbox' } }));
      await store.subscribe(
        subscription(CONTOSO, { filter: { kind: 'name', pattern: 'contoso*' } }),
      );
      await store.subscribe(
        subscription(FABRIKAM, { filter: { kind: 'name', pattern: 'Fabrikam' } }),
      );
      await store.subscribe(subscription(SUSPENDED, { teamId: 'team-2' }));
      await store.suspendConversations({ id: SUSPENDED }, true);
      await store.subscribe(subscription(ELSEWHERE, { tenantId: OTHER_TENANT }));
    }

    const channels = async (notificationId: string) =>
      (await subject.outbox())
        .filter((d) => d.notificationId === notificationId)
        .map((d) => d.channelId)
        .sort();

    it('fans a notification out to the matching subscriptions of its tenant only, once per channel', async () => {
      await subscribeChannels();
      const prod = notification();
      await store.appendAudit(auditEvent({ type: 'executed' }), prod);
      expect(await channels(prod.id)).toEqual([ALL, CONTOSO, PROD].sort());

      // The same notification again: no second row for any channel.
      await store.appendAudit(auditEvent({ type: 'executed' }), prod);
      expect(await channels(prod.id)).toEqual([ALL, CONTOSO, PROD].sort());

      // A refusal before any environment was known reaches every (active) channel of the tenant.
      const refusal = notification({ kind: 'refused', environment: undefined, query: 'x' });
      await store.appendAudit(auditEvent({ type: 'refused' }), refusal);
      expect(await channels(refusal.id)).toEqual([ALL, CONTOSO, FABRIKAM, PROD, SANDBOX].sort());

      const fabrikam = notification({
        environment: { id: 'env-2', displayName: 'Fabrikam Sandbox (EU)', type: 'Sandbox' },
      });
      await store.appendAudit(auditEvent(), fabrikam);
      expect(await channels(fabrikam.id)).toEqual([ALL, FABRIKAM, SANDBOX].sort());

      const other = notification({ tenantId: OTHER_TENANT });
      await store.appendAudit(auditEvent({ tenantId: OTHER_TENANT }), other);
      expect(await channels(other.id)).toEqual([ELSEWHERE]);

      // Every row starts pending, with no attempt.
      expect((await subject.outbox()).every((d) => d.state === 'pending' && d.attempts === 0)).toBe(
        true,
      );
      const claimed = await claimAll();
      expect(claimed).toHaveLength(12);
      const first = claimed.find((d) => d.notification.id === prod.id && d.channelId === PROD);
      expect(first).toMatchObject({
        attempts: 1,
        notification: prod,
        subscription: subscription(PROD, { filter: { kind: 'type', type: 'production' } }),
      });
    });

    it('notificationFollows: the notification of the request reaches its channels once; the next one reads them again', async () => {
      await store.subscribe(subscription(ALL));
      const created = request();
      await store.createRequest(created);
      await store.transition(
        created.id,
        { from: ['requested'], to: 'executing', at: at(1) },
        { audit: auditEvent({ type: 'confirmed' }), notificationFollows: true },
      );
      await store.subscribe(subscription(PROD, { filter: { kind: 'type', type: 'production' } }));
      const outcome = notification({ requestId: created.id });
      await store.transition(
        created.id,
        { from: ['executing'], to: 'succeeded', at: at(2) },
        { audit: auditEvent({ type: 'executed' }), notification: outcome },
      );
      // Subscribed when Elevate was claimed: notified. Subscribed during the API call: either.
      expect(await channels(outcome.id)).toContain(ALL);
      expect(new Set(await channels(outcome.id)).size).toBe((await channels(outcome.id)).length);
      // What was read ahead serves one notification: the next one of the request reads again.
      const removed = notification({ kind: 'role-removed', requestId: created.id });
      await store.appendAudit(auditEvent({ type: 'role-removed' }), removed);
      expect(await channels(removed.id)).toEqual([ALL, PROD].sort());
    });

    it('fans out to more channels than one transaction holds, each exactly once', async () => {
      const many = Array.from(
        { length: 130 },
        (_, i) => `19:ch${String(i).padStart(3, '0')}@thread.tacv2`,
      );
      for (const channelId of many) await store.subscribe(subscription(channelId));
      const created = request();
      await store.createRequest(created);
      const sent = notification({ requestId: created.id });
      const done = await store.transition(
        created.id,
        { from: ['requested'], to: 'cancelled', at: at(1) },
        { audit: auditEvent({ type: 'cancelled' }), notification: sent },
      );
      expect(done?.state).toBe('cancelled');
      expect(await channels(sent.id)).toEqual(many);
      const claimed = await claimAll();
      expect(claimed.map((d) => d.channelId).sort()).toEqual(many);
      expect(new Set(claimed.map((d) => d.id)).size).toBe(130);
    });

    it('5 concurrent claimers: each delivery goes to exactly one of them, once', async () => {
      for (let i = 0; i < 4; i += 1) await store.subscribe(subscription(`19:c${i}@thread.tacv2`));
      for (let i = 0; i < 6; i += 1) await store.appendAudit(auditEvent(), notification());
      const outbox = await subject.outbox();
      expect(outbox).toHaveLength(24);

      const claimers = Array.from({ length: 5 }, async () => {
        const mine: Delivery[] = [];
        for (;;) {
          const batch = await store.claimDeliveries(at(60), 3, 5 * MINUTE);
          if (batch.length === 0) return mine;
          mine.push(...batch);
        }
      });
      const claimed = (await Promise.all(claimers)).flat();
      expect(claimed.map((d) => d.id).sort((a, b) => a - b)).toEqual(
        outbox.map((d) => d.id).sort((a, b) => a - b),
      );
      expect(claimed.every((d) => d.attempts === 1)).toBe(true);
      // Taken for the lease: nobody gets them again meanwhile.
      expect(await store.claimDeliveries(at(61), 100, MINUTE)).toEqual([]);
      expect((await subject.outbox()).every((d) => d.state === 'sending')).toBe(true);
    });

    it('claims only what is due, oldest first, and says when the next one is due', async () => {
      await store.subscribe(subscription(ALL));
      expect(await store.nextDeliveryDue()).toBeUndefined();
      const late = notification();
      const early = notification();
      await store.appendAudit(auditEvent({ at: at(20) }), late);
      await store.appendAudit(auditEvent({ at: at(10) }), early);
      expect(await store.nextDeliveryDue()).toEqual(at(10));
      expect(await store.claimDeliveries(at(5), 10, MINUTE)).toEqual([]);
      const [first, ...none] = await store.claimDeliveries(at(30), 1, MINUTE);
      expect(none).toEqual([]);
      expect(first?.notification.id).toBe(early.id);
      expect(await store.nextDeliveryDue()).toEqual(at(20));
    });

    it('finish, retry and drop: what each does to a delivery', async () => {
      await store.subscribe(subscription(ALL));
      await store.subscribe(subscription(PROD, { filter: { kind: 'type', type: 'production' } }));
      await store.appendAudit(auditEvent(), notification());
      const [a, b] = await claimAll();
      expect(a && b).toBeTruthy();

      // Retry: back in the queue, due later, attempts kept; the error is remembered.
      await store.retryDelivery(a!.id, at(100), 'HTTP 503');
      expect(await store.nextDeliveryDue()).toEqual(at(100));
      expect(await store.claimDeliveries(at(99), 10, MINUTE)).toEqual([]);
      const [again] = await store.claimDeliveries(at(100), 10, MINUTE);
      expect(again).toMatchObject({ id: a!.id, attempts: 2 });
      // A retry of a delivery that is not being sent changes nothing.
      await store.finishDelivery(b!.id, { state: 'delivered', at: at(61) });
      await store.retryDelivery(b!.id, at(300), 'late');
      expect(await store.nextDeliveryDue()).toBeUndefined();

      await store.finishDelivery(
        a!.id,
        { state: 'dropped', at: at(101), error: 'HTTP 400' },
        { audit: auditEvent({ type: 'notification-dropped', at: at(101) }) },
      );
      const byId = new Map((await subject.outbox()).map((d) => [d.id, d]));
      expect(byId.get(a!.id)).toMatchObject({
        state: 'dropped',
        attempts: 2,
        lastError: 'HTTP 400',
      });
      expect(byId.get(b!.id)).toMatchObject({ state: 'delivered', attempts: 1 });
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual([
        'requested',
        'notification-dropped',
      ]);
      // Finished is final: a late drop does not undo a delivery.
      await store.finishDelivery(b!.id, { state: 'dropped', at: at(102), error: 'late' });
      expect((await subject.outbox()).find((d) => d.id === b!.id)?.state).toBe('delivered');
      expect(await store.claimDeliveries(at(1000), 10, MINUTE)).toEqual([]);
    });

    it('dropChannel unsubscribes and drops what waits for the channel, not what is being sent', async () => {
      await store.subscribe(subscription(ALL));
      await store.subscribe(subscription(PROD));
      await store.appendAudit(auditEvent(), notification());
      const [sending] = (await claimAll()).filter((d) => d.channelId === ALL);
      await store.appendAudit(auditEvent(), notification());
      await store.appendAudit(auditEvent(), notification());

      const dropped = await store.dropChannel(ALL, 'BotNotInConversationRoster', {
        audit: auditEvent({ type: 'notification-dropped', details: { channelId: ALL } }),
      });
      expect(dropped).toBe(2);
      expect(await store.findSubscription(ALL)).toBeUndefined();
      expect(await store.findSubscription(PROD)).toBeDefined();
      const mine = (await subject.outbox()).filter((d) => d.channelId === ALL);
      expect(mine.map((d) => d.state).sort()).toEqual(['dropped', 'dropped', 'sending']);
      expect(
        mine
          .filter((d) => d.state === 'dropped')
          .every((d) => d.lastError === 'BotNotInConversationRoster'),
      ).toBe(true);
      expect((await chainOf(CHAIN)).at(-1)?.type).toBe('notification-dropped');
      // The one being sent is finished by its sender.
      await store.finishDelivery(sending!.id, { state: 'dropped', at: at(70), error: 'gone' });
      expect((await subject.outbox()).find((d) => d.id === sending!.id)?.state).toBe('dropped');
      // Nothing waits any more for that channel; the other one still gets its two.
      const rest = await claimAll(at(80));
      expect(rest.map((d) => d.channelId)).toEqual([PROD, PROD]);
      expect(await store.dropChannel(ALL, 'again')).toBe(0);
    });

    it('a delivery whose channel unsubscribed or was suspended comes without a subscription', async () => {
      await store.subscribe(subscription(ALL));
      await store.subscribe(subscription(PROD));
      await store.appendAudit(auditEvent(), notification());
      expect(await store.unsubscribe(ALL)).toBe(true);
      await store.suspendConversations({ teamId: 'team-1' }, true);
      const claimed = (await claimAll()).sort((x, y) => x.channelId.localeCompare(y.channelId));
      expect(claimed.map((d) => [d.channelId, d.subscription])).toEqual([
        [ALL, undefined],
        [PROD, undefined],
      ]);
    });

    it('abandons deliveries whose lease ran out, once; a late success still counts', async () => {
      await store.subscribe(subscription(ALL));
      await store.subscribe(subscription(PROD));
      await store.appendAudit(auditEvent(), notification());
      const claimed = await store.claimDeliveries(at(60), 10, 5 * MINUTE); // lease to minute 65
      expect(claimed).toHaveLength(2);
      await store.finishDelivery(claimed[1]!.id, { state: 'delivered', at: at(61) });

      expect(await store.abandonStaleDeliveries(at(64))).toEqual([]);
      const [results1, results2] = await Promise.all([
        store.abandonStaleDeliveries(at(66)),
        store.abandonStaleDeliveries(at(66)),
      ]);
      const abandoned = [...results1, ...results2];
      expect(abandoned.map((d) => d.id)).toEqual([claimed[0]!.id]);
      expect(abandoned[0]).toMatchObject({ channelId: claimed[0]!.channelId, attempts: 1 });
      expect(abandoned[0]!.notification.id).toBe(claimed[0]!.notification.id);
      expect(await store.abandonStaleDeliveries(at(67))).toEqual([]);
      const record = (await subject.outbox()).find((d) => d.id === claimed[0]!.id);
      expect(record?.state).toBe('dropped');
      expect(record?.lastError).toMatch(/not sent again/);
      expect(await store.claimDeliveries(at(1000), 10, MINUTE)).toEqual([]);

      // The sender was slow, not dead: its success overwrites the abandonment.
      await store.finishDelivery(claimed[0]!.id, { state: 'delivered', at: at(68) });
      expect((await subject.outbox()).map((d) => d.state)).toEqual(['delivered', 'delivered']);
    });

    it('abandons each stale delivery together with its audit event: refused at the edge, neither', async () => {
      await store.subscribe(subscription(ALL));
      await store.appendAudit(auditEvent(), notification());
      const [claimed] = await store.claimDeliveries(at(60), 10, MINUTE); // lease to minute 61
      const dropped = (delivery: Delivery) => ({
        audit: auditEvent({
          type: 'notification-dropped',
          at: at(62),
          details: { notificationId: delivery.notification.id },
        }),
      });
      const failing = await subject.refusingAuditEvents();
      try {
        await expect(failing.store.abandonStaleDeliveries(at(62), dropped)).rejects.toHaveProperty(
          'message',
          expect.stringMatching(/refused/),
        );
      } finally {
        await failing.lift();
      }
      expect((await subject.outbox()).map((d) => d.state)).toEqual(['sending']);
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual(['requested']);

      const abandoned = await store.abandonStaleDeliveries(at(62), dropped);
      expect(abandoned.map((d) => d.id)).toEqual([claimed!.id]);
      expect((await subject.outbox()).map((d) => d.state)).toEqual(['dropped']);
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual([
        'requested',
        'notification-dropped',
      ]);
      // Abandoned once: a second look finds nothing and records nothing.
      expect(await store.abandonStaleDeliveries(at(63), dropped)).toEqual([]);
      expect(await chainOf(CHAIN)).toHaveLength(2);
    });
  });

  describe('conversations and subscriptions', () => {
    const conversation = (id: string, teamId?: string) => ({
      id,
      scope: (teamId ? 'channel' : 'personal') as 'channel' | 'personal',
      tenantId: TENANT,
      teamId,
      reference: { conversation: { id }, serviceUrl: 'https://smba.example/' },
      updatedAt: at(0).toISOString(),
    });

    it('saves, finds, suspends, restores and forgets a conversation', async () => {
      await store.saveConversation(conversation('a:personal-1'));
      expect(await store.findConversation('a:personal-1')).toEqual({
        ...conversation('a:personal-1'),
        tenantId: CHAIN,
        teamId: undefined,
        suspended: false,
      });
      await store.suspendConversations({ id: 'a:personal-1' }, true);
      expect((await store.findConversation('a:personal-1'))?.suspended).toBe(true);
      await store.suspendConversations({ id: 'a:personal-1' }, false);
      expect((await store.findConversation('a:personal-1'))?.suspended).toBe(false);
      await store.suspendConversations({ id: 'a:personal-1' }, true);
      // Saving it again (the bot heard from it) restores it.
      await store.saveConversation({
        ...conversation('a:personal-1'),
        updatedAt: at(5).toISOString(),
      });
      expect(await store.findConversation('a:personal-1')).toMatchObject({
        suspended: false,
        updatedAt: at(5).toISOString(),
      });
      await store.forgetConversations({ id: 'a:personal-1' });
      expect(await store.findConversation('a:personal-1')).toBeUndefined();
      await store.forgetConversations({ id: 'never-seen' });
      await store.suspendConversations({ id: 'never-seen' }, true);
      expect(await store.findConversation('never-seen')).toBeUndefined();
    });

    it('subscribe replaces, unsubscribe removes; effects only when something changed', async () => {
      const sub = subscription('19:general@thread.tacv2');
      expect(await store.subscribe(sub, { audit: auditEvent({ type: 'subscribed' }) })).toBe(false);
      expect(await store.findSubscription(sub.channelId)).toEqual(sub);
      const replacement = { ...sub, filter: { kind: 'type', type: 'production' } as const };
      expect(await store.subscribe(replacement)).toBe(true);
      expect(await store.findSubscription(sub.channelId)).toEqual(replacement);

      expect(
        await store.unsubscribe(sub.channelId, { audit: auditEvent({ type: 'unsubscribed' }) }),
      ).toBe(true);
      expect(await store.findSubscription(sub.channelId)).toBeUndefined();
      expect(
        await store.unsubscribe(sub.channelId, { audit: auditEvent({ type: 'unsubscribed' }) }),
      ).toBe(false);
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual(['subscribed', 'unsubscribed']);
      expect(await store.subscribe(sub)).toBe(false);
    });

    it('a team suspended, restored and forgotten takes its channels and subscriptions along', async () => {
      await store.saveConversation(conversation('19:team-1@thread.tacv2'));
      await store.saveConversation(
        conversation('19:general@thread.tacv2', '19:team-1@thread.tacv2'),
      );
      await store.saveConversation(conversation('19:other@thread.tacv2', '19:team-2@thread.tacv2'));
      await store.subscribe(
        subscription('19:general@thread.tacv2', { teamId: '19:team-1@thread.tacv2' }),
      );
      await store.subscribe(
        subscription('19:other@thread.tacv2', { teamId: '19:team-2@thread.tacv2' }),
      );

      await store.suspendConversations({ teamId: '19:team-1@thread.tacv2' }, true);
      expect((await store.findConversation('19:team-1@thread.tacv2'))?.suspended).toBe(true);
      expect((await store.findConversation('19:general@thread.tacv2'))?.suspended).toBe(true);
      expect((await store.findConversation('19:other@thread.tacv2'))?.suspended).toBe(false);
      // A suspended subscription gets nothing; the other team's does.
      const first = notification();
      await store.appendAudit(auditEvent(), first);
      expect((await subject.outbox()).map((d) => d.channelId)).toEqual(['19:other@thread.tacv2']);

      await store.suspendConversations({ teamId: '19:team-1@thread.tacv2' }, false);
      expect((await store.findConversation('19:general@thread.tacv2'))?.suspended).toBe(false);
      const second = notification();
      await store.appendAudit(auditEvent(), second);
      expect(
        (await subject.outbox())
          .filter((d) => d.notificationId === second.id)
          .map((d) => d.channelId)
          .sort(),
      ).toEqual(['19:general@thread.tacv2', '19:other@thread.tacv2']);

      await store.forgetConversations({ teamId: '19:team-1@thread.tacv2' });
      expect(await store.findConversation('19:team-1@thread.tacv2')).toBeUndefined();
      expect(await store.findConversation('19:general@thread.tacv2')).toBeUndefined();
      expect(await store.findSubscription('19:general@thread.tacv2')).toBeUndefined();
      expect(await store.findConversation('19:other@thread.tacv2')).toBeDefined();
      expect(await store.findSubscription('19:other@thread.tacv2')).toBeDefined();

      await store.forgetConversations({ id: '19:other@thread.tacv2' });
      expect(await store.findConversation('19:other@thread.tacv2')).toBeUndefined();
      expect(await store.findSubscription('19:other@thread.tacv2')).toBeUndefined();
    });
  });

  describe('secrets', () => {
    it('reads what was written until it expires; written again, replaced; deleted, gone', async () => {
      await store.writeSecret('msal-cache', 'v1', at(10));
      expect(await store.readSecret('msal-cache', at(9))).toBe('v1');
      expect(await store.readSecret('msal-cache', at(10))).toBeUndefined();
      await store.writeSecret('msal-cache', 'v2', at(20));
      expect(await store.readSecret('msal-cache', at(10))).toBe('v2');
      await store.deleteSecret('msal-cache');
      expect(await store.readSecret('msal-cache', at(0))).toBeUndefined();
      await store.deleteSecret('msal-cache');
      expect(await store.readSecret('never', at(0))).toBeUndefined();
    });
  });

  describe('queries', () => {
    it('requestsOf: your requests by outcome time, newest first, in pages both ways', async () => {
      // Made at minutes 0..6; each comes to its outcome at minute 20 - i: made later, ran earlier.
      const mine = Array.from({ length: 7 }, (_, i) => request({ createdAt: at(i).toISOString() }));
      const megans = request({
        requester: { aadObjectId: MEGAN, tenantId: TENANT, name: 'Megan' },
      });
      const elsewhere = request({
        requester: { aadObjectId: ALEX, tenantId: OTHER_TENANT, name: 'Alex' },
      });
      for (const r of [...mine, megans, elsewhere]) await store.createRequest(r);
      for (const [i, r] of mine.entries()) {
        if (i === 3) continue; // still waiting: listed by its last transition (its creation)
        await store.transition(r.id, { from: ['requested'], to: 'cancelled', at: at(20 - i) });
      }
      await store.transition(megans.id, { from: ['requested'], to: 'cancelled', at: at(30) });

      const positions = (list: ElevationRequest[]) =>
        list.map((r) => mine.findIndex((m) => m.id === r.id));
      const cursor = (r: ElevationRequest) => ({ at: outcomeTime(r), id: r.id });
      const user = { tenantId: TENANT.toLowerCase(), aadObjectId: ALEX.toUpperCase() };
      const page1 = await store.requestsOf(user, { limit: 3 });
      expect(positions(page1)).toEqual([0, 1, 2]);
      expect(page1.map((r) => r.updatedAt)).toEqual([at(20), at(19), at(18)].map(iso));
      const page2 = await store.requestsOf(user, { limit: 3, before: cursor(page1.at(-1)!) });
      expect(positions(page2)).toEqual([4, 5, 6]);
      const page3 = await store.requestsOf(user, { limit: 3, before: cursor(page2.at(-1)!) });
      expect(positions(page3)).toEqual([3]);
      // Newer: the ones just before the cursor, still newest first.
      const back = await store.requestsOf(user, { limit: 3, after: cursor(page3[0]!) });
      expect(positions(back)).toEqual([4, 5, 6]);
      const back2 = await store.requestsOf(user, { limit: 2, after: cursor(page2[0]!) });
      expect(positions(back2)).toEqual([1, 2]);
      expect(await store.requestsOf(user, { limit: 3, after: cursor(page1[0]!) })).toEqual([]);
      expect(page1[0]).toEqual({ ...mine[0], state: 'cancelled', updatedAt: iso(at(20)) });
      expect(
        (await store.requestsOf({ tenantId: OTHER_TENANT, aadObjectId: ALEX }, { limit: 9 })).map(
          (r) => r.id,
        ),
      ).toEqual([elsewhere.id]);
    });

    it('requestsIn: the outcomes in an environment (not those waiting or executing), by outcome time, paged both ways', async () => {
      const env = (id: string) => ({ id, displayName: 'Contoso', type: 'Sandbox' });
      const made = Array.from({ length: 6 }, (_, i) =>
        request({ createdAt: at(i).toISOString(), environment: env('ENV-A') }),
      );
      const megans = request({
        requester: { aadObjectId: MEGAN, tenantId: TENANT, name: 'Megan' },
        environment: env('env-a'),
      });
      const otherEnvironment = request({ environment: env('env-b') });
      const waiting = request({ environment: env('env-a') });
      const executing = request({ environment: env('env-a') });
      for (const r of [...made, megans, otherEnvironment, waiting, executing]) {
        await store.createRequest(r);
      }
      const finals: RequestState[] = ['succeeded', 'failed', 'cancelled', 'expired'];
      for (const [i, r] of made.entries()) {
        await store.transition(r.id, {
          from: ['requested'],
          to: finals[i % 4]!,
          at: at(40 - i * 2),
        });
      }
      await store.transition(megans.id, { from: ['requested'], to: 'succeeded', at: at(35) });
      await store.transition(otherEnvironment.id, {
        from: ['requested'],
        to: 'succeeded',
        at: at(50),
      });
      await store.transition(executing.id, { from: ['requested'], to: 'executing', at: at(60) });

      const ids = (list: ElevationRequest[]) => list.map((r) => r.id);
      const cursor = (r: ElevationRequest) => ({ at: outcomeTime(r), id: r.id });
      const first = await store.requestsIn(TENANT, 'env-a', { limit: 4 });
      // 40, 38, 36 (made 0..2), 35 (Megan's), 34 (made 3), ...
      expect(ids(first)).toEqual([made[0]!.id, made[1]!.id, made[2]!.id, megans.id]);
      expect(first.map((r) => r.state)).toEqual(['succeeded', 'failed', 'cancelled', 'succeeded']);
      const second = await store.requestsIn(TENANT, 'ENV-A', {
        limit: 4,
        before: cursor(first.at(-1)!),
      });
      expect(ids(second)).toEqual([made[3]!.id, made[4]!.id, made[5]!.id]);
      const newer = await store.requestsIn(TENANT, 'env-a', {
        limit: 2,
        after: cursor(second[0]!),
      });
      expect(ids(newer)).toEqual([made[2]!.id, megans.id]);
      const everything = await store.requestsIn(TENANT, 'env-a', { limit: 100 });
      expect(ids(everything)).not.toContain(waiting.id);
      expect(ids(everything)).not.toContain(executing.id);
      expect(ids(everything)).not.toContain(otherEnvironment.id);
      expect(await store.requestsIn(OTHER_TENANT, 'env-a', { limit: 10 })).toEqual([]);
    });

    it('openRequestsOf and lastExecutionOf: your waiting requests and your last execution in an environment', async () => {
      const env = (id: string) => ({ id, displayName: 'Contoso', type: 'Sandbox' });
      const first = request({ createdAt: at(0).toISOString(), environment: env('ENV-A') });
      const second = request({ createdAt: at(1).toISOString(), environment: env('env-a') });
      const ran = request({ createdAt: at(2).toISOString(), environment: env('env-a') });
      const ranAgain = request({ createdAt: at(3).toISOString(), environment: env('env-a') });
      const otherEnvironment = request({ environment: env('env-b') });
      const megans = request({
        requester: { aadObjectId: MEGAN, tenantId: TENANT, name: 'Megan' },
        environment: env('env-a'),
      });
      for (const r of [second, first, ran, ranAgain, otherEnvironment, megans]) {
        await store.createRequest(r);
      }
      const user = { tenantId: TENANT, aadObjectId: ALEX.toUpperCase() };
      expect(await store.lastExecutionOf(user, 'env-a')).toBeUndefined();
      await store.transition(ran.id, { from: ['requested'], to: 'executing', at: at(4) });
      expect(await store.lastExecutionOf(user, 'env-a')).toBeUndefined();
      await store.transition(ran.id, { from: ['executing'], to: 'succeeded', at: at(5) });
      await store.transition(ranAgain.id, { from: ['requested'], to: 'executing', at: at(6) });
      await store.transition(ranAgain.id, { from: ['executing'], to: 'failed', at: at(7) });

      expect((await store.openRequestsOf(user, 'ENV-A')).map((r) => r.id)).toEqual([
        first.id,
        second.id,
      ]);
      expect(await store.lastExecutionOf(user, 'env-a')).toMatchObject({
        id: ranAgain.id,
        state: 'failed',
      });
      expect(await store.lastExecutionOf(user, 'env-b')).toBeUndefined();
      await store.transition(first.id, { from: ['requested'], to: 'cancelled', at: at(8) });
      expect((await store.openRequestsOf(user, 'env-a')).map((r) => r.id)).toEqual([second.id]);
      expect(
        await store.openRequestsOf({ tenantId: OTHER_TENANT, aadObjectId: ALEX }, 'env-a'),
      ).toEqual([]);
    });

    it("closeOthers: a new request or a claim closes the requester's other open requests there, in the same write, each audited", async () => {
      const env = { id: 'env-a', displayName: 'Contoso', type: 'Sandbox' };
      const old1 = request({ createdAt: at(0).toISOString(), environment: env });
      const old2 = request({ createdAt: at(1).toISOString(), environment: env });
      const otherEnvironment = request({ createdAt: at(1).toISOString() });
      const megans = request({
        createdAt: at(1).toISOString(),
        requester: { aadObjectId: MEGAN, tenantId: TENANT, name: 'Megan' },
        environment: env,
      });
      for (const r of [old1, old2, otherEnvironment, megans]) await store.createRequest(r);
      const newer = request({ createdAt: at(2).toISOString(), environment: env });
      const replaced: CloseOthers = {
        because: { kind: 'replaced', by: newer.id },
        audit: (closed) =>
          auditEvent({ type: 'cancelled', requestId: closed.id, details: { reason: 'replaced' } }),
      };
      await store.createRequest(newer, {
        audit: auditEvent({ requestId: newer.id }),
        closeOthers: replaced,
      });
      expect(replaced.closed?.map((r) => r.id).sort()).toEqual([old1.id, old2.id].sort());
      for (const old of [old1, old2]) {
        expect(await store.findRequest(old.id)).toMatchObject({
          state: 'cancelled',
          updatedAt: iso(at(2)),
          closedBecause: { kind: 'replaced', by: newer.id },
        });
      }
      expect((await store.findRequest(otherEnvironment.id))?.state).toBe('requested');
      expect((await store.findRequest(megans.id))?.state).toBe('requested');
      const user = { tenantId: TENANT, aadObjectId: ALEX };
      expect((await store.openRequestsOf(user, 'env-a')).map((r) => r.id)).toEqual([newer.id]);
      const events = await chainOf(CHAIN);
      expect(events.map((e) => [e.type, e.requestId])).toEqual([
        ['requested', newer.id],
        ...replaced.closed!.map((r) => ['cancelled', r.id]),
      ]);
      expect(verifyChain(events, CHAIN)).toMatchObject({ ok: true });

      // A claim does the same for whatever is open beside it; a transition that does not happen
      // closes nothing.
      const another = request({ createdAt: at(3).toISOString(), environment: env });
      await store.createRequest(another);
      const elsewhere: CloseOthers = {
        because: { kind: 'elevated-elsewhere', by: newer.id },
        audit: (closed) => auditEvent({ type: 'cancelled', requestId: closed.id }),
      };
      expect(
        await store.transition(
          newer.id,
          { from: ['executing'], to: 'succeeded', at: at(4) },
          { audit: auditEvent({ type: 'executed' }), closeOthers: elsewhere },
        ),
      ).toBeUndefined();
      expect((await store.findRequest(another.id))?.state).toBe('requested');
      const claimed = await store.transition(
        newer.id,
        { from: ['requested'], to: 'executing', at: at(5) },
        { audit: auditEvent({ type: 'confirmed', requestId: newer.id }), closeOthers: elsewhere },
      );
      expect(claimed?.state).toBe('executing');
      expect(elsewhere.closed?.map((r) => r.id)).toEqual([another.id]);
      expect(await store.findRequest(another.id)).toMatchObject({
        state: 'cancelled',
        closedBecause: { kind: 'elevated-elsewhere', by: newer.id },
      });
      expect(await store.openRequestsOf(user, 'env-a')).toEqual([]);
      expect((await chainOf(CHAIN)).slice(-2).map((e) => [e.type, e.requestId])).toEqual([
        ['confirmed', newer.id],
        ['cancelled', another.id],
      ]);
    });

    it('closeOthers from two store objects at once: one request stays open, never two', async () => {
      const other = await subject.another();
      const env = { id: 'env-race', displayName: 'Contoso', type: 'Sandbox' };
      const user = { tenantId: TENANT, aadObjectId: ALEX };
      for (let round = 0; round < 5; round += 1) {
        const made = Array.from({ length: 4 }, (_, i) =>
          request({ createdAt: at(round * 10 + i).toISOString(), environment: env }),
        );
        await Promise.all(
          made.map((r, i) =>
            (i % 2 === 0 ? store : other).createRequest(r, {
              audit: auditEvent({ requestId: r.id }),
              closeOthers: {
                because: { kind: 'replaced', by: r.id },
                audit: (closed) => auditEvent({ type: 'cancelled', requestId: closed.id }),
              },
            }),
          ),
        );
        const open = await store.openRequestsOf(user, env.id);
        expect(open).toHaveLength(1);
      }
      const events = await chainOf(CHAIN);
      // 20 requested, 19 closed: each closing audited once.
      expect(events.filter((e) => e.type === 'requested')).toHaveLength(20);
      expect(events.filter((e) => e.type === 'cancelled')).toHaveLength(19);
      expect(verifyChain(events, CHAIN)).toMatchObject({ ok: true });
    });

    it('findExpired: requests still waiting whose time is up, soonest first', async () => {
      const soon = request({ createdAt: at(0).toISOString() }); // expires at 10
      const sooner = request({ createdAt: at(-5).toISOString() }); // expires at 5
      const later = request({ createdAt: at(30).toISOString() }); // expires at 40
      const done = request({ createdAt: at(-20).toISOString() });
      const otherTenant = request({
        createdAt: at(-1).toISOString(),
        requester: { aadObjectId: ALEX, tenantId: OTHER_TENANT, name: 'Alex' },
      });
      for (const r of [soon, sooner, later, done, otherTenant]) await store.createRequest(r);
      await store.transition(done.id, { from: ['requested'], to: 'cancelled', at: at(-19) });

      const expired = await store.findExpired(at(20), 10);
      expect(expired.map((r) => r.id)).toEqual([sooner.id, otherTenant.id, soon.id]);
      expect((await store.findExpired(at(20), 2)).map((r) => r.id)).toEqual([
        sooner.id,
        otherTenant.id,
      ]);
      expect((await store.findExpired(at(5), 10)).map((r) => r.id)).toEqual([sooner.id]);
      expect(await store.findExpired(at(4), 10)).toEqual([]);
    });

    it('findAbandonedExecutions: executing past the execution deadline', async () => {
      const [a, b, c, d] = [request(), request(), request(), request()];
      for (const r of [a, b, c, d]) await store.createRequest(r);
      const execute = (id: string, minute: number, deadline: number) =>
        store.transition(id, {
          from: ['requested'],
          to: 'executing',
          at: at(minute),
          set: { executionDeadline: at(deadline).toISOString() },
        });
      await execute(a.id, 2, 7);
      await execute(b.id, 1, 6);
      await execute(c.id, 3, 30);
      await execute(d.id, 1, 5);
      await store.transition(d.id, { from: ['executing'], to: 'succeeded', at: at(4) });

      const abandoned = await store.findAbandonedExecutions(at(10), 10);
      expect(abandoned.map((r) => r.id)).toEqual([b.id, a.id]);
      expect(abandoned[0]).toMatchObject({
        state: 'executing',
        executionDeadline: at(6).toISOString(),
      });
      expect((await store.findAbandonedExecutions(at(6), 10)).map((r) => r.id)).toEqual([b.id]);
      expect((await store.findAbandonedExecutions(at(10), 1)).map((r) => r.id)).toEqual([b.id]);
      expect(await store.findAbandonedExecutions(at(5), 10)).toEqual([]);
    });
  });

  describe('time boxes', () => {
    /** A time box granted at minute 1 for an hour, its reminder due at minute 51. */
    function timeBox(overrides: Partial<TimeBox> = {}): TimeBox {
      return {
        phase: 'active',
        grantedAt: iso(at(1)),
        endsAt: iso(at(61)),
        latestEnd: iso(at(481)),
        remindAt: iso(at(51)),
        dueAt: iso(at(51)),
        attempts: 0,
        extensions: [],
        ...overrides,
      };
    }

    /** A request made, then granted at `grantedAt` with the time box given (as the bot does). */
    async function grant(
      box: Partial<TimeBox> = {},
      overrides: Partial<ElevationRequest> = {},
      grantedAt = at(1),
      on: ElevationStore = store,
    ): Promise<ElevationRequest> {
      const created = request({ minutes: 60, ...overrides });
      await on.createRequest(created);
      const granted = await on.transition(created.id, {
        from: ['requested'],
        to: 'succeeded',
        at: grantedAt,
        set: { timeBox: timeBox(box) },
      });
      if (!granted) throw new Error('the grant did not happen');
      return granted;
    }

    /** A time box moving on a granted request (state succeeded -> succeeded). */
    const move = (
      id: string,
      when: Date,
      box: TimeBox,
      guard?: (current: ElevationRequest) => boolean,
      effects?: Effects,
      on: ElevationStore = store,
    ) =>
      on.transition(
        id,
        { from: ['succeeded'], to: 'succeeded', at: when, set: { timeBox: box }, guard },
        effects,
      );

    /** Not leased at `now`: what an instance checks before it takes a time box. */
    const unleasedAt = (now: Date) => (current: ElevationRequest) =>
      current.timeBox?.leaseUntil === undefined ||
      Date.parse(current.timeBox.leaseUntil) <= now.getTime();

    const ids = (list: ElevationRequest[]) => list.map((r) => r.id);

    it('keeps minutes and the time box, whole, through create, transition and find', async () => {
      const box = timeBox({
        extensions: [{ at: iso(at(30)), minutes: 60, justification: 'INC-7 still open' }],
        lastRemoval: {
          kind: 'unavailable',
          message: 'slow down',
          status: 429,
          retryAfterMs: 30_000,
          at: iso(at(61)),
        },
        overdueSince: iso(at(62)),
        attempts: 2,
        phase: 'overdue',
      });
      const created = request({ minutes: 90 });
      await store.createRequest(created);
      expect(await store.findRequest(created.id)).toEqual(created);
      const granted = await store.transition(created.id, {
        from: ['requested'],
        to: 'succeeded',
        at: at(1),
        set: { timeBox: box },
      });
      expect(granted).toEqual({
        ...created,
        state: 'succeeded',
        updatedAt: iso(at(1)),
        timeBox: box,
      });
      expect(await store.findRequest(created.id)).toEqual(granted);
      // Created with one already (a store-level copy, say): the same.
      const whole = request({ state: 'succeeded', minutes: 30, timeBox: timeBox() });
      await store.createRequest(whole);
      expect(await store.findRequest(whole.id)).toEqual(whole);
      expect(ids(await store.findDueTimeBoxes(at(51), 10)).sort()).toEqual(
        [created.id, whole.id].sort(),
      );
    });

    it('a guard that says no leaves the request and writes no effects; one that says yes moves it', async () => {
      const granted = await grant();
      await store.subscribe(subscription('19:all@thread.tacv2'));
      const seen: Array<TimeBox | undefined> = [];
      const refused = await move(
        granted.id,
        at(51),
        timeBox({ leaseUntil: iso(at(52)) }),
        (current) => {
          seen.push(current.timeBox);
          return false;
        },
        {
          audit: auditEvent({ type: 'reminded', requestId: granted.id }),
          notification: notification({ kind: 'role-removed', requestId: granted.id }),
        },
      );
      expect(refused).toBeUndefined();
      // The guard was asked about the request as stored.
      expect(seen.at(-1)).toEqual(granted.timeBox);
      expect(await store.findRequest(granted.id)).toEqual(granted);
      expect(await chainOf(CHAIN)).toEqual([]);
      expect(await subject.outbox()).toEqual([]);

      const taken = await move(
        granted.id,
        at(51),
        timeBox({ leaseUntil: iso(at(52)) }),
        unleasedAt(at(51)),
        { audit: auditEvent({ type: 'reminded', requestId: granted.id }) },
      );
      expect(taken?.timeBox?.leaseUntil).toBe(iso(at(52)));
      expect((await chainOf(CHAIN)).map((e) => e.type)).toEqual(['reminded']);
      // The same guard now sees the lease, and says no.
      expect(
        await move(granted.id, at(51), timeBox({ leaseUntil: iso(at(53)) }), unleasedAt(at(51))),
      ).toBeUndefined();
      expect((await store.findRequest(granted.id))?.timeBox?.leaseUntil).toBe(iso(at(52)));
      // The guard does not widen `from`: a request in another state is not moved.
      const waiting = request();
      await store.createRequest(waiting);
      expect(await move(waiting.id, at(51), timeBox(), () => true)).toBeUndefined();
      expect((await store.findRequest(waiting.id))?.timeBox).toBeUndefined();
    });

    it('a time box moving keeps updatedAt, the history and audit order, and the last execution, with its effects written', async () => {
      const env = { id: 'env-tb', displayName: 'Contoso Dev', type: 'Sandbox' };
      const early = await grant({}, { environment: env }, at(2));
      const later = await grant({}, { environment: env }, at(3));
      const user = { tenantId: TENANT, aadObjectId: ALEX };
      const historyBefore = ids(await store.requestsOf(user, { limit: 10 }));
      const auditBefore = ids(await store.requestsIn(TENANT, env.id, { limit: 10 }));
      expect(historyBefore).toEqual([later.id, early.id]);
      await store.subscribe(subscription('19:all@thread.tacv2'));

      const moved = await move(
        early.id,
        at(51),
        timeBox({ remindAt: undefined, dueAt: iso(at(61)) }),
        undefined,
        {
          audit: auditEvent({ type: 'reminded', requestId: early.id }),
          notification: notification({ kind: 'removal-overdue', requestId: early.id }),
        },
      );
      expect(moved?.updatedAt).toBe(iso(at(2)));
      expect(moved?.timeBox?.dueAt).toBe(iso(at(61)));
      const stored = await store.findRequest(early.id);
      if (stored?.updatedAt !== iso(at(2))) {
        throw breach(
          kind,
          'a transition whose `to` is the current state must leave updatedAt (the outcome time) as it was',
          iso(at(2)),
          stored?.updatedAt,
        );
      }
      expect(ids(await store.requestsOf(user, { limit: 10 }))).toEqual(historyBefore);
      expect(ids(await store.requestsIn(TENANT, env.id, { limit: 10 }))).toEqual(auditBefore);
      // The older one moving on does not become the last execution again.
      expect((await store.lastExecutionOf(user, env.id))?.id).toBe(later.id);
      expect((await chainOf(CHAIN)).map((e) => [e.type, e.requestId])).toEqual([
        ['reminded', early.id],
      ]);
      expect(await subject.outbox()).toHaveLength(1);
    });

    it('findDueTimeBoxes: due and not leased, soonest first, at most limit; nextTimeBoxDue: the soonest, leased or not', async () => {
      const due10 = await grant({ dueAt: iso(at(10)) });
      const leased5 = await grant({ dueAt: iso(at(5)), leaseUntil: iso(at(30)) });
      await grant({ dueAt: iso(at(20)) }); // not yet
      const due8 = await grant({ dueAt: iso(at(8)) });
      const leaseOver7 = await grant({ dueAt: iso(at(7)), leaseUntil: iso(at(9)) });
      await grant({ phase: 'removed', dueAt: undefined, endedAt: iso(at(4)) }); // final
      await store.createRequest(request()); // no time box

      expect(ids(await store.findDueTimeBoxes(at(15), 10))).toEqual([
        leaseOver7.id,
        due8.id,
        due10.id,
      ]);
      expect(ids(await store.findDueTimeBoxes(at(15), 2))).toEqual([leaseOver7.id, due8.id]);
      // Due exactly now counts; the lease ending exactly now too.
      expect(ids(await store.findDueTimeBoxes(at(8), 10))).toEqual([due8.id]);
      expect(ids(await store.findDueTimeBoxes(at(9), 10))).toEqual([leaseOver7.id, due8.id]);
      expect(ids(await store.findDueTimeBoxes(at(30), 10))).toEqual([
        leased5.id,
        leaseOver7.id,
        due8.id,
        due10.id,
        expect.any(String),
      ]);
      expect(await store.findDueTimeBoxes(at(4), 10)).toEqual([]);
      expect(await store.nextTimeBoxDue()).toEqual(at(5));
    });

    it('moving dueAt (an extension) moves it in the index; a final phase takes it out of both indexes', async () => {
      const granted = await grant({ dueAt: iso(at(51)) });
      expect(ids(await store.findDueTimeBoxes(at(51), 10))).toEqual([granted.id]);
      const extended = timeBox({
        endsAt: iso(at(121)),
        remindAt: iso(at(111)),
        dueAt: iso(at(111)),
        extensions: [{ at: iso(at(50)), minutes: 60, justification: 'INC-9' }],
      });
      await move(granted.id, at(50), extended);
      expect(await store.findDueTimeBoxes(at(51), 10)).toEqual([]);
      expect(await store.findDueTimeBoxes(at(110), 10)).toEqual([]);
      expect(ids(await store.findDueTimeBoxes(at(111), 10))).toEqual([granted.id]);
      expect(await store.nextTimeBoxDue()).toEqual(at(111));
      expect((await store.activeElevations(TENANT)).map((r) => r.timeBox?.endsAt)).toEqual([
        iso(at(121)),
      ]);

      await move(granted.id, at(121), {
        ...extended,
        phase: 'removed',
        dueAt: undefined,
        remindAt: undefined,
        endedAt: iso(at(121)),
      });
      expect(await store.findDueTimeBoxes(at(10_000), 10)).toEqual([]);
      expect(await store.nextTimeBoxDue()).toBeUndefined();
      expect(await store.activeElevations(TENANT)).toEqual([]);
      expect((await store.findRequest(granted.id))?.timeBox?.phase).toBe('removed');
    });

    it('two store objects race to take the same 50 due time boxes: exactly one takes each', async () => {
      const other = await subject.another();
      const granted = [];
      for (let i = 0; i < 50; i += 1) granted.push(await grant({ dueAt: iso(at(51)) }));
      const now = at(51);
      const results = await Promise.all(
        granted.flatMap((g) =>
          [store, other].map((on, n) =>
            move(
              g.id,
              now,
              timeBox({ leaseUntil: iso(at(56)), attempts: n + 1 }),
              unleasedAt(now),
              { audit: auditEvent({ type: 'removal-attempted', requestId: g.id }) },
              on,
            ),
          ),
        ),
      );
      for (const [i, g] of granted.entries()) {
        const won = [results[2 * i], results[2 * i + 1]].filter((r) => r !== undefined);
        expect([g.id, won.length]).toEqual([g.id, 1]);
        // Stored as the winner wrote it.
        expect((await store.findRequest(g.id))?.timeBox?.attempts).toBe(won[0]!.timeBox?.attempts);
      }
      const events = await chainOf(CHAIN);
      expect(events.filter((e) => e.type === 'removal-attempted')).toHaveLength(50);
      expect(new Set(events.map((e) => e.requestId)).size).toBe(50);
      expect(verifyChain(events, CHAIN)).toMatchObject({ ok: true });
      // Leased: due for nobody until the lease ends, then for both again.
      expect(await other.findDueTimeBoxes(at(55), 100)).toEqual([]);
      expect(await store.findDueTimeBoxes(at(56), 100)).toHaveLength(50);
    });

    it('activeElevations: the tenant, or one user of it, soonest end first; not the final ones', async () => {
      const megan = { aadObjectId: MEGAN, tenantId: TENANT, name: 'Megan Bowen' };
      const alex60 = await grant({ endsAt: iso(at(60)) });
      const alex30 = await grant({ endsAt: iso(at(30)), phase: 'overdue' });
      const megan45 = await grant({ endsAt: iso(at(45)), phase: 'removing' }, { requester: megan });
      await grant({ endsAt: iso(at(10)), phase: 'kept', dueAt: undefined }); // final
      const elsewhere = await grant(
        { endsAt: iso(at(20)) },
        { requester: { aadObjectId: ALEX, tenantId: OTHER_TENANT, name: 'Alex' } },
      );
      await store.createRequest(request()); // no time box

      expect(ids(await store.activeElevations(TENANT))).toEqual([alex30.id, megan45.id, alex60.id]);
      expect(
        ids(
          await store.activeElevations(TENANT.toLowerCase(), { aadObjectId: ALEX.toUpperCase() }),
        ),
      ).toEqual([alex30.id, alex60.id]);
      expect(ids(await store.activeElevations(TENANT, { aadObjectId: MEGAN }))).toEqual([
        megan45.id,
      ]);
      expect(ids(await store.activeElevations(OTHER_TENANT))).toEqual([elsewhere.id]);
      expect(await store.activeElevations('c0ffee00-0000-4000-8000-000000000000')).toEqual([]);
      expect((await store.activeElevations(TENANT))[0]).toEqual(alex30);
    });

    it('an instance that never saw a tenant finds its due work (the one that wrote it may have died)', async () => {
      const other = await subject.another();
      // It looked before the tenant existed: nothing then.
      expect(await other.findDueTimeBoxes(at(100), 10)).toEqual([]);
      expect(await other.nextTimeBoxDue()).toBeUndefined();
      const tenant = `7e7a${randomUUID().slice(4)}`;
      const granted = await grant(
        { dueAt: iso(at(61)) },
        { requester: { aadObjectId: ALEX, tenantId: tenant, name: 'Alex' } },
      );
      expect(ids(await other.findDueTimeBoxes(at(100), 10))).toEqual([granted.id]);
      expect(await other.nextTimeBoxDue()).toEqual(at(61));
      const third = await subject.another();
      expect(ids(await third.findDueTimeBoxes(at(100), 10))).toEqual([granted.id]);
      expect(ids(await third.activeElevations(tenant))).toEqual([granted.id]);
    });

    it('purgeExpired keeps a request whose time box is pending, however old; once final, it goes', async () => {
      const pending = await grant({ dueAt: iso(at(61)) }, {}, at(1));
      const plain = request();
      await store.createRequest(plain);
      await store.transition(plain.id, { from: ['requested'], to: 'succeeded', at: at(1) });
      await store.purgeExpired(new Date(), at(1_000));
      expect(await store.findRequest(plain.id)).toBeUndefined();
      expect((await store.findRequest(pending.id))?.timeBox?.phase).toBe('active');
      expect(ids(await store.findDueTimeBoxes(at(61), 10))).toEqual([pending.id]);

      await move(pending.id, at(61), timeBox({ phase: 'removed', dueAt: undefined }));
      await store.purgeExpired(new Date(), at(1_000));
      expect(await store.findRequest(pending.id)).toBeUndefined();
    });

    it('a time box moving with its audit event and notification is written all or nothing: refused at the edge, nothing', async () => {
      const granted = await grant({ dueAt: iso(at(61)) });
      await store.subscribe(subscription('19:all@thread.tacv2'));
      const ending = timeBox({ phase: 'removing', dueAt: iso(at(66)), leaseUntil: iso(at(66)) });
      const effects = () => ({
        audit: auditEvent({ type: 'removal-attempted' as const, requestId: granted.id }),
        notification: notification({ kind: 'removal-failed', requestId: granted.id }),
      });
      const failing = await subject.refusingAuditEvents();
      try {
        await expect(
          move(granted.id, at(61), ending, unleasedAt(at(61)), effects(), failing.store),
        ).rejects.toHaveProperty('message', expect.stringMatching(/refused/));
      } finally {
        await failing.lift();
      }
      const stored = await store.findRequest(granted.id);
      const outboxRows = await subject.outbox();
      if (!isDeepStrictEqual(stored, granted) || outboxRows.length !== 0) {
        throw breach(
          kind,
          'a time box transition whose audit event the storage refused must leave the request, its index and the outbox as they were',
          { timeBox: granted.timeBox, outbox: 0 },
          { timeBox: stored?.timeBox, outbox: outboxRows.length },
        );
      }
      expect(await chainOf(CHAIN)).toEqual([]);
      // Still due, not leased, in the index.
      expect(ids(await store.findDueTimeBoxes(at(61), 10))).toEqual([granted.id]);
      expect(await store.activeElevations(TENANT)).toEqual([granted]);

      // Once the storage takes writes again: all of it.
      const moved = await move(granted.id, at(61), ending, unleasedAt(at(61)), effects());
      expect(moved?.timeBox).toEqual(ending);
      expect((await chainOf(CHAIN)).map((e) => [e.type, e.requestId])).toEqual([
        ['removal-attempted', granted.id],
      ]);
      expect(await subject.outbox()).toHaveLength(1);
      expect(await store.findDueTimeBoxes(at(65), 10)).toEqual([]);
      expect(ids(await store.findDueTimeBoxes(at(66), 10))).toEqual([granted.id]);
    });
  });

  describe('purgeExpired', () => {
    it('removes finished requests and deliveries changed before the cutoff, and expired keys and secrets', async () => {
      const oldDone = request();
      const oldWaiting = request();
      const newDone = request();
      for (const r of [oldDone, oldWaiting, newDone]) await store.createRequest(r);
      await store.transition(oldDone.id, { from: ['requested'], to: 'cancelled', at: at(1) });
      await store.transition(newDone.id, { from: ['requested'], to: 'expired', at: at(100) });

      await store.subscribe(subscription('19:a@thread.tacv2'));
      await store.subscribe(subscription('19:b@thread.tacv2'));
      await store.appendAudit(auditEvent(), notification({ at: at(0).toISOString() }));
      const [first, second] = await claimAll(at(1));
      await store.finishDelivery(first!.id, { state: 'delivered', at: at(2) });
      await store.writeSecret('old', 'x', new Date(Date.now() - 1000));
      await store.writeSecret('current', 'y', new Date(Date.now() + 10 * MINUTE));
      await store.claimOnce('once-old', new Date(Date.now() - 1000));

      await store.purgeExpired(new Date(), at(50));
      expect(await store.findRequest(oldDone.id)).toBeUndefined();
      expect(await store.findRequest(oldWaiting.id)).toBeDefined();
      expect(await store.findRequest(newDone.id)).toBeDefined();
      expect(
        await store.transition(oldDone.id, { from: ['cancelled'], to: 'expired', at: at(60) }),
      ).toBeUndefined();
      expect((await subject.outbox()).map((d) => d.id)).toEqual([second!.id]);
      expect(await store.readSecret('current', new Date())).toBe('y');
      expect(await store.readSecret('old', new Date(0))).toBeUndefined();
      expect(await store.claimOnce('once-old', new Date(Date.now() + MINUTE))).toBe(true);
      // The audit trail is not touched by this (pruneAudit is).
      expect(await chainOf(CHAIN)).toHaveLength(1);
      // A later purge also takes what finished since, once its time is past.
      await store.finishDelivery(second!.id, { state: 'dropped', at: at(3), error: 'x' });
      await store.purgeExpired(new Date(), at(200));
      expect(await subject.outbox()).toEqual([]);
      expect(await store.findRequest(newDone.id)).toBeUndefined();
      expect(await store.findRequest(oldWaiting.id)).toBeDefined();
    });
  });
});

describe('TableStore: what Table Storage cannot hold is refused, never cut', () => {
  let store: TableStore;
  let prefixRun = 0;

  beforeAll(async () => {
    runs += 1;
    prefixRun = runs;
    store = await TableStore.open({
      connectionString: azurite!.connectionString,
      tablePrefix: `c${RUN}n${runs}`,
    });
  });

  it('refuses a request above 1 MiB with an error that says so, and writes nothing', async () => {
    const huge = request({ justification: 'x'.repeat(600_000) });
    await expect(store.createRequest(huge)).rejects.toThrow(/1 MiB|above Azure Table Storage/);
    expect(await store.findRequest(huge.id)).toBeUndefined();
  });

  it('refuses a transition that would outgrow the request, and leaves it as it was', async () => {
    const created = request();
    await store.createRequest(created);
    await expect(
      store.transition(
        created.id,
        {
          from: ['requested'],
          to: 'executing',
          at: at(1),
          set: { clientRequestId: 'y'.repeat(600_000) },
        },
        { audit: auditEvent({ type: 'confirmed' }) },
      ),
    ).rejects.toThrow(/1 MiB/);
    expect(await store.findRequest(created.id)).toEqual(created);
    expect(await store.readAudit({ chain: CHAIN, limit: 10 })).toEqual([]);
  });

  it('refuses effects of another tenant in a transition, which could not be one transaction', async () => {
    const created = request();
    await store.createRequest(created);
    await expect(
      store.transition(
        created.id,
        { from: ['requested'], to: 'executing', at: at(1) },
        { audit: auditEvent({ tenantId: OTHER_TENANT }) },
      ),
    ).rejects.toThrow(/one transaction/);
    expect((await store.findRequest(created.id))?.state).toBe('requested');
  });

  it('finishes a fan-out that a stopped process left unfinished, once per channel', async () => {
    const tenant = 'c0ffee00-0000-4000-8000-00000000f00d';
    const channels = ['19:r1@thread.tacv2', '19:r2@thread.tacv2', '19:r3@thread.tacv2'];
    for (const channelId of channels) {
      await store.subscribe(subscription(channelId, { tenantId: tenant }));
    }
    const sent = notification({ tenantId: tenant });
    await store.appendAudit(auditEvent({ tenantId: tenant }), sent);
    // What a crash right after the transaction leaves: the notification says its fan-out is
    // unfinished, and some of its outbox rows are missing.
    const table = TableClient.fromConnectionString(
      azurite!.connectionString,
      `c${RUN}n${prefixRun}elevation`,
      { allowInsecureConnection: true },
    );
    const rows = [];
    for await (const e of table.listEntities({
      queryOptions: { filter: odata`PartitionKey eq ${tenant} and RowKey ge 'deliv|'` },
    })) {
      if (e.rowKey?.startsWith('deliv|')) rows.push(e);
    }
    expect(rows).toHaveLength(3);
    for (const row of rows.slice(1)) await table.deleteEntity(tenant, row.rowKey!);
    await table.updateEntity(
      { partitionKey: tenant, rowKey: `notif|${sent.id}`, fanoutPending: true },
      'Merge',
    );
    const claimed = await Promise.all([
      store.claimDeliveries(at(60), 10, MINUTE),
      store.claimDeliveries(at(60), 10, MINUTE),
    ]);
    expect(
      claimed
        .flat()
        .map((d) => d.channelId)
        .sort(),
    ).toEqual(channels);
    const outboxRows = await tableOutbox({
      connectionString: azurite!.connectionString,
      tablePrefix: `c${RUN}n${prefixRun}`,
    });
    expect(outboxRows.filter((d) => d.notificationId === sent.id)).toHaveLength(3);
  });

  it('requests written before the index rows are indexed on open: history, audit and open cards find them', async () => {
    const prefix = `c${RUN}n${(runs += 1)}`;
    const options = { connectionString: azurite!.connectionString, tablePrefix: prefix };
    const first = await TableStore.open(options);
    const env = { id: 'env-old', displayName: 'Old', type: 'Sandbox' };
    const waiting = request({ createdAt: at(0).toISOString(), environment: env });
    const ran = request({ createdAt: at(1).toISOString(), environment: env });
    await first.createRequest(waiting);
    await first.createRequest(ran);
    await first.transition(ran.id, { from: ['requested'], to: 'succeeded', at: at(2) });
    // What an earlier version left: the requests without index rows, not marked indexed, and
    // no upgrade done yet.
    const table = TableClient.fromConnectionString(options.connectionString, `${prefix}elevation`, {
      allowInsecureConnection: true,
    });
    const shared = TableClient.fromConnectionString(
      options.connectionString,
      `${prefix}elevationshared`,
      { allowInsecureConnection: true },
    );
    for await (const e of table.listEntities({
      queryOptions: { filter: odata`kind eq 'index'` },
    })) {
      await table.deleteEntity(e.partitionKey!, e.rowKey!);
    }
    for (const r of [waiting, ran]) {
      await table.updateEntity(
        { partitionKey: CHAIN, rowKey: `req|${r.id}`, indexed: false },
        'Merge',
      );
    }
    await shared.deleteEntity('upgrade', 'request-index');
    const user = { tenantId: TENANT, aadObjectId: ALEX };
    expect(await first.requestsOf(user, { limit: 10 })).toEqual([]);

    const upgraded = await TableStore.open(options);
    expect((await upgraded.requestsOf(user, { limit: 10 })).map((r) => r.id)).toEqual([
      ran.id,
      waiting.id,
    ]);
    expect((await upgraded.requestsIn(TENANT, env.id, { limit: 10 })).map((r) => r.id)).toEqual([
      ran.id,
    ]);
    expect((await upgraded.openRequestsOf(user, env.id)).map((r) => r.id)).toEqual([waiting.id]);
    expect((await upgraded.lastExecutionOf(user, env.id))?.id).toBe(ran.id);
    // And they move on as any other: cancelling the waiting one takes it out of the open cards.
    await upgraded.transition(waiting.id, { from: ['requested'], to: 'cancelled', at: at(3) });
    expect(await upgraded.openRequestsOf(user, env.id)).toEqual([]);
  });

  it('history, audit and the open cards read index ranges and single entities, never a filtered scan', async () => {
    const edge = await startTableEdge(azurite!);
    try {
      const viaEdge = await TableStore.open({
        connectionString: edge.connectionString,
        tablePrefix: `c${RUN}n${(runs += 1)}`,
      });
      const env = { id: 'env-scan', displayName: 'Scan', type: 'Sandbox' };
      const made = Array.from({ length: 8 }, (_, i) =>
        request({ createdAt: at(i).toISOString(), environment: env }),
      );
      for (const [i, r] of made.entries()) {
        await viaEdge.createRequest(r);
        await viaEdge.transition(r.id, { from: ['requested'], to: 'succeeded', at: at(10 + i) });
      }
      const user = { tenantId: TENANT, aadObjectId: ALEX };
      const from = edge.seen.length;
      const page = await viaEdge.requestsOf(user, { limit: 3 });
      const cursor = { at: outcomeTime(page[2]!), id: page[2]!.id };
      await viaEdge.requestsOf(user, { limit: 3, before: cursor });
      await viaEdge.requestsOf(user, { limit: 3, after: cursor });
      await viaEdge.requestsIn(TENANT, env.id, { limit: 3, before: cursor });
      await viaEdge.requestsIn(TENANT, env.id, { limit: 3, after: cursor });
      await viaEdge.openRequestsOf(user, env.id);
      await viaEdge.lastExecutionOf(user, env.id);

      const reads = edge.seen.slice(from).filter((r) => r.method === 'GET');
      expect(reads.length).toBeGreaterThan(0);
      const indexRange =
        /\$filter=PartitionKey eq '[^']+' and RowKey g[et] '(hist|outc|open)\|[^']*' and RowKey lt '[^']+'(&|$)/;
      const pointRead = /\(PartitionKey='[^']+',RowKey='(req|last)\|[^']+'\)/;
      for (const read of reads) {
        expect([read.url, indexRange.test(read.url) || pointRead.test(read.url)]).toEqual([
          read.url,
          true,
        ]);
      }
    } finally {
      await edge.stop();
    }
  });

  it('the time boxes are found by index ranges and single entities, never a filtered scan', async () => {
    const edge = await startTableEdge(azurite!);
    try {
      const viaEdge = await TableStore.open({
        connectionString: edge.connectionString,
        tablePrefix: `c${RUN}n${(runs += 1)}`,
      });
      for (let i = 0; i < 6; i += 1) {
        const created = request();
        await viaEdge.createRequest(created);
        await viaEdge.transition(created.id, {
          from: ['requested'],
          to: 'succeeded',
          at: at(1),
          set: {
            timeBox: {
              phase: 'active',
              grantedAt: iso(at(1)),
              endsAt: iso(at(61 + i)),
              latestEnd: iso(at(481)),
              dueAt: iso(at(51 + i)),
              ...(i % 2 === 0 ? { leaseUntil: iso(at(100)) } : {}),
              attempts: 0,
              extensions: [],
            },
          },
        });
      }
      const from = edge.seen.length;
      expect(await viaEdge.findDueTimeBoxes(at(60), 10)).toHaveLength(3);
      expect(await viaEdge.nextTimeBoxDue()).toEqual(at(51));
      expect(await viaEdge.activeElevations(TENANT)).toHaveLength(6);
      expect(await viaEdge.activeElevations(TENANT, { aadObjectId: ALEX })).toHaveLength(6);

      const reads = edge.seen.slice(from).filter((r) => r.method === 'GET');
      const registry = /\$filter=PartitionKey eq 'tenant'(&|$)/;
      const indexRange =
        /\$filter=PartitionKey eq '[^']+' and RowKey ge '(due|active)\|[^']*' and RowKey lt '[^']+'( and leaseUntil le '[^']+')?(&|$)/;
      const pointRead = /\(PartitionKey='[^']+',RowKey='req\|[^']+'\)/;
      for (const read of reads) {
        const allowed = [registry, indexRange, pointRead].some((pattern) => pattern.test(read.url));
        expect([read.url, allowed]).toEqual([read.url, true]);
      }
      // Three due (not leased) requests read, not the six.
      expect(reads.filter((r) => pointRead.test(r.url)).length).toBe(3 + 6 + 6);
    } finally {
      await edge.stop();
    }
  });

  it('rejects a table prefix that is not letters and digits', async () => {
    await expect(
      TableStore.open({ connectionString: azurite!.connectionString, tablePrefix: 'bad-prefix' }),
    ).rejects.toThrow(/letters and digits/);
  });
});
