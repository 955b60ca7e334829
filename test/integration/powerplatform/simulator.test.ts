import { HttpClient, HttpResponse } from '../../../src/http/http-client';
import { createLogger } from '../../../src/log';
import { PowerPlatformClient } from '../../../src/powerplatform/power-platform-client';
import {
  PowerPlatformSimulator,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../../src/sandbox/power-platform-simulator';
import { ADELE, captureLogs, userToken } from './tokens';

const token = userToken();
const http = new HttpClient({ maxAttempts: 1 });
const DEV = WELL_KNOWN.contosoDev.id;

describe('the simulated Power Platform API behaves like the real one', () => {
  let sim: PowerPlatformSimulator;
  beforeAll(async () => {
    sim = await startPowerPlatformSimulator();
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    sim.calls.length = 0;
  });

  async function call(
    path: string,
    headers: Record<string, string> = {},
    method = 'POST',
  ): Promise<HttpResponse> {
    const result = await http.request({ method, url: `${sim.url}${path}`, headers });
    if (result.kind !== 'response') throw new Error(result.message);
    return result;
  }
  const apply = (version = '2024-10-01') =>
    `/usermanagement/environments/${DEV}/user/applyAdminRole?api-version=${version}`;

  it('sends a fresh correlation id on every answer and echoes the client request id', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const a = await call(apply(), auth);
    const b = await call(apply(), auth);
    const c = await call(apply()); // refused, still correlated
    const ids = [a, b, c].map((r) => r.headers['x-ms-correlation-id']);
    expect(new Set(ids).size).toBe(3);
    expect(a.headers['x-ms-client-request-id']).toBe(a.clientRequestId);
    expect(c.status).toBe(401);
  });

  it('refuses a request without a bearer token with a flat 401', async () => {
    const response = await call(apply(), { authorization: 'Basic dXNlcjpwYXNz' });
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(JSON.parse(response.bodyText)).toEqual({
      code: 'Unauthorized',
      message: expect.any(String),
    });
  });

  it.each([
    ['missing', `/usermanagement/environments/${DEV}/user/applyAdminRole`],
    ['unknown', apply('2023-01-01')],
  ])('refuses a %s api-version with 400 ApiVersionInvalid', async (_label, path) => {
    const response = await call(path, { authorization: `Bearer ${token}` });
    expect(response.status).toBe(400);
    expect(JSON.parse(response.bodyText)).toMatchObject({
      code: 'ApiVersionInvalid',
      message: expect.stringContaining(
        'Supported API versions are: 2022-03-01-preview, 2024-10-01',
      ),
      innererror: { code: 'ApiVersionUnsupported' },
    });
  });

  it('answers success with the documented envelope, Description a JSON array in a string', async () => {
    const response = await call(apply(), { authorization: `Bearer ${token}` });
    const body = JSON.parse(response.bodyText);
    expect(body.errors).toEqual([]);
    expect(body.information).toHaveLength(1);
    expect(body.information[0]).toMatchObject({ Subject: 'Result', Code: 'UserExists' });
    const lines: string[] = JSON.parse(body.information[0].Description);
    expect(lines).toContain('Instance Url found https://contoso-dev.crm.dynamics.com');
    expect(lines.some((line) => line.includes(`objectId:${ADELE.oid}`))).toBe(true);
  });

  it('gives the same systemuserid to the same user each time, and another to another user', async () => {
    const client = new PowerPlatformClient({ baseUrl: sim.url, http });
    const first = await client.applyAdminRole(token, DEV);
    const again = await client.applyAdminRole(token, DEV);
    const other = await client.applyAdminRole(
      userToken({ oid: '0f0e0d0c-0b0a-4908-8706-050403020100' }),
      DEV,
    );
    if (!first.ok || !again.ok || !other.ok) throw new Error('expected grants');
    expect(again.systemUserId).toBe(first.systemUserId);
    expect(other.systemUserId).not.toBe(first.systemUserId);
  });

  it('records calls without the Authorization header', async () => {
    await call(apply(), { authorization: `Bearer ${token}`, 'x-custom': 'kept' });
    expect(sim.calls).toHaveLength(1);
    expect(sim.calls[0]?.headers).not.toHaveProperty('authorization');
    expect(sim.calls[0]?.headers['x-custom']).toBe('kept');
    expect(JSON.stringify(sim.calls)).not.toContain(token);
    expect(Date.parse(sim.calls[0]?.time ?? '')).not.toBeNaN();
  });

  it('answers a wrong method and an unknown route', async () => {
    const auth = { authorization: `Bearer ${token}` };
    expect((await call(apply(), auth, 'GET')).status).toBe(405);
    expect((await call('/nothing/here?api-version=2024-10-01', auth, 'GET')).status).toBe(404);
  });

  it('answers an unreadable x-sim-behavior with a 400 that says why', async () => {
    const response = await call(apply(), {
      authorization: `Bearer ${token}`,
      'x-sim-behavior': 'status=teapot',
    });
    expect(response.status).toBe(400);
    expect(response.bodyText).toContain('x-sim-behavior: cannot read \\"status=teapot\\"');
  });

  it('refuses to register an unreadable override', () => {
    expect(() => sim.override('delay=1')).toThrow(/cannot read/);
  });
});

describe('starting and stopping the simulator', () => {
  it('listens on loopback only', async () => {
    await expect(
      startPowerPlatformSimulator({ host: '0.0.0.0' as unknown as '127.0.0.1' }),
    ).rejects.toThrow(/loopback only/);
  });

  it('takes a pluggable authenticate, refusing what it refuses', async () => {
    const sim = await startPowerPlatformSimulator({
      authenticate: (candidate) =>
        candidate === 'let-me-in' ? { oid: ADELE.oid, upn: ADELE.upn } : undefined,
    });
    try {
      const client = new PowerPlatformClient({ baseUrl: sim.url, http });
      expect((await client.applyAdminRole('let-me-in', DEV)).ok).toBe(true);
      expect(await client.applyAdminRole(token, DEV)).toMatchObject({ kind: 'unauthorized' });
    } finally {
      await sim.stop();
    }
  });

  it('stops promptly even with a request still waiting on delay-ms', async () => {
    const sim = await startPowerPlatformSimulator();
    sim.override('delay-ms=10000');
    const pending = new HttpClient({ maxAttempts: 1 }).request({
      method: 'POST',
      url: `${sim.url}/usermanagement/environments/${DEV}/user/applyAdminRole?api-version=2024-10-01`,
      headers: { authorization: `Bearer ${token}` },
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await sim.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(await pending).toMatchObject({ kind: 'connection-failed' });
  });

  it('logs one line per request when given a logger', async () => {
    const logs = captureLogs();
    const sim = await startPowerPlatformSimulator({ logger: createLogger({ sink: logs.sink }) });
    try {
      await new PowerPlatformClient({ baseUrl: sim.url, http }).applyAdminRole(token, DEV);
      const lines = logs.lines.map((line) => JSON.parse(line));
      expect(lines).toEqual([
        expect.objectContaining({
          msg: 'simulated request',
          operation: 'applyAdminRole',
          status: 200,
          environmentId: DEV,
        }),
      ]);
      expect(logs.lines.join('')).not.toContain(token);
    } finally {
      await sim.stop();
    }
  });
});
