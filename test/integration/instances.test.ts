/**
 * Real bot processes (the sandbox entry point, without the Playground) on one store: several
 * instances must act as one, and a process killed in the middle of an elevation must leave a
 * request that is reconciled, not lost.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyChain } from '../../src/elevation/audit-chain';
import { SANDBOX_USERS } from '../../src/sandbox/directory';
import {
  type DataverseSimulator,
  startDataverseSimulatorFor,
} from '../../src/sandbox/dataverse-simulator';
import {
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
} from '../../src/sandbox/power-platform-simulator';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import { loadStorageConfig } from '../../src/config';
import type { ElevationStore } from '../../src/elevation/ports';
import { openStore } from '../../src/store/open-store';
import { type Azurite, startAzurite } from '../support/azurite';
import { type BotProcess, startBotProcess } from '../support/bot-process';
import { type ConnectorStub, startConnectorStub } from '../support/connector-stub';
import { type ClientUser, teamsClient } from '../support/teams-client';
import { actionData, cardOf, cardText } from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const ALEX: ClientUser = {
  aadObjectId: SANDBOX_USERS[0]!.oid,
  name: SANDBOX_USERS[0]!.name,
  tenantId: TENANT,
};

let dir: string;
let simulator: PowerPlatformSimulator;
/** Dataverse for the processes' role checks and removals, following the simulator's grants. */
let dataverse: DataverseSimulator;
let connector: ConnectorStub;
const processes: BotProcess[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'instances-'));
  simulator = await startPowerPlatformSimulator({ port: 0, host: '127.0.0.1' });
  dataverse = await startDataverseSimulatorFor(simulator);
  connector = await startConnectorStub();
});

afterEach(async () => {
  for (const p of processes.splice(0)) await p.stop();
  await dataverse.stop();
  await simulator.stop();
  await connector.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Where the processes keep their state: this test's SQLite file unless told otherwise. */
let storeEnv: Record<string, string> = {};

async function bot(env: Record<string, string> = {}): Promise<BotProcess> {
  const started = await startBotProcess({
    SQLITE_PATH: join(dir, 'bot.db'),
    POWERPLATFORM_API_URL: simulator.url,
    SANDBOX_DATAVERSE_URL: dataverse.url,
    ...storeEnv,
    ...env,
  });
  processes.push(started);
  return started;
}

function applyAdminRoleCalls(): number {
  return simulator.calls.filter((c) => c.operation === 'applyAdminRole').length;
}

/** The newest confirmation card posted to the user's personal chat: its request and message. */
function latestConfirmation(user: ClientUser): { requestId: string; messageId: string } {
  const conversation = `a:personal-${user.aadObjectId}`;
  const call = [...connector.calls]
    .reverse()
    .find(
      (c) =>
        c.conversationId === conversation &&
        c.method === 'POST' &&
        actionData(cardOf(c.activity), 'elevate') !== undefined,
    );
  if (!call) throw new Error(`no confirmation card for ${user.name}`);
  return {
    requestId: actionData(cardOf(call.activity), 'elevate')!.requestId as string,
    messageId: call.assignedId!,
  };
}

/** The store the processes share, opened by the test to check what they wrote. */
async function sharedStore(): Promise<ElevationStore> {
  return openStore(loadStorageConfig({ SQLITE_PATH: join(dir, 'bot.db'), ...storeEnv }));
}

async function eventsOf(store: ElevationStore, requestId?: string) {
  const events = await store.readAudit({ chain: TENANT, limit: 100_000 });
  return requestId ? events.filter((e) => e.requestId === requestId) : events;
}

const STORES = [
  { name: 'one SQLite file', azurite: false },
  { name: 'Azure Table Storage (Azurite)', azurite: true },
];

/** Runs the describe's tests on the given store: this test's SQLite file, or a fresh Azurite. */
function onStore(azurite: boolean): void {
  let emulator: Azurite | undefined;
  beforeAll(async () => {
    if (azurite) emulator = await startAzurite();
  });
  afterAll(async () => {
    await emulator?.stop();
  });
  beforeEach(() => {
    storeEnv = emulator
      ? {
          STORAGE: 'azure-table',
          AZURE_STORAGE_CONNECTION_STRING: emulator.connectionString,
          AZURE_TABLE_PREFIX: `t${randomUUID().replace(/-/g, '').slice(0, 20)}`,
          TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
        }
      : {};
  });
  afterEach(() => {
    storeEnv = {};
  });
}

describe.each(STORES)('two bot processes on $name', ({ azurite }) => {
  onStore(azurite);

  it('100 concurrent clicks on one request, spread over both, call the API exactly once', async () => {
    const [a, b] = [await bot(), await bot()];
    const clientA = teamsClient(a.url, connector.url);
    const clientB = teamsClient(b.url, connector.url);
    expect((await clientA.say(ALEX, 'elevate me in Contoso Dev')).status).toBe(200);
    const { requestId, messageId } = latestConfirmation(ALEX);

    const clicks = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        (i % 2 === 0 ? clientA : clientB).click(
          ALEX,
          'elevate',
          { requestId, justification: `race ${i}` },
          messageId,
        ),
      ),
    );
    expect(clicks.every((c) => c.status === 200 && c.body.statusCode === 200)).toBe(true);
    expect(applyAdminRoleCalls()).toBe(1);
    // Every click shows the request as it stands: executing or its outcome, never a second call.
    const texts = clicks.map((c) => cardText(cardOf(c.body)));
    expect(texts.every((t) => /Elevated|in progress/.test(t))).toBe(true);

    const store = await sharedStore();
    try {
      expect((await store.findRequest(requestId))?.state).toBe('succeeded');
      const events = await eventsOf(store, requestId);
      expect(events.filter((e) => e.type === 'confirmed')).toHaveLength(1);
      expect(events.filter((e) => e.type === 'executed')).toHaveLength(1);
      expect(verifyChain(await eventsOf(store), TENANT)).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
  });

  it('asking for one environment on both at once leaves one card usable: Elevate on all of them calls the API once', async () => {
    const [a, b] = [await bot(), await bot()];
    const clients = [teamsClient(a.url, connector.url), teamsClient(b.url, connector.url)];
    const before = connector.calls.length;
    const asked = await Promise.all(
      Array.from({ length: 8 }, (_, i) => clients[i % 2]!.say(ALEX, 'elevate me in Contoso Dev')),
    );
    expect(asked.every((r) => r.status === 200)).toBe(true);
    const cards = connector.calls
      .slice(before)
      .filter((c) => c.method === 'POST' && actionData(cardOf(c.activity), 'elevate'))
      .map((c) => ({
        requestId: actionData(cardOf(c.activity), 'elevate')!.requestId as string,
        messageId: c.assignedId!,
      }));
    expect(cards).toHaveLength(8);

    const store = await sharedStore();
    try {
      const open = await store.openRequestsOf(ALEX, WELL_KNOWN.contosoDev.id);
      expect(open).toHaveLength(1);
      const closed = await Promise.all(
        cards.filter((c) => c.requestId !== open[0]!.id).map((c) => store.findRequest(c.requestId)),
      );
      expect(closed.map((r) => [r?.state, r?.closedBecause?.kind])).toEqual(
        Array.from({ length: 7 }, () => ['cancelled', 'replaced']),
      );
      // Every card pressed at once, on both processes: one elevation.
      await Promise.all(
        cards.map((card, i) =>
          clients[(i + 1) % 2]!.click(
            ALEX,
            'elevate',
            { requestId: card.requestId, justification: `card ${i}` },
            card.messageId,
          ),
        ),
      );
      expect(applyAdminRoleCalls()).toBe(1);
      const events = await eventsOf(store);
      expect(events.filter((e) => e.type === 'cancelled')).toHaveLength(7);
      expect(verifyChain(events, TENANT)).toMatchObject({ ok: true });
    } finally {
      await store.close();
    }
  });

  it('200 requests from 50 users, over both processes, all complete', async () => {
    const [a, b] = [await bot(), await bot()];
    const clients = [teamsClient(a.url, connector.url), teamsClient(b.url, connector.url)];
    const users: ClientUser[] = Array.from({ length: 50 }, (_, i) => ({
      aadObjectId: randomUUID(),
      name: `Admin ${i}`,
      tenantId: TENANT,
    }));
    // Each user makes four requests one after another; the users go in parallel, each request
    // asked on one process and confirmed on the other.
    const requestIds = (
      await Promise.all(
        users.map(async (user, u) => {
          const ids: string[] = [];
          for (let r = 0; r < 4; r += 1) {
            const asking = clients[(u + r) % 2]!;
            const confirming = clients[(u + r + 1) % 2]!;
            expect((await asking.say(user, 'elevate me in Contoso Dev')).status).toBe(200);
            const { requestId, messageId } = latestConfirmation(user);
            const click = await confirming.click(
              user,
              'elevate',
              { requestId, justification: `load ${u}/${r}` },
              messageId,
            );
            // The outcome, or "in progress" when the store was slower than the invoke budget.
            expect(cardText(cardOf(click.body))).toMatch(/Elevated|in progress/);
            ids.push(requestId);
          }
          return ids;
        }),
      )
    ).flat();
    expect(new Set(requestIds).size).toBe(200);
    const store = await sharedStore();
    try {
      await waitFor(
        async () => {
          const states = await Promise.all(requestIds.map((id) => store.findRequest(id)));
          return states.every((r) => r?.state === 'succeeded') ? true : undefined;
        },
        'all 200 requests succeeded',
        60_000,
      );
      expect(applyAdminRoleCalls()).toBe(200);
      const chain = await eventsOf(store);
      expect(verifyChain(chain, TENANT)).toMatchObject({ ok: true });
      expect(chain.filter((e) => e.type === 'executed')).toHaveLength(200);
    } finally {
      await store.close();
    }
  });
});

describe.each(STORES)('a bot killed in the middle of an elevation, on $name', ({ azurite }) => {
  onStore(azurite);

  it('SIGKILL while the API holds the call, then a restart: the request is reconciled as unknown, nothing lost', async () => {
    const env = {
      POWERPLATFORM_ATTEMPT_TIMEOUT_MS: '2000',
      POWERPLATFORM_TOTAL_TIMEOUT_MS: '2000',
      INVOKE_BUDGET_MS: '300',
    };
    const first = await bot(env);
    const client = teamsClient(first.url, connector.url);
    await client.say(ALEX, 'elevate me in Contoso Dev');
    const { requestId, messageId } = latestConfirmation(ALEX);
    // The API takes the call and does not answer.
    simulator.override('delay-ms=60000', {
      operation: 'applyAdminRole',
      environmentId: WELL_KNOWN.contosoDev.id,
    });
    const click = await client.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-9 crash test' },
      messageId,
    );
    expect(cardText(cardOf(click.body))).toContain('in progress');
    const held = await waitFor(
      () => simulator.calls.find((c) => c.operation === 'applyAdminRole'),
      'the call held by the API',
    );
    await first.kill();
    processes.splice(processes.indexOf(first), 1);

    const store = await sharedStore();
    try {
      const left = await store.findRequest(requestId);
      expect(left?.state).toBe('executing');
      // Wait out the execution deadline (2 s API budget + 5 s margin), then start again.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, Date.parse(left!.executionDeadline!) - Date.now() + 200)),
      );
      const before = connector.calls.length;
      await bot(env);
      const reconciled = await waitFor(
        () =>
          connector.calls
            .slice(before)
            .find((c) => String(c.activity.text ?? '').includes('Client request id')),
        'the user told of the unknown outcome',
        20_000,
      );
      const clientRequestId = held.headers['x-ms-client-request-id']!;
      expect(String(reconciled.activity.text)).toContain('outcome unknown');
      expect(String(reconciled.activity.text)).toContain(clientRequestId);

      // The card stops offering Elevate, for everyone.
      const update = connector.calls
        .slice(before)
        .find((c) => c.method === 'PUT' && c.activityId === messageId);
      const card = cardOf(update!.activity);
      expect(cardText(card)).toContain('outcome unknown');
      expect(cardText(card)).toContain(clientRequestId);
      expect(actionData(card, 'elevate')).toBeUndefined();

      const request = await store.findRequest(requestId);
      expect(request?.state).toBe('failed');
      expect(request?.outcome).toMatchObject({ ok: false, kind: 'interrupted' });
      const events = await eventsOf(store, requestId);
      expect(events.map((e) => e.type)).toEqual(['requested', 'confirmed', 'executed']);
      expect(events[2]!.details).toMatchObject({ outcome: 'interrupted', clientRequestId });
      expect(verifyChain(await eventsOf(store), TENANT)).toMatchObject({ ok: true });
      // The API was called once, by the process that died; nobody called it again.
      expect(applyAdminRoleCalls()).toBe(1);
    } finally {
      await store.close();
    }
  });
});
