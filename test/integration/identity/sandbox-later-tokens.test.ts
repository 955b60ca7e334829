/**
 * The sandbox's LaterTokens: the production code against the local identity provider, signing the
 * user in silently first (as the Playground cannot do Teams SSO), so that a time-boxed elevation's
 * end removes the role as the user there too, and a revoked session shows as a refusal.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ElevationStore } from '../../../src/elevation/ports';
import type { Requester } from '../../../src/elevation/request';
import { silentLogger } from '../../../src/log';
import { SANDBOX_TENANT_ID, SANDBOX_USERS } from '../../../src/sandbox/directory';
import { type SandboxIdentity, startSandboxIdentity } from '../../../src/sandbox/sandbox-sign-in';
import { SqliteStore } from '../../../src/store/sqlite-store';

const POWER_PLATFORM = 'https://api.powerplatform.com';
const DATAVERSE = 'https://contoso-dev.crm.dynamics.com';

let dir: string;
let store: ElevationStore;
let identity: SandboxIdentity;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sandbox-later-'));
  store = new SqliteStore({ path: join(dir, 'bot.db') });
  identity = await startSandboxIdentity({
    powerPlatformApiUrl: POWER_PLATFORM,
    allowedTenantIds: [SANDBOX_TENANT_ID],
    logger: silentLogger,
    store,
    tokenCacheKey: randomBytes(32),
  });
});

afterEach(async () => {
  await identity.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function requester(index: number): Requester {
  const user = SANDBOX_USERS[index]!;
  return { aadObjectId: user.oid, tenantId: SANDBOX_TENANT_ID, name: user.name };
}

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

describe('the sandbox LaterTokens', () => {
  it('keeps for a user who never signed in (signing in silently), then gives their Dataverse token', async () => {
    const user = requester(0);
    expect(await identity.delegated.assertionOf(user)).toBeUndefined();
    expect(await identity.laterTokens.keep(user, new Date(Date.now() + 3600_000))).toEqual({
      ok: true,
    });
    const result = await identity.laterTokens.tokenFor(user, DATAVERSE);
    if (!result.ok) throw new Error(result.message);
    expect(claimsOf(result.token)).toMatchObject({ aud: DATAVERSE, oid: user.aadObjectId });
    expect(result.adminRoles).toEqual(['Power Platform Administrator']);
    const grants = identity.identityProvider.tokenRequests.map((r) => r.grantType);
    expect(grants.filter((g) => g === 'refresh_token')).toHaveLength(1);
  });

  it('a session revoked at the identity provider: the refresh is refused, while signing in still works', async () => {
    const user = requester(1);
    expect((await identity.laterTokens.keep(user, new Date(Date.now() + 3600_000))).ok).toBe(true);
    identity.identityProvider.setUserBehavior(user.aadObjectId, {
      kind: 'revoked',
      grant: 'refresh_token',
    });
    expect(await identity.laterTokens.tokenFor(user, DATAVERSE)).toMatchObject({
      ok: false,
      reason: 'refused',
      message: expect.stringMatching(/revoked/),
    });
    expect((await identity.signIn.resourceToken(user, DATAVERSE)).ok).toBe(true);
    await identity.laterTokens.forget(user);
    expect(await identity.laterTokens.tokenFor(user, DATAVERSE)).toMatchObject({
      reason: 'not-kept',
    });
  });
});
