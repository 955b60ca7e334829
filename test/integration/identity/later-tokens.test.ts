/**
 * Acting as the user later (LaterTokens): real msal-node against the local identity provider over
 * HTTP, on a real SQLite file. `keep` turns the user's sign-in into a kept refresh token, sealed in
 * the store; `tokenFor` redeems it for a Dataverse token of that user, from any instance sharing the
 * store and TOKEN_CACHE_KEY, rotating what is kept; each refusal of Entra comes back as a value
 * that names its cause; neither the store nor the logs hold a token in clear.
 */
import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElevationStore, LaterTokenResult, LaterTokens } from '../../../src/elevation/ports';
import type { Requester } from '../../../src/elevation/request';
import type { DelegatedTokens } from '../../../src/identity/delegated-tokens';
import { refreshTokenIn } from '../../../src/identity/later-tokens';
import { SecretBox } from '../../../src/identity/secret-box';
import { laterTokenKey } from '../../../src/identity/shared-secrets';
import {
  createDelegatedTokens,
  createLaterTokens,
  type SignInOptions,
} from '../../../src/identity/sign-in';
import { createLogger } from '../../../src/log';
import {
  type IdentityProvider,
  type IdpUser,
  startIdentityProvider,
  type UserBehavior,
} from '../../../src/sandbox/identity-provider';
import { SqliteStore } from '../../../src/store/sqlite-store';
import { msalAppFor } from '../../support/identity-msal';

const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const APP = { clientId: '6c2d1e0f-9a8b-4c7d-8e6f-5a4b3c2d1e0f', clientSecret: 'sso-app-secret' };
const AUDIENCES = [APP.clientId, `api://botid-${APP.clientId}`];
const POWER_PLATFORM = 'https://api.powerplatform.com';
const DATAVERSE = 'https://contoso-dev.crm.dynamics.com';
const HOUR = 3600_000;

let dir: string;
let idp: IdentityProvider;
const opened: Array<{ stop(): Promise<void> }> = [];

beforeAll(async () => {
  idp = await startIdentityProvider({ clients: [APP], ssoAudiences: AUDIENCES });
});
afterAll(() => idp.stop());

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'later-tokens-'));
  idp.tokenRequests.length = 0;
});

afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.stop();
  rmSync(dir, { recursive: true, force: true });
});

interface Instance {
  tokens: DelegatedTokens;
  later: LaterTokens;
  store: ElevationStore;
  logs: string[];
}

/** One "process": its own connection to the shared SQLite file, its own sign-in and msal clients. */
function instance(tokenCacheKey: Buffer | undefined): Instance {
  const store = new SqliteStore({ path: join(dir, 'bot.db') });
  opened.push({ stop: () => store.close() });
  const logs: string[] = [];
  const options: SignInOptions = {
    clientId: APP.clientId,
    credential: { secret: APP.clientSecret },
    tenantId: TENANT,
    authorityHost: idp.url,
    authorityMetadata: { ...idp.metadata(TENANT) },
    audiences: AUDIENCES,
    allowedTenantIds: [TENANT],
    powerPlatformApiUrl: POWER_PLATFORM,
    logger: createLogger({ level: 'debug', sink: (line) => logs.push(line) }),
    store,
    tokenCacheKey,
  };
  const tokens = createDelegatedTokens(options);
  return { tokens, later: createLaterTokens(options, tokens), store, logs };
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
    // Teams' ids, in whatever case Teams sends them: the store key is lower case.
    requester: { aadObjectId: oid.toUpperCase(), tenantId: TENANT, name: 'Adele Vance' },
  };
}

async function signIn(on: Instance, user: ReturnType<typeof newUser>): Promise<void> {
  const ssoToken = await idp.mintSsoToken(user.idpUser);
  expect(await on.tokens.signIn(ssoToken, user.requester)).toEqual({ ok: true });
}

/** Signed in on `on` and kept until an hour from now. */
async function kept(on: Instance, user = newUser()) {
  await signIn(on, user);
  expect(await on.later.keep(user.requester, new Date(Date.now() + HOUR))).toEqual({ ok: true });
  return user;
}

function tokenOf(result: LaterTokenResult): string {
  if (!result.ok) throw new Error(`expected a token, got ${result.reason}: ${result.message}`);
  return result.token;
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** What the store holds for the user, through the SecretStore port (sealed). */
async function sealedEntry(on: Instance, user: ReturnType<typeof newUser>) {
  return on.store.readSecret(laterTokenKey(user.requester), new Date());
}

/** The refresh token inside the sealed entry, opened with the key as the bot would. */
async function keptRefreshToken(on: Instance, key: Buffer, user: ReturnType<typeof newUser>) {
  const sealed = await sealedEntry(on, user);
  const json = sealed && new SecretBox(key).open(sealed, laterTokenKey(user.requester));
  return json ? (JSON.parse(json) as { refreshToken: string }).refreshToken : undefined;
}

function refreshCalls(): number {
  return idp.tokenRequests.filter((r) => r.grantType === 'refresh_token').length;
}

/**
 * Makes the SQLite file refuse writes of kept refresh tokens (a trigger, for every connection), as
 * a failing store would; returns the function that lifts it.
 */
function refuseKeptWrites(): () => void {
  const db = new Database(join(dir, 'bot.db'));
  db.pragma('busy_timeout = 5000');
  db.exec(`CREATE TRIGGER refuse_later BEFORE INSERT ON secrets WHEN NEW.key LIKE 'later/%'
    BEGIN SELECT RAISE(ABORT, 'the database refused the write (injected by the test)'); END`);
  return () => {
    db.exec('DROP TRIGGER IF EXISTS refuse_later');
    db.close();
  };
}

/** Every byte SQLite has on disk for the store: the database, its WAL and shared memory. */
function rawStoreBytes(): string {
  return readdirSync(dir)
    .filter((name) => name.startsWith('bot.db'))
    .map((name) => readFileSync(join(dir, name)).toString('latin1'))
    .join('\n');
}

describe('LaterTokens with TOKEN_CACHE_KEY: a refresh token kept in the store, sealed', () => {
  it('keep, then tokenFor: a Dataverse token of that user, with the roles it shows; what is kept is rotated', async () => {
    const key = randomBytes(32);
    const a = instance(key);
    const user = await kept(a);
    const before = await keptRefreshToken(a, key, user);
    const sealedBefore = await sealedEntry(a, user);
    expect(before).toMatch(/^rt\./);

    const token = tokenOf(await a.later.tokenFor(user.requester, `${DATAVERSE}/`));
    expect(claimsOf(token)).toMatchObject({ aud: DATAVERSE, oid: user.idpUser.oid, tid: TENANT });
    expect(refreshCalls()).toBe(1);
    expect(await a.later.tokenFor(user.requester, DATAVERSE)).toMatchObject({
      ok: true,
      adminRoles: ['Power Platform Administrator'],
    });

    const after = await keptRefreshToken(a, key, user);
    expect(after).toMatch(/^rt\./);
    expect(after).not.toBe(before);
    expect(await sealedEntry(a, user)).not.toBe(sealedBefore);
  });

  it('keep makes its own on-behalf-of call even when msal holds a cached token for the sign-in', async () => {
    const a = instance(randomBytes(32));
    const user = newUser();
    await signIn(a, user);
    expect((await a.tokens.powerPlatformToken(user.requester)).ok).toBe(true);
    const obo = () => idp.tokenRequests.filter((r) => r.requestedTokenUse === 'on_behalf_of');
    expect(obo()).toHaveLength(1); // the sign-in's; the Power Platform token came from the cache
    expect(await a.later.keep(user.requester, new Date(Date.now() + HOUR))).toEqual({ ok: true });
    expect(obo()).toHaveLength(2);
    expect(obo()[1]?.scope?.split(' ')).toContain('offline_access');
  });

  it('another instance with the same store and key gets the token (and rotates for both); one with another key gets not-kept', async () => {
    const key = randomBytes(32);
    const a = instance(key);
    const b = instance(key);
    const user = await kept(a);

    const onB = tokenOf(await b.later.tokenFor(user.requester, DATAVERSE));
    expect(claimsOf(onB)).toMatchObject({ aud: DATAVERSE, oid: user.idpUser.oid });
    const rotatedByB = await keptRefreshToken(a, key, user);
    // A redeems what B stored, and B what A stored in turn.
    tokenOf(await a.later.tokenFor(user.requester, DATAVERSE));
    expect(await keptRefreshToken(a, key, user)).not.toBe(rotatedByB);
    tokenOf(await b.later.tokenFor(user.requester, DATAVERSE));
    expect(refreshCalls()).toBe(3);

    const other = instance(randomBytes(32));
    expect(await other.later.tokenFor(user.requester, DATAVERSE)).toMatchObject({
      ok: false,
      reason: 'not-kept',
    });
    expect(refreshCalls()).toBe(3);
  });

  it('two instances redeeming the same kept token at once both get a token', async () => {
    const key = randomBytes(32);
    const a = instance(key);
    const b = instance(key);
    const user = await kept(a);
    const [onA, onB] = await Promise.all([
      a.later.tokenFor(user.requester, DATAVERSE),
      b.later.tokenFor(user.requester, DATAVERSE),
    ]);
    expect([onA.ok, onB.ok]).toEqual([true, true]);
    // Whichever write came last, what is kept still works.
    expect((await a.later.tokenFor(user.requester, DATAVERSE)).ok).toBe(true);
  });

  it('neither the store nor any log line holds the refresh token or the access token in clear', async () => {
    const key = randomBytes(32);
    const a = instance(key);
    const user = await kept(a);
    const first = (await keptRefreshToken(a, key, user))!;
    const token = tokenOf(await a.later.tokenFor(user.requester, DATAVERSE));
    const rotated = (await keptRefreshToken(a, key, user))!;
    const sealed = (await sealedEntry(a, user))!;
    const secrets = [first, rotated, token, token.split('.')[2]!];

    expect(sealed).toMatch(/^v1\./);
    const raw = rawStoreBytes();
    for (const secret of secrets) {
      expect(sealed).not.toContain(secret);
      expect(raw).not.toContain(secret);
    }

    expect(a.logs.some((line) => line.includes('kept for later'))).toBe(true);
    for (const line of a.logs) for (const secret of secrets) expect(line).not.toContain(secret);
  });

  it('a store that refuses the write: keep is not ok (the removal will ask the user), and nothing leaks into the logs', async () => {
    const a = instance(randomBytes(32));
    const user = newUser();
    await signIn(a, user);
    const lift = refuseKeptWrites();
    try {
      const result = await a.later.keep(user.requester, new Date(Date.now() + HOUR));
      expect(result).toEqual({ ok: false, message: expect.stringMatching(/could not store/) });
    } finally {
      lift();
    }
    expect(await sealedEntry(a, user)).toBeUndefined();
    expect(a.logs.some((l) => l.includes('could not be kept in the store'))).toBe(true);
    expect(a.logs.join('\n')).not.toMatch(/rt\.[A-Za-z0-9_-]{20}/);
  });

  it('a store that refuses the rotated token: tokenFor still succeeds, and the token kept before still works', async () => {
    const key = randomBytes(32);
    const a = instance(key);
    const user = await kept(a);
    const before = await keptRefreshToken(a, key, user);
    const lift = refuseKeptWrites();
    try {
      expect((await a.later.tokenFor(user.requester, DATAVERSE)).ok).toBe(true);
    } finally {
      lift();
    }
    expect(await keptRefreshToken(a, key, user)).toBe(before);
    expect((await a.later.tokenFor(user.requester, DATAVERSE)).ok).toBe(true);
    expect(await keptRefreshToken(a, key, user)).not.toBe(before);
  });

  it('the sealed entry expires with the elevation (plus the margin): past that, not-kept', async () => {
    const a = instance(randomBytes(32));
    const user = newUser();
    await signIn(a, user);
    // Ended two days ago: the one-day margin is over too.
    expect(await a.later.keep(user.requester, new Date(Date.now() - 48 * HOUR))).toEqual({
      ok: true,
    });
    expect(await a.later.tokenFor(user.requester, DATAVERSE)).toMatchObject({
      ok: false,
      reason: 'not-kept',
    });
    expect(refreshCalls()).toBe(0);
  });

  it('one entry per user for all their elevations: a later keep with a sooner end does not shorten it', async () => {
    const a = instance(randomBytes(32));
    const user = newUser();
    await signIn(a, user);
    const expiry = () => {
      const db = new Database(join(dir, 'bot.db'), { readonly: true });
      try {
        const row = db
          .prepare('SELECT expires_at FROM secrets WHERE key = ?')
          .get(laterTokenKey(user.requester)) as { expires_at: number } | undefined;
        return row?.expires_at;
      } finally {
        db.close();
      }
    };
    const start = Date.now();
    expect((await a.later.keep(user.requester, new Date(start + 3 * HOUR))).ok).toBe(true);
    const long = expiry()!;
    expect(long).toBeGreaterThanOrEqual(start + 3 * HOUR + 24 * HOUR);
    expect((await a.later.keep(user.requester, new Date(start + HOUR))).ok).toBe(true);
    expect(expiry()).toBe(long);
    expect((await a.later.keep(user.requester, new Date(start + 5 * HOUR))).ok).toBe(true);
    expect(expiry()).toBe(start + 5 * HOUR + 24 * HOUR);
  });

  it('forget removes what was kept: not-kept afterwards, on every instance', async () => {
    const key = randomBytes(32);
    const a = instance(key);
    const b = instance(key);
    const user = await kept(a);
    await b.later.forget(user.requester);
    expect(await sealedEntry(a, user)).toBeUndefined();
    expect(await a.later.tokenFor(user.requester, DATAVERSE)).toEqual({
      ok: false,
      reason: 'not-kept',
      message: expect.stringMatching(/nothing was kept/i),
    });
  });

  it('nothing kept for a user: not-kept, without a call to the identity provider', async () => {
    const a = instance(randomBytes(32));
    expect(await a.later.tokenFor(newUser().requester, DATAVERSE)).toMatchObject({
      ok: false,
      reason: 'not-kept',
    });
    expect(idp.tokenRequests).toHaveLength(0);
  });

  it('the roles come from the refreshed token: an ended PIM activation shows as no admin role', async () => {
    const a = instance(randomBytes(32));
    const user = await kept(a);
    idp.setUserGrant(user.idpUser.oid, { wids: [] });
    try {
      expect(await a.later.tokenFor(user.requester, DATAVERSE)).toMatchObject({
        ok: true,
        adminRoles: [],
      });
    } finally {
      idp.setUserGrant(user.idpUser.oid, undefined);
    }
  });

  describe('refusals of the refresh', () => {
    const cases: Array<{ behavior: UserBehavior; reason: string; cause: RegExp }> = [
      { behavior: 'revoked', reason: 'refused', cause: /revoked.*AADSTS50173/ },
      {
        behavior: 'interaction-required',
        reason: 'refused',
        cause: /multi-factor.*AADSTS50076/,
      },
      {
        behavior: { kind: 'interaction-required', errorCode: 50079 },
        reason: 'refused',
        cause: /multi-factor.*AADSTS50079/,
      },
      { behavior: 'consent-required', reason: 'refused', cause: /consent.*AADSTS65001/ },
      { behavior: 'sign-in-frequency', reason: 'refused', cause: /sign-in frequency.*AADSTS70043/ },
      { behavior: 'server-error', reason: 'unavailable', cause: /right now.*AADSTS90033/ },
      {
        behavior: { kind: 'server-error', status: 500 },
        reason: 'unavailable',
        cause: /right now.*AADSTS50000/,
      },
    ];

    it.each(cases)('$behavior: $reason, naming the cause', async ({ behavior, reason, cause }) => {
      const a = instance(randomBytes(32));
      const user = await kept(a);
      const details = typeof behavior === 'string' ? { kind: behavior } : behavior;
      idp.setUserBehavior(user.idpUser.oid, { ...details, grant: 'refresh_token' });
      try {
        const result = await a.later.tokenFor(user.requester, DATAVERSE);
        expect(result).toEqual({ ok: false, reason, message: expect.stringMatching(cause) });
        expect(idp.tokenRequests.at(-1)).toMatchObject({ grantType: 'refresh_token' });
        // What was kept stays: the removal can try again (and the sign-in still works meanwhile).
        expect((await a.tokens.powerPlatformToken(user.requester)).ok).toBe(true);
      } finally {
        idp.setUserBehavior(user.idpUser.oid, undefined);
      }
      expect((await a.later.tokenFor(user.requester, DATAVERSE)).ok).toBe(true);
    });

    it('a refresh token the identity provider does not know: refused (invalid_grant)', async () => {
      const key = randomBytes(32);
      const a = instance(key);
      const user = newUser();
      const storeKey = laterTokenKey(user.requester);
      const sealed = new SecretBox(key).seal(
        JSON.stringify({ refreshToken: 'rt.unknown', expiresAt: Date.now() + HOUR }),
        storeKey,
      );
      await a.store.writeSecret(storeKey, sealed, new Date(Date.now() + HOUR));
      expect(await a.later.tokenFor(user.requester, DATAVERSE)).toEqual({
        ok: false,
        reason: 'refused',
        message: expect.stringMatching(/no longer accepts.*AADSTS9002313/),
      });
    });
  });

  describe('keep', () => {
    it('without a sign-in: not ok, nothing stored', async () => {
      const a = instance(randomBytes(32));
      const user = newUser();
      const result = await a.later.keep(user.requester, new Date(Date.now() + HOUR));
      expect(result).toEqual({ ok: false, message: expect.stringMatching(/not signed in/) });
      expect(await sealedEntry(a, user)).toBeUndefined();
    });

    it('when Entra refuses the exchange: not ok, naming the cause', async () => {
      const a = instance(randomBytes(32));
      const user = newUser();
      await signIn(a, user);
      idp.setUserBehavior(user.idpUser.oid, 'interaction-required');
      try {
        const result = await a.later.keep(user.requester, new Date(Date.now() + HOUR));
        expect(result).toEqual({
          ok: false,
          message: expect.stringMatching(/multi-factor.*AADSTS50076/),
        });
      } finally {
        idp.setUserBehavior(user.idpUser.oid, undefined);
      }
      expect(await sealedEntry(a, user)).toBeUndefined();
    });

    it('when Entra gives no refresh token: not ok, nothing stored', async () => {
      const withholding = await startIdentityProvider({
        clients: [APP],
        ssoAudiences: AUDIENCES,
        oboResponse: { refreshTokens: false },
      });
      opened.push(withholding);
      const logs: string[] = [];
      const options: SignInOptions = {
        clientId: APP.clientId,
        credential: { secret: APP.clientSecret },
        tenantId: TENANT,
        authorityHost: withholding.url,
        authorityMetadata: { ...withholding.metadata(TENANT) },
        audiences: AUDIENCES,
        allowedTenantIds: [TENANT],
        powerPlatformApiUrl: POWER_PLATFORM,
        logger: createLogger({ level: 'debug', sink: (line) => logs.push(line) }),
        store: instance(undefined).store,
        tokenCacheKey: randomBytes(32),
      };
      const tokens = createDelegatedTokens(options);
      const later = createLaterTokens(options, tokens);
      const user = newUser();
      const ssoToken = await withholding.mintSsoToken(user.idpUser);
      expect(await tokens.signIn(ssoToken, user.requester)).toEqual({ ok: true });
      expect(await later.keep(user.requester, new Date(Date.now() + HOUR))).toEqual({
        ok: false,
        message: expect.stringMatching(/gave me nothing/),
      });
      expect(await options.store!.readSecret(laterTokenKey(user.requester), new Date())).toBe(
        undefined,
      );
      expect(logs.some((l) => l.includes('carried no refresh token'))).toBe(true);
    });
  });
});

describe('LaterTokens without TOKEN_CACHE_KEY: this process only', () => {
  it('keep then tokenFor works in the same instance; another instance (or a restart) has nothing', async () => {
    const a = instance(undefined);
    const user = await kept(a);
    expect(claimsOf(tokenOf(await a.later.tokenFor(user.requester, DATAVERSE)))).toMatchObject({
      aud: DATAVERSE,
      oid: user.idpUser.oid,
    });
    expect(await sealedEntry(a, user)).toBeUndefined();
    expect(a.logs.some((l) => l.includes('kept for later') && l.includes('"memory"'))).toBe(true);

    const restarted = instance(undefined);
    expect(await restarted.later.tokenFor(user.requester, DATAVERSE)).toMatchObject({
      ok: false,
      reason: 'not-kept',
    });
    await a.later.forget(user.requester);
    expect(await a.later.tokenFor(user.requester, DATAVERSE)).toMatchObject({
      reason: 'not-kept',
    });
  });
});

describe('what msal-node 7 does with refresh tokens (the reasons for the code)', () => {
  it('without forceCache, acquireTokenByRefreshToken in a fresh client does not cache the rotated refresh token', async () => {
    const app = msalAppFor(idp, { tenantId: TENANT, ...APP });
    await app.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(newUser().idpUser),
      scopes: [`${POWER_PLATFORM}/.default`],
    });
    const refreshToken = refreshTokenIn(app)!;
    expect(refreshToken).toMatch(/^rt\./);

    const fresh = msalAppFor(idp, { tenantId: TENANT, ...APP });
    await fresh.acquireTokenByRefreshToken({ refreshToken, scopes: [`${DATAVERSE}/.default`] });
    expect(refreshTokenIn(fresh)).toBeUndefined();

    const forced = msalAppFor(idp, { tenantId: TENANT, ...APP });
    await forced.acquireTokenByRefreshToken({
      refreshToken,
      scopes: [`${DATAVERSE}/.default`],
      forceCache: true,
    });
    expect(refreshTokenIn(forced)).toMatch(/^rt\./);
    expect(refreshTokenIn(forced)).not.toBe(refreshToken);
  });
});
