import { HttpClient, HttpClientOptions } from '../../../src/http/http-client';
import { createLogger } from '../../../src/log';
import { PowerPlatformClient } from '../../../src/powerplatform/power-platform-client';
import {
  PowerPlatformSimulator,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../../src/sandbox/power-platform-simulator';
import { startTinyServer } from './tiny-server';
import { captureLogs, userToken } from './tokens';

const token = userToken();
const DEV = WELL_KNOWN.contosoDev.id;

describe('retries, timeouts and client request ids, over real HTTP', () => {
  let sim: PowerPlatformSimulator;
  beforeAll(async () => {
    sim = await startPowerPlatformSimulator();
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    sim.calls.length = 0;
    sim.clearOverrides();
  });

  const client = (options: HttpClientOptions = {}) =>
    new PowerPlatformClient({
      baseUrl: sim.url,
      http: new HttpClient({ baseDelayMs: 20, ...options }),
    });
  const applyUrl = () =>
    `${sim.url}/usermanagement/environments/${DEV}/user/applyAdminRole?api-version=2024-10-01`;
  const gapMs = (a = 0, b = 1) =>
    Date.parse(sim.calls[b]?.time ?? '') - Date.parse(sim.calls[a]?.time ?? '');

  it('retries a 503 once and then succeeds, with the same client request id on both attempts', async () => {
    sim.override('status=503;times=1', { environmentId: DEV });
    const outcome = await client().applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({ ok: true, response: { attempts: 2, status: 200 } });
    expect(sim.calls.map((call) => call.status)).toEqual([503, 200]);
    const ids = sim.calls.map((call) => call.headers['x-ms-client-request-id']);
    expect(ids[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(ids[1]).toBe(ids[0]);
    expect(outcome.response.clientRequestId).toBe(ids[0]);
    // Each attempt got its own correlation id; the outcome carries the last one.
    expect(sim.calls[0]?.correlationId).not.toBe(sim.calls[1]?.correlationId);
    expect(outcome.response.correlationId).toBe(sim.calls[1]?.correlationId);
  });

  it('the x-sim-behavior header counts "times" per client request id', async () => {
    const http = new HttpClient({ baseDelayMs: 5 });
    const headers = { authorization: `Bearer ${token}`, 'x-sim-behavior': 'status=502;times=2' };
    const first = await http.request({ method: 'POST', url: applyUrl(), headers });
    const second = await http.request({ method: 'POST', url: applyUrl(), headers });
    expect(first).toMatchObject({ kind: 'response', status: 200, attempts: 3 });
    expect(second).toMatchObject({ kind: 'response', status: 200, attempts: 3 });
    expect(sim.calls.map((call) => call.status)).toEqual([502, 502, 200, 502, 502, 200]);
  });

  it('waits as long as a 429 Retry-After in seconds asks', async () => {
    sim.override('status=429;retry-after=1;times=1');
    const outcome = await client().applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({ ok: true, response: { attempts: 2 } });
    expect(gapMs()).toBeGreaterThanOrEqual(950);
  });

  it('waits until a Retry-After HTTP date', async () => {
    // Whole seconds only: two seconds ahead is at least one second of wait.
    const at = new Date(Date.now() + 2000).toUTCString();
    sim.override(`status=503;retry-after=${at};times=1`);
    const outcome = await client().applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({ ok: true, response: { attempts: 2 } });
    expect(gapMs()).toBeGreaterThanOrEqual(950);
  });

  it('does not retry when Retry-After is beyond the cap, and reports it', async () => {
    sim.override('status=429;retry-after=120');
    const outcome = await client({ maxRetryAfterMs: 5000 }).applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'throttled',
      response: { attempts: 1, retryAfterMs: 120_000 },
    });
    expect(sim.calls).toHaveLength(1);
  });

  it('gives up after maxAttempts on a 429 that keeps coming', async () => {
    const outcome = await client({ maxAttempts: 3 }).applyAdminRole(token, WELL_KNOWN.throttled.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'throttled',
      response: { attempts: 3, status: 429 },
    });
    expect(sim.calls).toHaveLength(3);
    expect(gapMs(0, 1)).toBeGreaterThanOrEqual(950);
  });

  it.each([
    ['400', WELL_KNOWN.noDataverse.id],
    ['403', WELL_KNOWN.missingPermission.id],
    ['404', WELL_KNOWN.deleted.id],
    ['500', WELL_KNOWN.serverError.id],
  ])('does not retry a %s', async (_status, id) => {
    const outcome = await client().applyAdminRole(token, id);
    expect(outcome.response.attempts).toBe(1);
    expect(sim.calls).toHaveLength(1);
  });

  it('does not retry a 401', async () => {
    await client().applyAdminRole('not-a-jwt', DEV);
    expect(sim.calls).toHaveLength(1);
  });

  it('retries 502 and 503 up to maxAttempts', async () => {
    const a = await client({ maxAttempts: 3 }).applyAdminRole(token, WELL_KNOWN.proxyError.id);
    const b = await client({ maxAttempts: 3 }).applyAdminRole(token, WELL_KNOWN.unavailable.id);
    expect([a.response.attempts, b.response.attempts]).toEqual([3, 3]);
    expect(sim.calls).toHaveLength(6);
  });

  it('times out a slow attempt, retries it, and stops at the total deadline', async () => {
    sim.override('delay-ms=5000');
    const started = Date.now();
    const outcome = await client({
      attemptTimeoutMs: 200,
      totalTimeoutMs: 700,
      maxAttempts: 10,
    }).applyAdminRole(token, DEV);
    const elapsed = Date.now() - started;
    expect(outcome).toMatchObject({ ok: false, kind: 'timeout' });
    expect(outcome.response.status).toBeUndefined();
    expect(outcome.response.attempts).toBeGreaterThanOrEqual(2);
    expect(outcome.response.attempts).toBeLessThanOrEqual(4);
    expect(elapsed).toBeLessThan(1500);
    expect(sim.calls.length).toBe(outcome.response.attempts);
  });

  it('succeeds on the next attempt after one timed out', async () => {
    sim.override('delay-ms=2000;times=1');
    const outcome = await client({ attemptTimeoutMs: 300 }).applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({ ok: true, response: { attempts: 2 } });
  });

  it('reports a connection reset as connection-failed after retrying it', async () => {
    sim.override('reset');
    const outcome = await client({ maxAttempts: 2 }).applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'connection-failed',
      response: { attempts: 2 },
    });
    expect(sim.calls).toHaveLength(2);
  });

  it('does not retry into a Retry-After that would pass the total deadline', async () => {
    sim.override('status=503;retry-after=2');
    const outcome = await client({ totalTimeoutMs: 1000 }).applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({ ok: false, kind: 'throttled', response: { attempts: 1 } });
  });

  it("rejects with the caller's reason when the caller cancels", async () => {
    sim.override('delay-ms=2000');
    const controller = new AbortController();
    const reason = new Error('user cancelled');
    setTimeout(() => controller.abort(reason), 50);
    const http = new HttpClient();
    await expect(
      http.request({
        method: 'POST',
        url: applyUrl(),
        headers: { authorization: `Bearer ${token}` },
        signal: controller.signal,
      }),
    ).rejects.toBe(reason);
  });
});

describe('when nothing listens', () => {
  it('reports connection-failed with the reason', async () => {
    const gone = await startTinyServer(() => undefined);
    const url = gone.url;
    await gone.stop();
    const client = new PowerPlatformClient({
      baseUrl: url,
      http: new HttpClient({ baseDelayMs: 5, maxAttempts: 2 }),
    });
    const outcome = await client.applyAdminRole(token, DEV);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'connection-failed',
      response: { attempts: 2 },
    });
    if (!outcome.ok) expect(outcome.message).toContain('ECONNREFUSED');
  });
});

describe('what reaches the logs', () => {
  it('one line per attempt with the facts, and never the token', async () => {
    const sim = await startPowerPlatformSimulator({ pageSize: 12 });
    try {
      const logs = captureLogs();
      const logger = createLogger({ sink: logs.sink, level: 'debug' });
      const http = new HttpClient({ baseDelayMs: 5, logger });
      const client = new PowerPlatformClient({ baseUrl: sim.url, http, logger });
      sim.override('status=503;times=1', { environmentId: DEV });

      await client.listEnvironments(token);
      await client.applyAdminRole(token, DEV);
      await client.applyAdminRole(token, WELL_KNOWN.notTenantAdmin.id);
      await client.applyAdminRole(token, '../x');

      const text = logs.lines.join('\n');
      for (const secret of [token, ...token.split('.').filter((part) => part.length > 10)]) {
        expect(text).not.toContain(secret);
      }
      expect(text.toLowerCase()).not.toContain('bearer');
      expect(text).not.toContain('skiptoken=M'); // the opaque page token's value stays out

      const attempts = logs.lines
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.msg === 'http attempt');
      expect(attempts).toHaveLength(3 + 2 + 1);
      const applyAttempts = attempts.filter((entry) => entry.method === 'POST');
      expect(applyAttempts[0]).toMatchObject({
        host: new URL(sim.url).host,
        path: `/usermanagement/environments/${DEV}/user/applyAdminRole?api-version=2024-10-01`,
        attempt: 1,
        status: 503,
        outcome: 'response',
        clientRequestId: sim.calls[3]?.headers['x-ms-client-request-id'],
        correlationId: sim.calls[3]?.correlationId,
        durationMs: expect.any(Number),
        retryInMs: expect.any(Number),
      });
      expect(applyAttempts[1]).toMatchObject({
        attempt: 2,
        status: 200,
        clientRequestId: applyAttempts[0].clientRequestId,
      });
      expect(attempts[1]?.path).toMatch(/\?api-version=2024-10-01&\$skiptoken=\[redacted\]$/);

      const outcomes = logs.lines
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.msg === 'applyAdminRole outcome');
      expect(outcomes.map((entry) => entry.outcome)).toEqual([
        'granted',
        'not-tenant-admin',
        'invalid-request',
      ]);
      expect(outcomes[2]?.environmentId).toBe('[invalid]');
    } finally {
      await sim.stop();
    }
  });
});
