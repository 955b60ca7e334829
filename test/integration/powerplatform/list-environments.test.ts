import { HttpClient } from '../../../src/http/http-client';
import { PowerPlatformClient } from '../../../src/powerplatform/power-platform-client';
import {
  defaultSeed,
  PowerPlatformSimulator,
  seedMany,
  SEED_TENANT_ID,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../../src/sandbox/power-platform-simulator';
import { startTinyServer, TinyServer } from './tiny-server';
import { userToken } from './tokens';

const http = new HttpClient({ baseDelayMs: 5, maxAttempts: 2 });
const token = userToken();

describe('listing environments from the simulated API', () => {
  let sim: PowerPlatformSimulator;
  beforeAll(async () => {
    sim = await startPowerPlatformSimulator();
  });
  afterAll(() => sim.stop());
  beforeEach(() => {
    sim.calls.length = 0;
  });

  const client = () => new PowerPlatformClient({ baseUrl: sim.url, http });

  it('reads every page, whichever spelling of the next link each page uses', async () => {
    const list = await client().listEnvironments(token);
    if (!list.ok) throw new Error(list.message);
    expect(list.pages).toBe(3);
    expect(list.environments.map((e) => e.id)).toEqual(defaultSeed().map((e) => e.id));
    expect(sim.calls.map((call) => call.operation)).toEqual(Array(3).fill('listEnvironments'));
  });

  it('the simulator really alternates @odata.nextLink and @odata.nextlink', async () => {
    const first = await http.request({
      method: 'GET',
      url: `${sim.url}/environmentmanagement/environments?api-version=2024-10-01`,
      headers: { authorization: `Bearer ${token}` },
    });
    if (first.kind !== 'response') throw new Error(first.message);
    const page1 = JSON.parse(first.bodyText);
    expect(Object.keys(page1)).toEqual(['value', '@odata.nextLink']);
    const second = await http.request({
      method: 'GET',
      url: page1['@odata.nextLink'],
      headers: { authorization: `Bearer ${token}` },
    });
    if (second.kind !== 'response') throw new Error(second.message);
    expect(Object.keys(JSON.parse(second.bodyText))).toEqual(['value', '@odata.nextlink']);
  });

  it('maps the fields the bot uses, deriving nothing that is absent', async () => {
    const list = await client().listEnvironments(token);
    if (!list.ok) throw new Error(list.message);
    const byId = new Map(list.environments.map((e) => [e.id, e]));
    expect(byId.get(WELL_KNOWN.contosoDev.id)).toEqual({
      id: WELL_KNOWN.contosoDev.id,
      displayName: 'Contoso Dev',
      type: 'Sandbox',
      state: 'Enabled',
      geo: 'unitedstates',
      azureRegion: 'westus',
      dataverseUrl: 'https://contoso-dev.crm.dynamics.com/',
      domainName: 'contoso-dev',
      tenantId: SEED_TENANT_ID,
      securityGroupId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    expect(byId.get(WELL_KNOWN.contosoDefault.id)).toMatchObject({
      id: `Default-${SEED_TENANT_ID}`,
      type: 'Default',
      displayName: 'Contoso (default)',
    });
    const noDataverse = byId.get(WELL_KNOWN.noDataverse.id);
    expect(noDataverse).toBeDefined();
    expect(noDataverse).not.toHaveProperty('dataverseUrl');
    expect(noDataverse).not.toHaveProperty('domainName');
    expect(byId.get(WELL_KNOWN.disabled.id)?.state).toBe('Disabled');
    expect(byId.get(WELL_KNOWN.teams.id)?.type).toBe('Teams');
    expect(list.environments.filter((e) => /^contoso[ -]test$/i.test(e.displayName))).toHaveLength(
      2,
    );
  });

  it('uses a smaller page size when asked, still reading everything', async () => {
    const small = await startPowerPlatformSimulator({ pageSize: 7 });
    try {
      const list = await new PowerPlatformClient({ baseUrl: small.url, http }).listEnvironments(
        token,
      );
      if (!list.ok) throw new Error(list.message);
      expect(list.pages).toBe(Math.ceil(defaultSeed().length / 7));
      expect(new Set(list.environments.map((e) => e.id)).size).toBe(defaultSeed().length);
    } finally {
      await small.stop();
    }
  });

  it('lists ten thousand synthetic environments', async () => {
    const big = await startPowerPlatformSimulator({ seed: seedMany(10_000), pageSize: 500 });
    try {
      const list = await new PowerPlatformClient({ baseUrl: big.url, http }).listEnvironments(
        token,
      );
      if (!list.ok) throw new Error(list.message);
      expect(list.pages).toBe(20);
      expect(new Set(list.environments.map((e) => e.id)).size).toBe(10_000);
      expect(list.environments[9_999]?.displayName).toBe('Synthetic 10000');
    } finally {
      await big.stop();
    }
  });

  it('answers a token without the read permission with permission-missing', async () => {
    const list = await client().listEnvironments(userToken({ scp: 'UserManagement.Users.Apply' }));
    expect(list).toMatchObject({
      ok: false,
      kind: 'permission-missing',
      errorCode: 'InsufficientDelegatedPermissions',
      response: { status: 403, correlationId: sim.calls[0]?.correlationId },
    });
  });

  it('answers an unreadable token with unauthorized', async () => {
    const list = await client().listEnvironments('not-a-jwt');
    expect(list).toMatchObject({ ok: false, kind: 'unauthorized', response: { status: 401 } });
  });

  it('answers an api-version the API does not serve with api-version-invalid', async () => {
    const list = await new PowerPlatformClient({
      baseUrl: sim.url,
      http,
      apiVersion: '2019-01-01',
    }).listEnvironments(token);
    expect(list).toMatchObject({ ok: false, kind: 'api-version-invalid' });
    if (!list.ok)
      expect(list.message).toContain('Supported API versions are: 2022-03-01-preview, 2024-10-01');
  });
});

describe('following next links safely', () => {
  const servers: TinyServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.stop()));
  });

  const item = (n: number) => ({
    id: `00000000-0000-4000-8000-${String(n).padStart(12, '0')}`,
    displayName: `Env ${n}`,
    type: 'Sandbox',
    url: `https://org${n}.crm.dynamics.com/`,
  });
  const send = (res: import('node:http').ServerResponse, body: unknown) => {
    res.writeHead(200, { 'content-type': 'application/json', 'x-ms-correlation-id': 'corr-page' });
    res.end(JSON.stringify(body));
  };

  it('refuses a next link on another origin and never calls it', async () => {
    const foreign = await startTinyServer((_req, res) => send(res, { value: [item(99)] }));
    const api = await startTinyServer((_req, res) =>
      send(res, {
        value: [item(1)],
        '@odata.nextLink': `${foreign.url}/steal?api-version=2024-10-01`,
      }),
    );
    servers.push(foreign, api);
    const list = await new PowerPlatformClient({ baseUrl: api.url, http }).listEnvironments('t');
    expect(list).toMatchObject({
      ok: false,
      kind: 'unexpected-response',
      response: { correlationId: 'corr-page' },
    });
    if (!list.ok) expect(list.message).toContain(`points to ${foreign.url}`);
    expect(foreign.requests).toHaveLength(0);
  });

  it('refuses a next link that leads back to a page already read', async () => {
    const api = await startTinyServer((req, res, url) =>
      send(res, { value: [item(1)], '@odata.nextlink': `${url}${req.url}` }),
    );
    servers.push(api);
    const list = await new PowerPlatformClient({ baseUrl: api.url, http }).listEnvironments('t');
    expect(list).toMatchObject({ ok: false, kind: 'unexpected-response' });
    if (!list.ok) expect(list.message).toContain('repeats a page');
    expect(api.requests).toHaveLength(1);
  });

  it('stops after the page limit', async () => {
    let n = 0;
    const api = await startTinyServer((_req, res, url) =>
      send(res, {
        value: [item(++n)],
        '@odata.nextLink': `${url}/environmentmanagement/environments?page=${n}`,
      }),
    );
    servers.push(api);
    const list = await new PowerPlatformClient({
      baseUrl: api.url,
      http,
      maxPages: 5,
    }).listEnvironments('t');
    expect(list).toMatchObject({ ok: false, kind: 'unexpected-response' });
    expect(api.requests).toHaveLength(5);
  });

  it('follows a relative next link, adds a missing api-version, and derives domainName from url', async () => {
    const api = await startTinyServer((req, res) => {
      if (req.url?.includes('page=2')) send(res, { value: [item(2)] });
      else
        send(res, {
          value: [item(1)],
          '@odata.nextLink': '/environmentmanagement/environments?page=2',
        });
    });
    servers.push(api);
    const list = await new PowerPlatformClient({ baseUrl: api.url, http }).listEnvironments('t');
    if (!list.ok) throw new Error(list.message);
    expect(list.environments.map((e) => e.domainName)).toEqual(['org1', 'org2']);
    expect(api.requests[1]).toBe(
      '/environmentmanagement/environments?page=2&api-version=2024-10-01',
    );
  });

  it('skips items without a usable id rather than letting them reach a URL later', async () => {
    const api = await startTinyServer((_req, res) =>
      send(res, {
        value: [item(1), { id: '../../x', displayName: 'Bad' }, { displayName: 'No id' }, 'junk'],
      }),
    );
    servers.push(api);
    const list = await new PowerPlatformClient({ baseUrl: api.url, http }).listEnvironments('t');
    if (!list.ok) throw new Error(list.message);
    expect(list.environments.map((e) => e.displayName)).toEqual(['Env 1']);
  });

  it('calls a page without a value array an unexpected response', async () => {
    const api = await startTinyServer((_req, res) => send(res, { environments: [] }));
    servers.push(api);
    const list = await new PowerPlatformClient({ baseUrl: api.url, http }).listEnvironments('t');
    expect(list).toMatchObject({
      ok: false,
      kind: 'unexpected-response',
      response: { status: 200 },
    });
  });
});
