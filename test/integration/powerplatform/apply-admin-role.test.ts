import { HttpClient } from '../../../src/http/http-client';
import type { FailureKind } from '../../../src/elevation/vocabulary';
import { PowerPlatformClient } from '../../../src/powerplatform/power-platform-client';
import {
  PowerPlatformSimulator,
  startPowerPlatformSimulator,
  systemUserIdFor,
  WELL_KNOWN,
  WellKnownName,
} from '../../../src/sandbox/power-platform-simulator';
import { startTinyServer, TinyServer } from './tiny-server';
import { ADELE, userToken } from './tokens';

const http = new HttpClient({ baseDelayMs: 5, maxAttempts: 2, maxRetryAfterMs: 10 });
const token = userToken();

describe('applyAdminRole against the simulated API', () => {
  let sim: PowerPlatformSimulator;
  let client: PowerPlatformClient;
  beforeAll(async () => {
    sim = await startPowerPlatformSimulator();
    client = new PowerPlatformClient({ baseUrl: sim.url, http });
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    sim.calls.length = 0;
    sim.grants.length = 0;
    sim.clearOverrides();
  });

  /** The correlation id of the simulator's last answer, as it sent it. */
  const lastCorrelationId = () => sim.calls[sim.calls.length - 1]?.correlationId;

  it('grants, reading the instance URL and the systemuserid from the Description', async () => {
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({
      ok: true,
      code: 'UserExists',
      instanceUrl: 'https://contoso-dev.crm.dynamics.com',
      systemUserId: systemUserIdFor(WELL_KNOWN.contosoDev.id, ADELE.oid),
      response: { status: 200, statusText: 'OK', attempts: 1 },
    });
    expect(outcome.response.correlationId).toBe(lastCorrelationId());
    expect(outcome.rawBody).toContain('UserExists');
    expect(sim.grants).toEqual([
      expect.objectContaining({ environmentId: WELL_KNOWN.contosoDev.id, oid: ADELE.oid }),
    ]);
    expect(sim.calls[0]).toMatchObject({
      method: 'POST',
      operation: 'applyAdminRole',
      path: `/usermanagement/environments/${WELL_KNOWN.contosoDev.id}/user/applyAdminRole?api-version=2024-10-01`,
    });
  });

  it('grants in the default environment, whose id is Default-<tenant>', async () => {
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDefault.id);
    expect(outcome.ok).toBe(true);
    expect(sim.calls[0]?.environmentId).toBe(WELL_KNOWN.contosoDefault.id);
  });

  it('works with the deprecated preview api-version the gateway still accepts', async () => {
    const preview = new PowerPlatformClient({
      baseUrl: sim.url,
      http,
      apiVersion: '2022-03-01-preview',
    });
    expect((await preview.applyAdminRole(token, WELL_KNOWN.contosoProd.id)).ok).toBe(true);
  });

  const failures: [WellKnownName, FailureKind, number, string | undefined][] = [
    ['securityGroup', 'functional-error', 200, 'userNotPartOfSecurityGroup'],
    ['missingPermission', 'permission-missing', 403, 'InsufficientPrincipalPermissions'],
    ['notTenantAdmin', 'not-tenant-admin', 403, 'Forbidden'],
    ['serverError', 'upstream-unavailable', 500, 'InternalServerError'],
    ['proxyError', 'upstream-unavailable', 502, undefined],
    ['unavailable', 'upstream-unavailable', 503, undefined],
    ['deleted', 'environment-not-found', 404, 'EnvironmentNotFound'],
    ['throttled', 'throttled', 429, 'TooManyRequests'],
    ['noDataverse', 'bad-request', 400, 'EnvironmentHasNoDataverse'],
    ['disabled', 'bad-request', 400, 'EnvironmentDisabled'],
  ];
  it.each(failures)(
    '%s answers as %s (HTTP %i) with the correlation id verbatim',
    async (name, kind, status, code) => {
      const outcome = await client.applyAdminRole(token, WELL_KNOWN[name].id);
      if (outcome.ok) throw new Error('expected a failure');
      expect(outcome.kind).toBe(kind);
      expect(outcome.errorCode).toBe(code);
      expect(outcome.response.status).toBe(status);
      expect(outcome.response.correlationId).toMatch(/^[0-9a-f-]{36}$/);
      expect(outcome.response.correlationId).toBe(lastCorrelationId());
      expect(outcome.message.length).toBeGreaterThan(0);
      expect(outcome.rawBody).toBeDefined();
      expect(sim.grants).toHaveLength(0);
    },
  );

  it('a 2xx with errors[] is a failure, keeping the InnerException entry as a detail', async () => {
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.securityGroup.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'functional-error',
      message: expect.stringContaining(`User ${ADELE.upn} is not part of security group`),
      details: [expect.stringMatching(/^InnerException: /)],
    });
  });

  it('explains a proxy HTML page and an empty body with the status line', async () => {
    const html = await client.applyAdminRole(token, WELL_KNOWN.proxyError.id);
    const empty = await client.applyAdminRole(token, WELL_KNOWN.unavailable.id);
    expect(html).toMatchObject({
      message: 'HTTP 502 Bad Gateway: The response was an HTML page ("502 Bad Gateway"), not JSON',
    });
    expect(empty).toMatchObject({
      message: 'HTTP 503 Service Unavailable: The response body was empty',
      rawBody: '',
    });
  });

  it('an unknown environment is environment-not-found', async () => {
    const outcome = await client.applyAdminRole(token, '11111111-2222-4333-8444-555555555555');
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'environment-not-found',
      response: { status: 404 },
    });
  });

  it('api-version-invalid lists the supported versions', async () => {
    const stale = new PowerPlatformClient({ baseUrl: sim.url, http, apiVersion: '2020-10-01' });
    const outcome = await stale.applyAdminRole(token, WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'api-version-invalid',
      response: { status: 400 },
    });
    if (!outcome.ok) expect(outcome.message).toMatch(/Supported API versions are: .*2024-10-01/);
  });

  it('a token without UserManagement.Users.Apply is permission-missing (delegated)', async () => {
    const outcome = await client.applyAdminRole(
      userToken({ scp: 'EnvironmentManagement.Environments.Read' }),
      WELL_KNOWN.contosoDev.id,
    );
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'permission-missing',
      errorCode: 'InsufficientDelegatedPermissions',
    });
  });

  it('a user without a tenant admin role is not-tenant-admin', async () => {
    const outcome = await client.applyAdminRole(userToken({ wids: [] }), WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'not-tenant-admin',
      response: { status: 403 },
    });
  });

  it.each([
    ['no JWT at all', 'opaque-token'],
    ['an expired token', userToken({ exp: Math.floor(Date.now() / 1000) - 60 })],
    ['a token naming no user', userToken({ oid: undefined })],
  ])('%s is unauthorized', async (_label, badToken) => {
    const outcome = await client.applyAdminRole(badToken, WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'unauthorized',
      response: { status: 401, attempts: 1 },
    });
    expect(outcome.response.correlationId).toBe(lastCorrelationId());
  });

  it.each([
    ['a display name', 'Contoso Dev'],
    ['a path escape', '../x'],
    ['an encoded slash', `${WELL_KNOWN.contosoDev.id}%2F..%2Fx`],
    ['a GUID with a suffix', `${WELL_KNOWN.contosoDev.id}0`],
    ['a GUID followed by a path', `${WELL_KNOWN.contosoDev.id}/user/x`],
    ['an empty id', ''],
  ])('refuses %s before any HTTP call', async (_label, id) => {
    const outcome = await client.applyAdminRole(token, id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'invalid-request',
      response: { attempts: 0 },
    });
    expect(sim.calls).toHaveLength(0);
  });

  it('refuses an empty token before any HTTP call', async () => {
    const outcome = await client.applyAdminRole('  ', WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({ ok: false, kind: 'invalid-request' });
    expect(sim.calls).toHaveLength(0);
  });

  it('sends the client request id it was given, and reports it', async () => {
    const id = 'b7a4e0c2-3f1d-4c59-9e8a-0d6f2b1c4e7a';
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id, id);
    expect(outcome.response.clientRequestId).toBe(id);
    expect(sim.calls[0]?.headers['x-ms-client-request-id']).toBe(id);
  });

  it('refuses a client request id that could not travel in a header', async () => {
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id, 'a\r\nx-evil: 1');
    expect(outcome).toMatchObject({ ok: false, kind: 'invalid-request' });
    expect(sim.calls).toHaveLength(0);
  });

  it('a 2xx with neither errors nor UserExists is an unexpected response', async () => {
    sim.override('body=neither', { environmentId: WELL_KNOWN.contosoDev.id });
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'unexpected-response',
      response: { status: 200 },
    });
  });

  it.each(['empty', 'html', 'text', 'flat'])(
    'a 2xx whose body is %s is an unexpected response',
    async (shape) => {
      sim.override(`status=200;body=${shape}`);
      const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id);
      expect(outcome).toMatchObject({
        ok: false,
        kind: 'unexpected-response',
        response: { status: 200 },
      });
      expect(outcome.response.correlationId).toBe(lastCorrelationId());
    },
  );

  it('any other 403 is forbidden, any other 4xx an unexpected response', async () => {
    sim.override('status=403;times=1');
    sim.override('status=409;times=1');
    expect(await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id)).toMatchObject({
      kind: 'forbidden',
    });
    expect(await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id)).toMatchObject({
      kind: 'unexpected-response',
      response: { status: 409 },
    });
  });

  it('a 503 that names a Retry-After is throttled', async () => {
    sim.override('status=503;retry-after=120');
    const outcome = await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id);
    expect(outcome).toMatchObject({
      ok: false,
      kind: 'throttled',
      response: { status: 503, retryAfterMs: 120_000 },
    });
  });

  it('any environment can be made to answer like a seeded failure with as=', async () => {
    sim.override('as=security-group', { environmentId: WELL_KNOWN.contosoProd.id });
    expect(await client.applyAdminRole(token, WELL_KNOWN.contosoProd.id)).toMatchObject({
      kind: 'functional-error',
    });
    expect(await client.applyAdminRole(token, WELL_KNOWN.contosoDev.id)).toMatchObject({
      ok: true,
    });
  });
});

describe('applyAdminRole answers the simulator does not give', () => {
  let server: TinyServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });
  const id = WELL_KNOWN.contosoDev.id;

  async function answer(status: number, body: string, headers: Record<string, string> = {}) {
    server = await startTinyServer((_req, res) => {
      res.writeHead(status, { 'x-ms-correlation-id': 'Corr-ID with Case', ...headers });
      res.end(body);
    });
    return new PowerPlatformClient({ baseUrl: server.url, http }).applyAdminRole(token, id);
  }

  it('a 401 carrying the not-admin text is not-tenant-admin', async () => {
    const outcome = await answer(
      401,
      JSON.stringify({
        error: {
          code: 'Unauthorized',
          message:
            'Unable to assign System Administrator security role as the user is not either a Global admin, Power Platform admin, or Dynamics 365 admin.',
        },
      }),
    );
    expect(outcome).toMatchObject({
      kind: 'not-tenant-admin',
      response: { correlationId: 'Corr-ID with Case' },
    });
  });

  it('a 2xx whose errors[] carries the not-admin text is not-tenant-admin', async () => {
    const outcome = await answer(
      200,
      JSON.stringify({
        errors: [
          {
            Subject: 'Result',
            Description:
              'The user is not either a Global admin, Power Platform admin, or Dynamics 365 admin',
            Code: 'x',
          },
        ],
        information: [],
      }),
    );
    expect(outcome).toMatchObject({ kind: 'not-tenant-admin' });
  });

  it('a success Description that is not JSON still grants, with what can be read', async () => {
    const outcome = await answer(
      200,
      JSON.stringify({
        errors: [],
        information: [
          {
            Subject: 'Result',
            Description: 'Instance Url found https://x.crm.dynamics.com',
            Code: 'UserExists',
          },
        ],
      }),
    );
    expect(outcome).toMatchObject({
      ok: true,
      instanceUrl: 'https://x.crm.dynamics.com',
      systemUserId: undefined,
    });
  });

  it('a 2xx information entry other than UserExists is not taken for success', async () => {
    const outcome = await answer(
      200,
      JSON.stringify({
        errors: [],
        information: [{ Subject: 'Result', Description: '[]', Code: 'SomethingElse' }],
      }),
    );
    expect(outcome).toMatchObject({ ok: false, kind: 'unexpected-response' });
    if (!outcome.ok) expect(outcome.message).toContain('SomethingElse');
  });

  it('keeps at most 8 KiB of the raw body, and no token in it', async () => {
    const outcome = await answer(
      500,
      JSON.stringify({ code: 'X', message: `echo ${token} ${'x'.repeat(20_000)}` }),
    );
    expect(outcome.rawBody?.length).toBeLessThan(8 * 1024 + 100);
    expect(outcome.rawBody).toContain('[truncated');
    expect(outcome.rawBody).not.toContain(token);
    expect(outcome.rawBody).not.toContain(token.split('.')[1]);
  });

  it('does not follow a redirect (the token must not travel elsewhere)', async () => {
    const elsewhere = await startTinyServer((_req, res) => res.end('{}'));
    try {
      const outcome = await answer(307, '', { location: `${elsewhere.url}/x` });
      expect(outcome).toMatchObject({
        ok: false,
        kind: 'unexpected-response',
        response: { status: 307 },
      });
      expect(elsewhere.requests).toHaveLength(0);
    } finally {
      await elsewhere.stop();
    }
  });
});
