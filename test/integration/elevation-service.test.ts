/**
 * ElevationService's state machine, driven through the service itself: every transition of a
 * request (requested, executing, succeeded, failed, cancelled, expired) and every refusal, with the
 * real SQLite store on a temporary file, the simulated Power Platform API over HTTP, and the
 * production sign-in code against the local identity provider. No bot, no Teams: only the use cases.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElevationService } from '../../src/elevation/elevation-service';
import type { AuditEvent, ElevationStore } from '../../src/elevation/ports';
import type { Requester } from '../../src/elevation/request';
import { HttpClient } from '../../src/http/http-client';
import { silentLogger } from '../../src/log';
import { PowerPlatformClient } from '../../src/powerplatform/power-platform-client';
import { SANDBOX_TENANT_ID, SANDBOX_USERS } from '../../src/sandbox/directory';
import {
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../src/sandbox/power-platform-simulator';
import { type SandboxIdentity, startSandboxIdentity } from '../../src/sandbox/sandbox-sign-in';
import { openStore } from '../../src/store/open-store';
import { TestClock } from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const MINUTE = 60_000;
const TTL_MINUTES = 10;
/** The longest an execution may take before it is reconciled as "outcome unknown". */
const EXECUTION_LEASE_MS = 2 * MINUTE;

function requester(name: string): Requester {
  const user = SANDBOX_USERS.find((u) => u.name === name);
  if (!user) throw new Error(`no sandbox user ${name}`);
  return { aadObjectId: user.oid, tenantId: SANDBOX_TENANT_ID, name: user.name, upn: user.upn };
}

/** A Power Platform administrator. */
const ALEX = requester('Alex Wilber');
/** A Global Administrator, another person in the same tenant. */
const MEGAN = requester('Megan Bowen');
/** Holds no tenant admin role. */
const ISAIAH = requester('Isaiah Langer');

let dir: string;
let store: ElevationStore;
let simulator: PowerPlatformSimulator;
let identity: SandboxIdentity;
let clock: TestClock;
let service: ElevationService;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'elevation-service-'));
  store = await openStore({ kind: 'sqlite', path: join(dir, 'service.db') });
  simulator = await startPowerPlatformSimulator({ port: 0, host: '127.0.0.1' });
  identity = await startSandboxIdentity({
    powerPlatformApiUrl: simulator.url,
    allowedTenantIds: [SANDBOX_TENANT_ID],
    logger: silentLogger,
    store,
  });
  clock = new TestClock();
  service = new ElevationService({
    store,
    powerPlatform: new PowerPlatformClient({
      baseUrl: simulator.url,
      http: new HttpClient({ baseDelayMs: 1, maxDelayMs: 1 }),
    }),
    tokens: identity.signIn,
    clock,
    logger: silentLogger,
    requestTtlMinutes: TTL_MINUTES,
    justificationRequired: true,
    environmentCacheSeconds: 60,
    executionLeaseMs: EXECUTION_LEASE_MS,
  });
});

afterEach(async () => {
  await store.close();
  await identity.stop();
  await simulator.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Opens a request for `who` in the environment named `name`; fails the test otherwise. */
async function open(who: Requester, name: string) {
  const result = await service.requestElevation(who, name);
  if (result.kind !== 'confirm') throw new Error(`expected a card, got ${result.kind}`);
  return result;
}

async function stateOf(requestId: string) {
  return (await store.findRequest(requestId))?.state;
}

/** The audit events of one request, oldest first, as type and (for refusals) reason. */
async function auditOf(requestId: string): Promise<string[]> {
  const events = await store.readAudit({ chain: SANDBOX_TENANT_ID.toLowerCase(), limit: 1000 });
  return events.filter((event) => event.requestId === requestId).map(describeEvent);
}

async function refusalsBy(actor: Requester): Promise<string[]> {
  const events = await store.readAudit({ chain: SANDBOX_TENANT_ID.toLowerCase(), limit: 1000 });
  return events
    .filter((event) => event.type === 'refused' && event.actor === actor.aadObjectId)
    .map(describeEvent);
}

function describeEvent(event: AuditEvent): string {
  const reason = event.details?.['reason'];
  return typeof reason === 'string' ? `${event.type}:${reason}` : event.type;
}

function applyCalls(): number {
  return simulator.calls.filter((call) => call.operation === 'applyAdminRole').length;
}

describe('requested', () => {
  it('a request for a named environment waits for confirmation, audited, nothing called yet', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    expect(request.environment.id).toBe(WELL_KNOWN.contosoDev.id);
    expect(await stateOf(request.id)).toBe('requested');
    expect(await auditOf(request.id)).toEqual(['requested']);
    expect(applyCalls()).toBe(0);
  });

  it('a newer request for the same environment cancels the older one, which then calls nothing', async () => {
    const first = await open(ALEX, 'Contoso Dev');
    const second = await open(ALEX, 'Contoso Dev');
    expect(second.replaced.map((r) => r.id)).toEqual([first.request.id]);
    const older = await store.findRequest(first.request.id);
    expect(older).toMatchObject({
      state: 'cancelled',
      closedBecause: { kind: 'replaced', by: second.request.id },
    });
    expect(await auditOf(first.request.id)).toEqual(['requested', 'cancelled:replaced']);

    const late = await service.confirmElevation({
      requestId: first.request.id,
      clicker: ALEX,
      justification: 'INC-1',
    });
    expect(late.kind).toBe('already-handled');
    expect(applyCalls()).toBe(0);
  });

  it('no request opens in an environment without Dataverse or in a disabled one', async () => {
    expect((await service.requestElevation(ALEX, WELL_KNOWN.noDataverse.displayName)).kind).toBe(
      'no-dataverse',
    );
    expect((await service.requestElevation(ALEX, WELL_KNOWN.disabled.displayName)).kind).toBe(
      'environment-disabled',
    );
  });

  it('someone without a tenant admin role is refused before any API call, and it is audited', async () => {
    const result = await service.requestElevation(ISAIAH, 'Contoso Dev');
    expect(result).toMatchObject({ kind: 'no-token', reason: 'not-tenant-admin' });
    expect(simulator.calls).toHaveLength(0);
    expect(await refusalsBy(ISAIAH)).toEqual(['refused:not-tenant-admin']);
  });
});

describe('requested -> executing -> succeeded', () => {
  it('the requester confirms: the API is called once, as them, and the outcome is recorded', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    const result = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'INC-4711 outage',
    });
    expect(result.kind).toBe('executed');
    const stored = await store.findRequest(request.id);
    expect(stored).toMatchObject({
      state: 'succeeded',
      justification: 'INC-4711 outage',
      outcome: { ok: true },
    });
    expect(stored?.clientRequestId).toEqual(expect.any(String));
    expect(simulator.grants).toEqual([
      expect.objectContaining({
        environmentId: WELL_KNOWN.contosoDev.id,
        oid: ALEX.aadObjectId,
      }),
    ]);
    expect(await auditOf(request.id)).toEqual(['requested', 'confirmed', 'executed']);
  });

  it('a second confirmation, or many at once, execute nothing again', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    const confirm = () =>
      service.confirmElevation({ requestId: request.id, clicker: ALEX, justification: 'INC-1' });
    const results = await Promise.all([confirm(), confirm(), confirm(), confirm(), confirm()]);
    expect(results.filter((r) => r.kind === 'executed')).toHaveLength(1);
    expect(results.filter((r) => r.kind === 'already-handled')).toHaveLength(4);
    expect((await confirm()).kind).toBe('already-handled');
    expect(applyCalls()).toBe(1);
    expect(await auditOf(request.id)).toEqual(['requested', 'confirmed', 'executed']);
  });
});

describe('requested -> executing -> failed', () => {
  it('an API refusal is recorded as a failure with its kind and correlation id', async () => {
    const { request } = await open(ALEX, WELL_KNOWN.missingPermission.displayName);
    const result = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'INC-2',
    });
    expect(result.kind).toBe('executed');
    const stored = await store.findRequest(request.id);
    expect(stored).toMatchObject({
      state: 'failed',
      outcome: { ok: false, kind: 'permission-missing', response: { status: 403 } },
    });
    expect(stored?.outcome?.response.correlationId).toEqual(expect.any(String));
    expect(simulator.grants).toHaveLength(0);
    expect(await auditOf(request.id)).toEqual(['requested', 'confirmed', 'executed']);
  });

  it('an execution a stopped process left behind is reconciled as failed, outcome unknown', async () => {
    // The API does not answer: the call is in flight while the lease runs out.
    simulator.override('delay-ms=60000', { operation: 'applyAdminRole' });
    const slowService = new ElevationService({
      store,
      powerPlatform: new PowerPlatformClient({
        baseUrl: simulator.url,
        http: new HttpClient({ attemptTimeoutMs: 1_000, totalTimeoutMs: 1_000, maxAttempts: 1 }),
      }),
      tokens: identity.signIn,
      clock,
      logger: silentLogger,
      requestTtlMinutes: TTL_MINUTES,
      justificationRequired: true,
      environmentCacheSeconds: 60,
      executionLeaseMs: EXECUTION_LEASE_MS,
    });
    const { request } = await open(ALEX, 'Contoso Dev');
    const running = slowService.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'INC-3',
    });
    await waitFor(
      async () => ((await stateOf(request.id)) === 'executing' ? true : undefined),
      'the request to be executing',
    );

    expect(await service.reconcileAbandoned()).toEqual([]);
    clock.advance(EXECUTION_LEASE_MS + 1);
    const reconciled = await service.reconcileAbandoned();
    expect(reconciled.map((r) => r.id)).toEqual([request.id]);
    expect(await store.findRequest(request.id)).toMatchObject({
      state: 'failed',
      outcome: { ok: false, kind: 'interrupted' },
    });

    // The call that was in flight ends later: it cannot move the request again, only audit it.
    await running;
    expect(await stateOf(request.id)).toBe('failed');
    expect((await store.findRequest(request.id))?.outcome).toMatchObject({ kind: 'interrupted' });
    expect(await auditOf(request.id)).toEqual(['requested', 'confirmed', 'executed', 'executed']);
  });
});

describe('requested -> cancelled', () => {
  it('the requester cancels: audited, and a later confirmation calls nothing', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    const result = await service.cancelElevation({ requestId: request.id, clicker: ALEX });
    expect(result.kind).toBe('cancelled');
    expect(await stateOf(request.id)).toBe('cancelled');
    expect(await auditOf(request.id)).toEqual(['requested', 'cancelled']);

    expect((await service.cancelElevation({ requestId: request.id, clicker: ALEX })).kind).toBe(
      'already-handled',
    );
    const late = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'INC-4',
    });
    expect(late.kind).toBe('already-handled');
    expect(applyCalls()).toBe(0);
  });

  it('an executed request can no longer be cancelled', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    await service.confirmElevation({ requestId: request.id, clicker: ALEX, justification: 'x' });
    const result = await service.cancelElevation({ requestId: request.id, clicker: ALEX });
    expect(result).toMatchObject({ kind: 'already-handled', request: { state: 'succeeded' } });
  });
});

describe('requested -> expired', () => {
  it('the sweep expires requests whose time is up, and only those', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    expect(await service.expireDue()).toEqual([]);
    clock.advance(TTL_MINUTES * MINUTE + 1);
    const expired = await service.expireDue();
    expect(expired.map((r) => r.id)).toEqual([request.id]);
    expect(await stateOf(request.id)).toBe('expired');
    expect(await auditOf(request.id)).toEqual(['requested', 'expired']);

    const late = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'INC-5',
    });
    expect(late.kind).toBe('already-handled');
    expect(applyCalls()).toBe(0);
  });

  it('a confirmation after the time is up expires the request instead of executing it', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    clock.advance(TTL_MINUTES * MINUTE + 1);
    const result = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'INC-6',
    });
    expect(result).toMatchObject({ kind: 'expired', request: { state: 'expired' } });
    expect(await auditOf(request.id)).toEqual(['requested', 'expired']);
    expect(applyCalls()).toBe(0);
  });
});

describe('refusals leave the request as it was', () => {
  it('someone other than the requester can neither confirm nor cancel, and each try is audited', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    const confirm = await service.confirmElevation({
      requestId: request.id,
      clicker: MEGAN,
      justification: 'mine now',
    });
    expect(confirm.kind).toBe('not-requester');
    const cancel = await service.cancelElevation({ requestId: request.id, clicker: MEGAN });
    expect(cancel.kind).toBe('not-requester');
    expect(await stateOf(request.id)).toBe('requested');
    expect(await refusalsBy(MEGAN)).toEqual(['refused:not-requester', 'refused:not-requester']);
    expect(applyCalls()).toBe(0);
  });

  it('a missing or too long justification is refused, and the card can still be confirmed', async () => {
    const { request } = await open(ALEX, 'Contoso Dev');
    const empty = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: '   ',
    });
    expect(empty.kind).toBe('justification-required');
    const long = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'x'.repeat(501),
    });
    expect(long.kind).toBe('justification-required');
    expect(await stateOf(request.id)).toBe('requested');
    expect(applyCalls()).toBe(0);

    const result = await service.confirmElevation({
      requestId: request.id,
      clicker: ALEX,
      justification: 'x'.repeat(500),
    });
    expect(result.kind).toBe('executed');
  });

  it('an unknown request id is answered as such', async () => {
    expect(
      (await service.confirmElevation({ requestId: 'no-such-request', clicker: ALEX })).kind,
    ).toBe('unknown-request');
    expect(
      (await service.cancelElevation({ requestId: 'no-such-request', clicker: ALEX })).kind,
    ).toBe('unknown-request');
  });
});
