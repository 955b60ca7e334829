/**
 * Time-boxed elevation across real bot processes (the sandbox entry point, without the
 * Playground) on one store, one Power Platform simulator and one Dataverse simulator owned by the
 * test (SANDBOX_DATAVERSE_URL), so that every DELETE of every process is counted in one place.
 * The processes share TOKEN_CACHE_KEY: the refresh token one of them kept at the grant is
 * redeemed by whichever removes the role, at its own identity provider (they seal refresh tokens
 * with a key derived from it). The ends are real time: each elevation lasts one minute.
 *
 * The three scenarios of a store run at once (their waits overlap); each has its own simulators,
 * store and processes, so none sees another's calls.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadStorageConfig } from '../../src/config';
import { verifyChain } from '../../src/elevation/audit-chain';
import type { ElevationStore } from '../../src/elevation/ports';
import type { ElevationRequest } from '../../src/elevation/request';
import {
  type DataverseSimulator,
  startDataverseSimulatorFor,
} from '../../src/sandbox/dataverse-simulator';
import { SANDBOX_USERS } from '../../src/sandbox/directory';
import {
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
} from '../../src/sandbox/power-platform-simulator';
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
/** Four environments with Dataverse whose names match nothing else: one elevation of each user in each. */
const ENVIRONMENTS = [
  { name: 'Contoso Dev', org: 'contoso-dev' },
  { name: 'Contoso Prod', org: 'contoso' },
  { name: 'Litware Developer', org: 'litware-dev' },
  { name: 'Proseware Sandbox', org: 'proseware' },
];
/** Real minutes pass in every scenario (about three, more on a busy machine). */
const SCENARIO_TIMEOUT_MS = 360_000;

/** One scenario's own world: simulators, connector, store and the processes on it. */
interface World {
  simulator: PowerPlatformSimulator;
  dataverse: DataverseSimulator;
  connector: ConnectorStub;
  bot(env?: Record<string, string>): Promise<BotProcess>;
  /** The store the processes share, opened by the test to check what they wrote. */
  store: ElevationStore;
  close(): Promise<void>;
}

/**
 * Process starts one at a time: each transpiles the whole bot on load, and several at once on a
 * busy machine outlast the start timeout.
 */
let starting: Promise<unknown> = Promise.resolve();
function startOneAtATime(env: Record<string, string>): Promise<BotProcess> {
  const started = starting.then(() => startBotProcess(env));
  starting = started.catch(() => undefined);
  return started;
}

async function world(emulator: Azurite | undefined): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'time-box-instances-'));
  const simulator = await startPowerPlatformSimulator({ port: 0, host: '127.0.0.1' });
  const dataverse = await startDataverseSimulatorFor(simulator);
  const connector = await startConnectorStub();
  const storeEnv: Record<string, string> = emulator
    ? {
        STORAGE: 'azure-table',
        AZURE_STORAGE_CONNECTION_STRING: emulator.connectionString,
        AZURE_TABLE_PREFIX: `t${randomUUID().replace(/-/g, '').slice(0, 20)}`,
      }
    : { SQLITE_PATH: join(dir, 'bot.db') };
  // Shared by every process of the scenario: sign-ins and the refresh tokens kept for later.
  const tokenCacheKey = randomBytes(32).toString('base64');
  const processes: BotProcess[] = [];
  const store = await openStore(loadStorageConfig(storeEnv));
  return {
    simulator,
    dataverse,
    connector,
    store,
    async bot(env = {}) {
      const started = await startOneAtATime({
        ...storeEnv,
        TOKEN_CACHE_KEY: tokenCacheKey,
        POWERPLATFORM_API_URL: simulator.url,
        SANDBOX_DATAVERSE_URL: dataverse.url,
        ...env,
      });
      processes.push(started);
      return started;
    },
    async close() {
      for (const p of processes) await p.stop();
      await store.close();
      await dataverse.stop();
      await simulator.stop();
      await connector.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Asks for a one-minute elevation on `asking` and presses Elevate on `confirming`; its request id. */
async function elevateForOneMinute(
  w: World,
  asking: BotProcess,
  confirming: BotProcess,
  user: ClientUser,
  environment: string,
): Promise<string> {
  const conversation = `a:personal-${user.aadObjectId}`;
  const before = w.connector.calls.length;
  const asked = await teamsClient(asking.url, w.connector.url).say(
    user,
    `elevate me in ${environment} for 1m`,
  );
  expect(asked.status).toBe(200);
  const call = w.connector.calls
    .slice(before)
    .find(
      (c) =>
        c.conversationId === conversation &&
        c.method === 'POST' &&
        actionData(cardOf(c.activity), 'elevate') !== undefined,
    );
  if (!call) throw new Error(`no confirmation card for ${user.name} in ${environment}`);
  const requestId = actionData(cardOf(call.activity), 'elevate')!.requestId as string;
  const click = await teamsClient(confirming.url, w.connector.url).click(
    user,
    'elevate',
    { requestId, justification: `INC-13 ${environment}`, minutes: '1' },
    call.assignedId!,
  );
  // The outcome, or "in progress" when the store was slower than the invoke budget.
  expect(cardText(cardOf(click.body))).toMatch(/Elevated|in progress/);
  return requestId;
}

/** The request once its elevation succeeded with a time box. */
function granted(w: World, requestId: string): Promise<ElevationRequest> {
  return waitFor(
    async () => {
      const request = await w.store.findRequest(requestId);
      return request?.state === 'succeeded' && request.timeBox ? request : undefined;
    },
    `request ${requestId} granted`,
    30_000,
  );
}

async function auditOf(w: World, requestId?: string) {
  const events = await w.store.readAudit({ chain: TENANT, limit: 100_000 });
  return requestId ? events.filter((e) => e.requestId === requestId) : events;
}

/** What the user's personal chat was sent since `from` (cards as text, and plain text). */
function chatSince(w: World, user: ClientUser, from: number): string[] {
  return w.connector.calls
    .slice(from)
    .filter((c) => c.conversationId === `a:personal-${user.aadObjectId}` && c.method === 'POST')
    .map((c) => `${cardText(cardOf(c.activity))}\n${String(c.activity.text ?? '')}`);
}

const STORES = [
  { name: 'one SQLite file', azurite: false },
  { name: 'Azure Table Storage (Azurite)', azurite: true },
];

describe.each(STORES)('time-boxed elevation across bot processes on $name', ({ azurite }) => {
  let emulator: Azurite | undefined;
  beforeAll(async () => {
    if (azurite) emulator = await startAzurite();
  });
  afterAll(async () => {
    await emulator?.stop();
  });

  it.concurrent(
    'two processes: 200 one-minute elevations from 50 users are all removed, each with exactly one DELETE',
    async () => {
      const w = await world(emulator);
      try {
        const processes = [await w.bot(), await w.bot()];
        const users: ClientUser[] = Array.from({ length: 50 }, (_, i) => ({
          aadObjectId: randomUUID(),
          name: `Admin ${i}`,
          tenantId: TENANT,
        }));
        // Each user elevates in four environments one after another; the users go in parallel,
        // each request asked on one process and confirmed on the other.
        const elevations = (
          await Promise.all(
            users.map(async (user, u) => {
              const mine: Array<{ user: ClientUser; org: string; requestId: string }> = [];
              for (const [e, environment] of ENVIRONMENTS.entries()) {
                const requestId = await elevateForOneMinute(
                  w,
                  processes[(u + e) % 2]!,
                  processes[(u + e + 1) % 2]!,
                  user,
                  environment.name,
                );
                mine.push({ user, org: environment.org, requestId });
              }
              return mine;
            }),
          )
        ).flat();
        expect(new Set(elevations.map((e) => e.requestId)).size).toBe(200);
        for (const { requestId } of elevations) await granted(w, requestId);
        for (const { user, org } of elevations)
          expect(w.dataverse.holdsRole(org, user.aadObjectId)).toBe(true);

        // Each ends a minute after its grant; both processes' clocks look at least every 15 s.
        await waitFor(
          async () => {
            const requests = await Promise.all(
              elevations.map(({ requestId }) => w.store.findRequest(requestId)),
            );
            return requests.every((r) => r?.timeBox?.phase === 'removed') ? true : undefined;
          },
          'all 200 elevations removed',
          200_000,
        );

        const deletes = w.dataverse.deleteCalls();
        expect(deletes).toHaveLength(200);
        for (const { user, org } of elevations) {
          const own = deletes.filter((d) => d.oid === user.aadObjectId && d.org === org);
          expect(own.map((d) => d.status)).toEqual([204]);
          expect(w.dataverse.holdsRole(org, user.aadObjectId)).toBe(false);
        }
        // Nothing else went to Dataverse for a role: every DELETE was of one of these.
        expect(deletes.every((d) => ENVIRONMENTS.some((e) => e.org === d.org))).toBe(true);

        const chain = await auditOf(w);
        expect(verifyChain(chain, TENANT)).toMatchObject({ ok: true });
        const removed = chain.filter((e) => e.type === 'role-removed');
        expect(removed).toHaveLength(200);
        expect(new Set(removed.map((e) => e.requestId)).size).toBe(200);
        expect(chain.filter((e) => e.type === 'removal-attempted')).toHaveLength(200);
        // Every user is told of each of their four removals, once.
        const toldOf = (user: ClientUser) =>
          chatSince(w, user, 0).filter((t) => t.includes('System Administrator removed in'));
        await waitFor(
          () => (users.every((user) => toldOf(user).length >= 4) ? true : undefined),
          'every user told of their four removals',
        );
        for (const user of users) expect(toldOf(user)).toHaveLength(4);
      } finally {
        await w.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  it.concurrent(
    'SIGKILL while a DELETE hangs, then a new process: it redoes the removal when the lease runs out, one 204, the user told how late, the chain intact',
    async () => {
      const w = await world(emulator);
      try {
        // A lease longer than the default, to show the setting reaches the process; past a
        // minute, so that the card says how late.
        const env = { ELEVATION_REMOVAL_LEASE_SECONDS: '75' };
        const first = await w.bot(env);
        const requestId = await elevateForOneMinute(w, first, first, ALEX, 'Contoso Dev');
        await granted(w, requestId);
        // The first DELETE is taken and never answered; the process dies while it waits.
        w.dataverse.setRemovalBehavior('contoso-dev', ALEX.aadObjectId, {
          kind: 'timeout',
          times: 1,
        });
        await waitFor(
          () => w.dataverse.deleteCalls(ALEX.aadObjectId)[0],
          'the DELETE held by Dataverse',
          90_000,
        );
        await first.kill();

        const left = await w.store.findRequest(requestId);
        expect(left?.timeBox).toMatchObject({ phase: 'removing', attempts: 1 });
        expect(w.dataverse.holdsRole('contoso-dev', ALEX.aadObjectId)).toBe(true);
        const leaseUntil = Date.parse(left!.timeBox!.leaseUntil!);
        expect(leaseUntil - Date.parse(left!.timeBox!.endsAt)).toBeGreaterThanOrEqual(75_000);

        const chatFrom = w.connector.calls.length;
        await w.bot(env);
        const removed = await waitFor(
          async () => {
            const request = await w.store.findRequest(requestId);
            return request?.timeBox?.phase === 'removed' ? request : undefined;
          },
          'the removal redone after the lease',
          120_000,
        );
        // The hanging DELETE never reached 204; the redone one did, once.
        const deletes = w.dataverse.deleteCalls(ALEX.aadObjectId);
        expect(deletes.map((d) => d.status)).toEqual([undefined, 204]);
        expect(deletes[1]!.at).toBeGreaterThanOrEqual(leaseUntil);
        expect(w.dataverse.holdsRole('contoso-dev', ALEX.aadObjectId)).toBe(false);
        expect(removed.timeBox?.attempts).toBe(2);

        const told = await waitFor(
          () =>
            chatSince(w, ALEX, chatFrom).find((t) =>
              t.includes('System Administrator removed in Contoso Dev'),
            ),
          'the user told of the removal',
        );
        expect(told).toMatch(/Late by\s+1 minute/);

        const events = await auditOf(w, requestId);
        const ending = events.filter(
          (e) => e.type.startsWith('removal') || e.type === 'role-removed',
        );
        expect(ending.map((e) => [e.type, e.details?.attempt])).toEqual([
          ['removal-attempted', 1],
          ['removal-attempted', 2],
          ['role-removed', 2],
        ]);
        expect(ending[2]!.details?.lateMs).toBeGreaterThanOrEqual(75_000);
        expect(verifyChain(await auditOf(w), TENANT)).toMatchObject({ ok: true });
      } finally {
        await w.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );

  it.concurrent(
    'a bot that was down at the end removes on start and says how late',
    async () => {
      const w = await world(emulator);
      try {
        const only = await w.bot();
        const requestId = await elevateForOneMinute(w, only, only, ALEX, 'Contoso Dev');
        const { timeBox } = await granted(w, requestId);
        await only.stop();
        // Down at the end, and for more than a minute after it.
        const endsAt = Date.parse(timeBox!.endsAt);
        await new Promise((resolve) => setTimeout(resolve, endsAt + 65_000 - Date.now()));
        expect(w.dataverse.deleteCalls()).toHaveLength(0);
        expect((await w.store.findRequest(requestId))?.timeBox?.phase).toBe('active');

        const chatFrom = w.connector.calls.length;
        const startedAt = Date.now();
        const again = await w.bot();
        // At start (its clock runs once as the bot starts); on a loaded machine the start itself
        // can take a while, so the wait is generous rather than a timing claim.
        const removal = await waitFor(
          () => w.dataverse.deleteCalls(ALEX.aadObjectId)[0],
          'the removal at start',
          45_000,
        ).catch(async (error: Error) => {
          // What the store and the process say, so that a failure here can be understood.
          const events = (await auditOf(w, requestId)).map((e) => [e.type, e.details]);
          throw new Error(
            `${error.message}\naudit: ${JSON.stringify(events)}\nbot: ${again.output()}`,
          );
        });
        expect(removal.at).toBeGreaterThanOrEqual(startedAt);
        const told = await waitFor(
          () =>
            chatSince(w, ALEX, chatFrom).find((t) =>
              t.includes('System Administrator removed in Contoso Dev'),
            ),
          'the user told of the removal',
        );
        expect(told).toMatch(/Late by\s+1 minute/);
        expect(w.dataverse.deleteCalls().map((d) => d.status)).toEqual([204]);
        expect(w.dataverse.holdsRole('contoso-dev', ALEX.aadObjectId)).toBe(false);

        const events = await auditOf(w, requestId);
        const removed = events.find((e) => e.type === 'role-removed');
        expect(removed?.details?.lateMs).toBeGreaterThanOrEqual(65_000);
        expect(
          events.find((e) => e.type === 'removal-attempted')?.details?.lateMs,
        ).toBeGreaterThanOrEqual(65_000);
        expect(verifyChain(await auditOf(w), TENANT)).toMatchObject({ ok: true });
      } finally {
        await w.close();
      }
    },
    SCENARIO_TIMEOUT_MS,
  );
});
