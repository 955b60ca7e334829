/**
 * Removing System Administrator at the end of a time-boxed elevation, over real HTTP: the real
 * HttpClient and DataverseClient against the Dataverse simulator, the role granted first through
 * the simulated Power Platform API. One row per RemovalResult outcome, each checked with what the
 * simulator saw (DELETEs) and with the role check afterwards.
 */
import { createServer } from 'node:net';

import type { RemovalResult } from '../../../src/elevation/vocabulary';
import { HttpClient } from '../../../src/http/http-client';
import { DataverseClient } from '../../../src/powerplatform/dataverse-client';
import { PowerPlatformClient } from '../../../src/powerplatform/power-platform-client';
import type { RemovalBehavior } from '../../../src/sandbox/dataverse-removal-behavior';
import {
  type DataverseSimulator,
  startDataverseSimulatorFor,
  systemAdministratorRoleId,
} from '../../../src/sandbox/dataverse-simulator';
import {
  guidFrom,
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../../src/sandbox/power-platform-simulator';
import { startTinyServer } from './tiny-server';
import { userToken } from './tokens';

const INSTANCE = 'https://contoso-dev.crm.dynamics.com';
const ORG = 'contoso-dev';
/** As app.ts configures it, but shorter, so that the timeout row stays quick. */
const HTTP = { attemptTimeoutMs: 800, totalTimeoutMs: 3_000, maxAttempts: 3, baseDelayMs: 20 };

let powerPlatform: PowerPlatformSimulator;
let dataverse: DataverseSimulator;
let client: DataverseClient;

beforeAll(async () => {
  powerPlatform = await startPowerPlatformSimulator();
  dataverse = await startDataverseSimulatorFor(powerPlatform);
  client = new DataverseClient({
    http: new HttpClient(HTTP),
    rewriteInstanceUrl: dataverse.instanceUrlFor,
  });
});
afterAll(async () => {
  await dataverse.stop();
  await powerPlatform.stop();
});

/** A user of their own per test, so that grants and removals of one row never meet another's. */
function userNamed(name: string) {
  const oid = guidFrom(`removal-test:${name}`);
  return {
    oid,
    powerPlatformToken: userToken({ oid }),
    dataverseToken: userToken({ oid, aud: INSTANCE }),
  };
}
type User = ReturnType<typeof userNamed>;

async function grant(user: User): Promise<void> {
  const api = new PowerPlatformClient({ baseUrl: powerPlatform.url, http: new HttpClient() });
  const outcome = await api.applyAdminRole(user.powerPlatformToken, WELL_KNOWN.contosoDev.id);
  expect(outcome.ok).toBe(true);
}

async function holds(user: User): Promise<boolean> {
  const lookup = await client.holdsSystemAdministrator(user.dataverseToken, INSTANCE);
  if (!lookup.ok) throw new Error(lookup.message);
  return lookup.holdsSystemAdministrator;
}

interface RemovalCase {
  name: string;
  /** What happens before the removal; the DELETEs it makes are not counted. */
  arrange: (user: User) => Promise<void>;
  behavior?: RemovalBehavior;
  expected: Partial<RemovalResult> & Pick<RemovalResult, 'kind'>;
  /** The status, or none when no response arrived. */
  status: number | undefined;
  deletes: number;
  holdsAfter: boolean;
  check?: (result: RemovalResult, user: User) => void;
}

const cases: RemovalCase[] = [
  {
    name: 'removed: the DELETE answers 204',
    arrange: grant,
    expected: { kind: 'removed' },
    status: 204,
    deletes: 1,
    holdsAfter: false,
  },
  {
    name: 'removed in every business unit the user holds it in',
    arrange: async (user) => dataverse.holdRole(ORG, user.oid, 2),
    expected: { kind: 'removed' },
    status: 204,
    deletes: 2,
    holdsAfter: false,
  },
  {
    name: 'already gone: the role look-up lists no System Administrator role',
    arrange: async (user) => {
      await grant(user);
      await client.removeSystemAdministrator(user.dataverseToken, INSTANCE);
    },
    expected: {
      kind: 'already-gone',
      detail: 'the user holds no System Administrator role in this environment',
    },
    status: 200,
    deletes: 0,
    holdsAfter: false,
  },
  {
    name: 'already gone: Dataverse says the user is not a member of the organization',
    arrange: async () => undefined,
    expected: { kind: 'already-gone' },
    status: 403,
    deletes: 0,
    holdsAfter: false,
    check: (result) =>
      expect(result.kind === 'already-gone' && result.detail).toMatch(/^WhoAmI .*not a member/),
  },
  {
    name: 'already gone: removed by someone else between the look-up and the DELETE (404)',
    arrange: grant,
    behavior: { kind: 'not-found', times: 1 },
    expected: { kind: 'already-gone', detail: expect.stringContaining('404') as string },
    status: 404,
    deletes: 1,
    holdsAfter: false,
  },
  {
    name: "refused: 403 with Dataverse's own reason, not retried",
    arrange: grant,
    behavior: 'forbidden',
    expected: {
      kind: 'refused',
      message: expect.stringContaining('prvDisassociateRole') as string,
    },
    status: 403,
    deletes: 1,
    holdsAfter: true,
    check: (result, user) => {
      expect(JSON.stringify(result)).not.toContain(user.dataverseToken);
      expect(JSON.stringify(result)).toContain('is missing');
    },
  },
  {
    name: 'throttled: 429 with a Retry-After longer than the client waits, given back in ms',
    arrange: grant,
    behavior: { kind: 'throttled', retryAfterSeconds: 30 },
    expected: { kind: 'unavailable', retryAfterMs: 30_000 },
    status: 429,
    deletes: 1,
    holdsAfter: true,
    check: (result) =>
      expect(result.kind === 'unavailable' && result.message).toContain('Number of requests'),
  },
  {
    name: 'throttled once: the DELETE is sent again after Retry-After, and removes',
    arrange: grant,
    behavior: { kind: 'throttled', retryAfterSeconds: 1, times: 1 },
    expected: { kind: 'removed' },
    status: 204,
    deletes: 2,
    holdsAfter: false,
    check: (_result, user) => {
      const [first, second] = dataverse.deleteCalls(user.oid);
      expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    },
  },
  {
    name: "unavailable: 503 on every attempt the client's policy allows",
    arrange: grant,
    behavior: 'unavailable',
    expected: { kind: 'unavailable' },
    status: 503,
    deletes: HTTP.maxAttempts,
    holdsAfter: true,
    check: (result) => expect(result).not.toHaveProperty('retryAfterMs'),
  },
  {
    name: 'unavailable: 503 with a Retry-After, given back in ms',
    arrange: grant,
    behavior: { kind: 'unavailable', retryAfterSeconds: 60 },
    expected: { kind: 'unavailable', retryAfterMs: 60_000 },
    status: 503,
    deletes: 1,
    holdsAfter: true,
  },
  {
    name: 'unavailable: the DELETE is never answered (timeout)',
    arrange: grant,
    behavior: 'timeout',
    expected: { kind: 'unavailable', message: expect.stringMatching(/^No response/) as string },
    status: undefined,
    deletes: HTTP.maxAttempts,
    holdsAfter: true,
  },
];

describe('removing System Administrator through the Dataverse Web API', () => {
  it.each(cases)('$name', async (c) => {
    const user = userNamed(c.name);
    await c.arrange(user);
    const before = dataverse.calls.length;
    dataverse.setRemovalBehavior(ORG, user.oid, c.behavior);

    const result = await client.removeSystemAdministrator(user.dataverseToken, INSTANCE);
    dataverse.setRemovalBehavior(ORG, user.oid, undefined);

    expect(result).toMatchObject(c.expected);
    expect(result.status).toBe(c.status);
    const seen = dataverse.calls.slice(before);
    if (c.status === undefined) {
      expect(result.requestId).toBeUndefined();
    } else {
      // Dataverse's id of the last response, the one that decided.
      const answered = seen.filter((call) => call.status !== undefined);
      expect(result.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(result.requestId).toBe(answered[answered.length - 1]!.requestId);
    }
    expect(seen.filter((call) => call.method === 'DELETE')).toHaveLength(c.deletes);
    expect(await holds(user)).toBe(c.holdsAfter);
    c.check?.(result, user);
  });

  it('unavailable: no connection (a closed port), no DELETE reaches anyone', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    const nowhere = new DataverseClient({
      http: new HttpClient(HTTP),
      rewriteInstanceUrl: () => `http://127.0.0.1:${closedPort}/${ORG}`,
    });
    const user = userNamed('closed port');
    await grant(user);
    const before = dataverse.calls.length;

    const result = await nowhere.removeSystemAdministrator(user.dataverseToken, INSTANCE);

    expect(result).toMatchObject({
      kind: 'unavailable',
      message: expect.stringContaining('ECONNREFUSED'),
    });
    expect(result.status).toBeUndefined();
    expect(result.requestId).toBeUndefined();
    expect(dataverse.calls.length).toBe(before);
    expect(await holds(user)).toBe(true);
  });

  it('a role listed without a readable id is not reported gone, and nothing is deleted', async () => {
    const server = await startTinyServer((req, res) => {
      const body = req.url?.includes('WhoAmI')
        ? { UserId: guidFrom('tiny-server user') }
        : { value: [{ name: 'System Administrator' }] };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    });
    try {
      const odd = new DataverseClient({
        http: new HttpClient(HTTP),
        rewriteInstanceUrl: () => `${server.url}/${ORG}`,
      });
      const result = await odd.removeSystemAdministrator(userNamed('odd').dataverseToken, INSTANCE);
      expect(result).toMatchObject({ kind: 'unavailable', status: 200 });
      expect(server.requests).toHaveLength(2);
    } finally {
      await server.stop();
    }
  });

  it('a new grant after a removal grants again, and that role is removed again', async () => {
    const user = userNamed('granted twice');
    await grant(user);
    expect(await client.removeSystemAdministrator(user.dataverseToken, INSTANCE)).toMatchObject({
      kind: 'removed',
    });
    expect(await holds(user)).toBe(false);

    await grant(user);
    expect(await holds(user)).toBe(true);
    expect(await client.removeSystemAdministrator(user.dataverseToken, INSTANCE)).toMatchObject({
      kind: 'removed',
      status: 204,
    });
    expect(await holds(user)).toBe(false);
    expect(dataverse.deleteCalls(user.oid).map((call) => call.status)).toEqual([204, 204]);
  });

  it('a second DELETE of the same association answers 404', async () => {
    const user = userNamed('deleted twice');
    await grant(user);
    await client.removeSystemAdministrator(user.dataverseToken, INSTANCE);
    const [removal] = dataverse.deleteCalls(user.oid);
    const again = await fetch(`${dataverse.url}/${ORG}/api/data/v9.2/${removal!.path}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${user.dataverseToken}` },
    });
    expect(again.status).toBe(404);
    expect(removal!.path).toContain(`(${systemAdministratorRoleId(ORG)})/$ref`);
  });

  it('an abandoned removal comes back as unavailable, not as an exception', async () => {
    const user = userNamed('abandoned');
    await grant(user);
    dataverse.setRemovalBehavior(ORG, user.oid, 'timeout');
    const controller = new AbortController();
    const removal = client.removeSystemAdministrator(
      user.dataverseToken,
      INSTANCE,
      controller.signal,
    );
    // Abandon it once the DELETE has arrived and hangs.
    while (dataverse.deleteCalls(user.oid).length === 0)
      await new Promise((r) => setTimeout(r, 10));
    controller.abort();
    const result = await removal;
    dataverse.setRemovalBehavior(ORG, user.oid, undefined);
    expect(result).toMatchObject({
      kind: 'unavailable',
      message: expect.stringContaining('abandoned'),
    });
    expect(dataverse.deleteCalls(user.oid)).toHaveLength(1);
    expect(await holds(user)).toBe(true);
  });

  it('stop() closes the simulator while a DELETE hangs unanswered', async () => {
    const own = await startDataverseSimulatorFor(powerPlatform);
    const user = userNamed('hanging at stop');
    await grant(user);
    own.setRemovalBehavior('*', user.oid, 'timeout');
    const patient = new DataverseClient({
      http: new HttpClient({ attemptTimeoutMs: 60_000, totalTimeoutMs: 60_000, maxAttempts: 1 }),
      rewriteInstanceUrl: own.instanceUrlFor,
    });
    const removal = patient.removeSystemAdministrator(user.dataverseToken, INSTANCE);
    while (own.deleteCalls(user.oid).length === 0) await new Promise((r) => setTimeout(r, 10));

    await own.stop();

    // The socket was closed under the waiting client: no response, nothing removed.
    const result = await removal;
    expect(result).toMatchObject({ kind: 'unavailable' });
    expect(result.status).toBeUndefined();
  });
});
