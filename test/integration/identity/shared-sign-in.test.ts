/**
 * Two instances of the bot's sign-in ("processes" A and B: two DelegatedTokens, each with its own
 * SQLite connection, msal-node clients and memory) on ONE SQLite file, against the local identity
 * provider over real HTTP. With the same TOKEN_CACHE_KEY, a user signed in on A is served on B
 * without a new sign-in, and without a new on-behalf-of call when A's token cache already holds
 * the token; what the store holds is sealed.
 */
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock, ElevationStore } from '../../../src/elevation/ports';
import type { Requester } from '../../../src/elevation/request';
import type { DelegatedTokens } from '../../../src/identity/delegated-tokens';
import { createDelegatedTokens } from '../../../src/identity/sign-in';
import { createLogger } from '../../../src/log';
import {
  type IdentityProvider,
  type IdentityProviderOptions,
  type IdpUser,
  startIdentityProvider,
} from '../../../src/sandbox/identity-provider';
import { SqliteStore } from '../../../src/store/sqlite-store';

const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const APP = { clientId: '6c2d1e0f-9a8b-4c7d-8e6f-5a4b3c2d1e0f', clientSecret: 'sso-app-secret' };
const AUDIENCES = [APP.clientId, `api://botid-${APP.clientId}`];
const POWER_PLATFORM = 'https://api.powerplatform.com';
const DATAVERSE = 'https://contoso-dev.crm.dynamics.com';

let dir: string;
const opened: Array<{ stop(): Promise<void> }> = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shared-sign-in-'));
});

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Provider {
  idp: IdentityProvider;
  /** GET requests the provider answered at one endpoint (`configuration` is OpenID discovery). */
  requests(endpoint: 'configuration' | 'keys'): number;
  /** On-behalf-of calls at the token endpoint. */
  oboCalls(): number;
}

async function provider(options: Partial<IdentityProviderOptions> = {}): Promise<Provider> {
  const lines: string[] = [];
  const idp = await startIdentityProvider({
    clients: [APP],
    ssoAudiences: AUDIENCES,
    logger: createLogger({ level: 'debug', sink: (line) => lines.push(line) }),
    ...options,
  });
  opened.push(idp);
  return {
    idp,
    requests: (endpoint) =>
      lines.filter((l) => (JSON.parse(l) as { endpoint?: string }).endpoint === endpoint).length,
    oboCalls: () => idp.tokenRequests.filter((r) => r.requestedTokenUse === 'on_behalf_of').length,
  };
}

interface Instance {
  tokens: DelegatedTokens;
  store: ElevationStore;
  logs: string[];
}

/** One "process": its own connection to the shared SQLite file, its own sign-in. */
function instance({ idp }: Provider, tokenCacheKey: Buffer | undefined, clock?: Clock): Instance {
  const store = new SqliteStore({ path: join(dir, 'bot.db') });
  opened.push({ stop: () => store.close() });
  const logs: string[] = [];
  const tokens = createDelegatedTokens({
    clientId: APP.clientId,
    credential: { secret: APP.clientSecret },
    tenantId: TENANT,
    authorityHost: idp.url,
    authorityMetadata: { ...idp.metadata(TENANT) },
    audiences: AUDIENCES,
    allowedTenantIds: [TENANT],
    powerPlatformApiUrl: POWER_PLATFORM,
    logger: createLogger({ level: 'debug', sink: (line) => logs.push(line) }),
    clock,
    store,
    tokenCacheKey,
  });
  return { tokens, store, logs };
}

function newUser(): { idpUser: IdpUser; requester: Requester } {
  const oid = randomUUID();
  return {
    idpUser: {
      oid,
      tid: TENANT,
      name: 'Adele Vance',
      upn: `adele.${oid.slice(0, 4)}@contoso.example`,
    },
    // Teams' ids, in whatever case Teams sends them: the store keys are lower case.
    requester: { aadObjectId: oid.toUpperCase(), tenantId: TENANT, name: 'Adele Vance' },
  };
}

/** Signs the user in on `on`, as Teams' token exchange does; returns the SSO token. */
async function signIn(p: Provider, on: Instance, user: ReturnType<typeof newUser>) {
  const ssoToken = await p.idp.mintSsoToken(user.idpUser);
  expect(await on.tokens.signIn(ssoToken, user.requester)).toEqual({ ok: true });
  return ssoToken;
}

function tokenOf(result: { ok: boolean; token?: string }): string {
  expect(result.ok).toBe(true);
  return result.token!;
}

function secretRows(): Array<{ key: string; value: string; expires_at: number }> {
  const db = new Database(join(dir, 'bot.db'), { readonly: true });
  try {
    return db.prepare('SELECT key, value, expires_at FROM secrets ORDER BY key').all() as Array<{
      key: string;
      value: string;
      expires_at: number;
    }>;
  } finally {
    db.close();
  }
}

/** Every byte SQLite has on disk for the store: the database, its WAL and shared memory. */
function rawStoreBytes(): string {
  return readdirSync(dir)
    .filter((name) => name.startsWith('bot.db'))
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('\n');
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

describe('sign-in shared by two instances through the store (TOKEN_CACHE_KEY)', () => {
  it('signed in on A, B gets the Power Platform token with no new sign-in and no new on-behalf-of call', async () => {
    const p = await provider();
    const key = randomBytes(32);
    const a = instance(p, key);
    const b = instance(p, key);
    const user = newUser();

    await signIn(p, a, user);
    expect(p.oboCalls()).toBe(1);
    const onA = tokenOf(await a.tokens.powerPlatformToken(user.requester));
    expect(p.oboCalls()).toBe(1); // msal's cache on A

    const onB = await b.tokens.powerPlatformToken(user.requester);
    // The sign-in's roles travel with it too (for advice that fits the user's admin role).
    expect(onB).toEqual({
      ok: true,
      token: onA,
      upn: user.idpUser.upn,
      adminRoles: ['Power Platform Administrator'],
    });
    expect(p.oboCalls()).toBe(1); // A's cache, loaded from the store by B
    expect(claimsOf(onA)).toMatchObject({ oid: user.idpUser.oid, aud: POWER_PLATFORM });

    // The other way round: a Dataverse token obtained on B is found by A.
    const dataverseOnB = tokenOf(await b.tokens.resourceToken(user.requester, DATAVERSE));
    expect(p.oboCalls()).toBe(2);
    expect(tokenOf(await a.tokens.resourceToken(user.requester, DATAVERSE))).toBe(dataverseOnB);
    expect(p.oboCalls()).toBe(2);

    // One msal client per user and instance: none asked for discovery (the metadata is given);
    // the only GET is A's validator fetching the signing keys.
    expect(p.requests('configuration')).toBe(0);
    expect(p.requests('keys')).toBe(1);
  });

  it('another user signed in on B is not served to A for the first user, and each has a partition', async () => {
    const p = await provider();
    const key = randomBytes(32);
    const a = instance(p, key);
    const b = instance(p, key);
    const first = newUser();
    const second = newUser();
    await signIn(p, a, first);
    await signIn(p, b, second);

    const firstOnB = tokenOf(await b.tokens.powerPlatformToken(first.requester));
    const secondOnA = tokenOf(await a.tokens.powerPlatformToken(second.requester));
    expect(claimsOf(firstOnB).oid).toBe(first.idpUser.oid);
    expect(claimsOf(secondOnA).oid).toBe(second.idpUser.oid);
    expect(p.oboCalls()).toBe(2);
    expect(secretRows().map((r) => r.key)).toEqual(
      [
        `msal/${TENANT}/${first.idpUser.oid}`,
        `msal/${TENANT}/${second.idpUser.oid}`,
        `session/${TENANT}/${first.idpUser.oid}`,
        `session/${TENANT}/${second.idpUser.oid}`,
      ].sort(),
    );
  });

  it('the store holds sealed values only: no SSO token or access token in the SQLite files', async () => {
    const p = await provider();
    const key = randomBytes(32);
    const a = instance(p, key);
    const b = instance(p, key);
    const user = newUser();
    const ssoToken = await signIn(p, a, user);
    const accessToken = tokenOf(await b.tokens.powerPlatformToken(user.requester));
    const dataverseToken = tokenOf(await b.tokens.resourceToken(user.requester, DATAVERSE));

    const rows = secretRows();
    const oid = user.idpUser.oid;
    expect(rows.map((r) => r.key)).toEqual([`msal/${TENANT}/${oid}`, `session/${TENANT}/${oid}`]);
    for (const row of rows) expect(row.value).toMatch(/^v1\.[A-Za-z0-9_-]+$/);
    // The session lasts as long as its SSO token; the token cache as long as its latest token.
    const session = rows.find((r) => r.key.startsWith('session/'))!;
    expect(session.expires_at).toBe((claimsOf(ssoToken).exp as number) * 1000);
    const cache = rows.find((r) => r.key.startsWith('msal/'))!;
    const latest = Math.max(
      claimsOf(accessToken).exp as number,
      claimsOf(dataverseToken).exp as number,
    );
    expect(Math.abs(cache.expires_at - latest * 1000)).toBeLessThanOrEqual(5_000);

    const raw = rawStoreBytes();
    expect(raw).toContain(`session/${TENANT}/${oid}`); // the search does see the file's text
    for (const secret of [ssoToken, accessToken, dataverseToken]) {
      expect(raw).not.toContain(secret);
      for (const part of secret.split('.')) expect(raw).not.toContain(part);
    }
    expect(raw).not.toContain(user.idpUser.upn!);
    // Nor in any log line of either instance.
    for (const line of [...a.logs, ...b.logs]) {
      for (const secret of [ssoToken, accessToken, dataverseToken]) {
        expect(line).not.toContain(secret.split('.')[2]!);
      }
    }
  });

  it('without TOKEN_CACHE_KEY nothing is written, and B asks for sign-in', async () => {
    const p = await provider();
    const a = instance(p, undefined);
    const b = instance(p, undefined);
    const user = newUser();
    await signIn(p, a, user);
    tokenOf(await a.tokens.powerPlatformToken(user.requester));
    expect(secretRows()).toEqual([]);
    expect(await b.tokens.powerPlatformToken(user.requester)).toMatchObject({
      ok: false,
      reason: 'sign-in-required',
    });
    expect(await b.tokens.resourceToken(user.requester, DATAVERSE)).toMatchObject({
      ok: false,
      reason: 'sign-in-required',
    });
    expect(p.oboCalls()).toBe(1);
  });

  it('B with another key treats the stored sign-in as absent: sign-in required, a warning, no crash; A is unaffected', async () => {
    const p = await provider();
    const a = instance(p, randomBytes(32));
    const b = instance(p, randomBytes(32));
    const user = newUser();
    const ssoToken = await signIn(p, a, user);

    expect(await b.tokens.powerPlatformToken(user.requester)).toMatchObject({
      ok: false,
      reason: 'sign-in-required',
    });
    expect(p.oboCalls()).toBe(1);
    const warnings = b.logs.filter((l) => (JSON.parse(l) as { level: string }).level === 'warn');
    expect(warnings.join('\n')).toContain('could not be opened');
    const sealed = secretRows().map((r) => r.value);
    for (const line of b.logs) {
      expect(line).not.toContain(ssoToken.split('.')[2]!);
      for (const value of sealed) expect(line).not.toContain(value.slice(3, 60));
    }
    // B did not remove A's session: A still acts for the user.
    tokenOf(await a.tokens.powerPlatformToken(user.requester));
    expect(secretRows()).toHaveLength(2);
  });

  it("a stored session is not used past its SSO token's expiry", async () => {
    const p = await provider();
    const key = randomBytes(32);
    const later: Clock = { now: () => new Date(Date.now() + 2 * 3600_000) };
    const a = instance(p, key);
    const b = instance(p, key, later);
    const user = newUser();
    await signIn(p, a, user);
    expect(await b.tokens.powerPlatformToken(user.requester)).toMatchObject({
      reason: 'sign-in-required',
    });
  });

  it("when msal cannot cache the result (the provider's scope lacks .default), B still needs no sign-in: it exchanges the shared assertion itself", async () => {
    const p = await provider({ oboResponse: { echoDefaultScope: false } });
    const key = randomBytes(32);
    const a = instance(p, key);
    const b = instance(p, key);
    const user = newUser();
    await signIn(p, a, user);
    expect(p.oboCalls()).toBe(1);
    tokenOf(await a.tokens.powerPlatformToken(user.requester));
    expect(p.oboCalls()).toBe(2); // not found in A's own cache either
    const onB = tokenOf(await b.tokens.powerPlatformToken(user.requester));
    expect(claimsOf(onB).oid).toBe(user.idpUser.oid);
    expect(p.oboCalls()).toBe(3);
  });

  it('a sign-in the identity provider no longer accepts is removed from the store too, so other instances do not pick it up', async () => {
    // Without `.default` in the answer msal caches nothing, so every request reaches the provider.
    const p = await provider({ oboResponse: { echoDefaultScope: false } });
    const key = randomBytes(32);
    const a = instance(p, key);
    const b = instance(p, key);
    const user = newUser();
    await signIn(p, a, user);
    expect(secretRows().some((r) => r.key.startsWith('session/'))).toBe(true);

    p.idp.setUserBehavior(user.idpUser.oid, 'expired-assertion');
    expect(await b.tokens.powerPlatformToken(user.requester)).toMatchObject({
      reason: 'sign-in-required',
    });
    expect(secretRows().some((r) => r.key.startsWith('session/'))).toBe(false);

    // A signs the user in again (a fresh Teams token); B finds the new session.
    p.idp.setUserBehavior(user.idpUser.oid, undefined);
    await signIn(p, a, user);
    tokenOf(await b.tokens.powerPlatformToken(user.requester));
  });

  it("concurrent requests on two instances break nothing: a third instance finds every resource's token in the store", async () => {
    const p = await provider();
    const key = randomBytes(32);
    const a = instance(p, key);
    const b = instance(p, key);
    const user = newUser();
    await signIn(p, a, user);
    const resources = ['https://one.crm.dynamics.com', 'https://two.crm.dynamics.com'];
    await Promise.all([
      b.tokens.powerPlatformToken(user.requester),
      ...resources.map((r) => b.tokens.resourceToken(user.requester, r)),
      ...resources.map((r) => a.tokens.resourceToken(user.requester, r)),
    ]);
    const calls = p.oboCalls();

    const c = instance(p, key);
    const tokens = await Promise.all([
      c.tokens.powerPlatformToken(user.requester),
      ...resources.map((r) => c.tokens.resourceToken(user.requester, r)),
    ]);
    expect(tokens.map((t) => claimsOf(tokenOf(t)).aud)).toEqual([POWER_PLATFORM, ...resources]);
    expect(p.oboCalls()).toBe(calls);
  });
});
