/**
 * The refresh-token grant, with real msal-node and with raw form posts: on-behalf-of answers carry a
 * refresh token when `offline_access` is asked (msal always asks), redeeming it gives an access
 * token for another resource and a rotated refresh token (the old one stays valid, as Entra's do
 * for confidential clients), and each refusal comes in Entra's words.
 */
import { randomBytes } from 'node:crypto';

import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';

import type {
  EntraErrorBody,
  IdentityProvider,
  IdpUser,
  TokenResponseBody,
  UserBehavior,
} from '../../../src/sandbox/identity-provider';
import {
  newAdmin,
  POWER_PLATFORM_SCOPE,
  rejectionOf,
  SSO_APP,
  ssoApp,
  startTestProvider,
  TENANT_ID,
} from './fixtures';

const DATAVERSE = 'https://contoso-dev.crm.dynamics.com';
const OTHER_APP = {
  clientId: 'd00dfeed-2222-4333-8444-555566667777',
  clientSecret: 'other-secret',
};
const OBO = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

function claimsOf(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

describe('the refresh-token grant', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider({ clients: [SSO_APP, OTHER_APP] });
  });
  afterAll(() => idp.stop());
  beforeEach(() => {
    idp.tokenRequests.length = 0;
  });

  async function token(
    form: Record<string, string>,
  ): Promise<{ status: number; body: TokenResponseBody & EntraErrorBody }> {
    const response = await fetch(`${idp.url}/${TENANT_ID}/oauth2/v2.0/token`, {
      method: 'POST',
      body: new URLSearchParams(form),
    });
    return {
      status: response.status,
      body: (await response.json()) as TokenResponseBody & EntraErrorBody,
    };
  }

  /** An on-behalf-of exchange as msal sends it (with `offline_access`); its refresh token. */
  async function refreshTokenOf(user: IdpUser, app = SSO_APP): Promise<string> {
    const { status, body } = await token({
      grant_type: OBO,
      client_id: app.clientId,
      client_secret: app.clientSecret,
      assertion: await idp.mintSsoToken(user),
      requested_token_use: 'on_behalf_of',
      scope: `${POWER_PLATFORM_SCOPE} openid profile offline_access`,
    });
    expect(status).toBe(200);
    expect(body.refresh_token).toEqual(expect.any(String));
    return body.refresh_token!;
  }

  function refresh(refreshToken: string, app = SSO_APP, scope = `${DATAVERSE}/.default`) {
    return token({
      grant_type: 'refresh_token',
      client_id: app.clientId,
      client_secret: app.clientSecret,
      refresh_token: refreshToken,
      scope: `${scope} openid profile offline_access`,
    });
  }

  test('msal-node asks offline_access on-behalf-of and caches the refresh token the answer carries', async () => {
    const app = ssoApp(idp);
    await app.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(newAdmin()),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(idp.tokenRequests.at(-1)?.scope?.split(' ')).toContain('offline_access');
    const cache = JSON.parse(app.getTokenCache().serialize()) as {
      RefreshToken: Record<string, { secret: string }>;
    };
    const secrets = Object.values(cache.RefreshToken).map((rt) => rt.secret);
    expect(secrets).toHaveLength(1);
    expect(secrets[0]).toMatch(/^rt\./);
  });

  test('without offline_access an on-behalf-of answer has no refresh token', async () => {
    const { status, body } = await token({
      grant_type: OBO,
      client_id: SSO_APP.clientId,
      client_secret: SSO_APP.clientSecret,
      assertion: await idp.mintSsoToken(newAdmin()),
      requested_token_use: 'on_behalf_of',
      scope: POWER_PLATFORM_SCOPE,
    });
    expect(status).toBe(200);
    expect(body.access_token).toEqual(expect.any(String));
    expect(body).not.toHaveProperty('refresh_token');
  });

  test('msal acquireTokenByRefreshToken: a token of that user for another resource, recorded without the refresh token', async () => {
    const user = newAdmin();
    const refreshToken = await refreshTokenOf(user);
    const result = await ssoApp(idp).acquireTokenByRefreshToken({
      refreshToken,
      scopes: [`${DATAVERSE}/.default`],
    });
    expect(claimsOf(result!.accessToken)).toMatchObject({
      aud: DATAVERSE,
      oid: user.oid,
      tid: TENANT_ID,
      azp: SSO_APP.clientId,
    });
    const record = idp.tokenRequests.at(-1)!;
    expect(record).toMatchObject({ grantType: 'refresh_token', oid: user.oid, status: 200 });
    expect(JSON.stringify(idp.tokenRequests)).not.toContain(refreshToken);
  });

  test('the answer rotates the refresh token; the old one and the new one both stay valid', async () => {
    const user = newAdmin();
    const first = await refreshTokenOf(user);
    const once = await refresh(first);
    expect(once.status).toBe(200);
    const second = once.body.refresh_token!;
    expect(second).toEqual(expect.any(String));
    expect(second).not.toBe(first);
    // Two instances redeeming the same token near-simultaneously both succeed.
    const [again, fromSecond] = await Promise.all([refresh(first), refresh(second)]);
    expect([again.status, fromSecond.status]).toEqual([200, 200]);
    expect(claimsOf(fromSecond.body.access_token).oid).toBe(user.oid);
  });

  test('the roles in the token are the ones the user holds at the refresh (an ended PIM activation shows)', async () => {
    const user = newAdmin();
    const refreshToken = await refreshTokenOf(user);
    idp.setUserGrant(user.oid, { wids: [] });
    const { body } = await refresh(refreshToken);
    expect(claimsOf(body.access_token).wids).toEqual([]);
  });

  test('an unknown refresh token is invalid_grant AADSTS9002313', async () => {
    const { status, body } = await refresh('rt.not-one-this-provider-issued');
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_grant', error_codes: [9002313] });
  });

  test('an expired refresh token is invalid_grant AADSTS700082', async () => {
    const shortLived = await startTestProvider({ refreshTokenLifetimeSeconds: 0 });
    try {
      const response = await fetch(`${shortLived.url}/${TENANT_ID}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: OBO,
          client_id: SSO_APP.clientId,
          client_secret: SSO_APP.clientSecret,
          assertion: await shortLived.mintSsoToken(newAdmin()),
          requested_token_use: 'on_behalf_of',
          scope: `${POWER_PLATFORM_SCOPE} offline_access`,
        }),
      });
      const { refresh_token } = (await response.json()) as TokenResponseBody;
      const error = await rejectionOf(
        ssoApp(shortLived).acquireTokenByRefreshToken({
          refreshToken: refresh_token!,
          scopes: [`${DATAVERSE}/.default`],
        }),
      );
      expect(error).toBeInstanceOf(ServerError);
      expect(error).toMatchObject({ errorCode: 'invalid_grant', errorNo: 700082 });
    } finally {
      await shortLived.stop();
    }
  });

  test("providers given one refresh token key redeem each other's tokens (instances of one bot at one Entra); others do not", async () => {
    const key = randomBytes(32);
    const [first, second, stranger] = await Promise.all([
      startTestProvider({ refreshTokenKey: key }),
      startTestProvider({ refreshTokenKey: key }),
      startTestProvider(),
    ]);
    try {
      const user = newAdmin();
      const response = await fetch(`${first.url}/${TENANT_ID}/oauth2/v2.0/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: OBO,
          client_id: SSO_APP.clientId,
          client_secret: SSO_APP.clientSecret,
          assertion: await first.mintSsoToken(user),
          requested_token_use: 'on_behalf_of',
          scope: `${POWER_PLATFORM_SCOPE} offline_access`,
        }),
      });
      const { refresh_token } = (await response.json()) as TokenResponseBody;
      const redeemed = await ssoApp(second).acquireTokenByRefreshToken({
        refreshToken: refresh_token!,
        scopes: [`${DATAVERSE}/.default`],
      });
      expect(claimsOf(redeemed!.accessToken)).toMatchObject({ oid: user.oid, aud: DATAVERSE });
      const error = await rejectionOf(
        ssoApp(stranger).acquireTokenByRefreshToken({
          refreshToken: refresh_token!,
          scopes: [`${DATAVERSE}/.default`],
        }),
      );
      expect(error).toMatchObject({ errorCode: 'invalid_grant', errorNo: 9002313 });
      // One character changed anywhere in the sealed token: not one the key sealed.
      const altered = `${refresh_token!.slice(0, -2)}${refresh_token!.endsWith('A') ? 'B' : 'A'}${refresh_token!.slice(-1)}`;
      const tampered = await rejectionOf(
        ssoApp(second).acquireTokenByRefreshToken({
          refreshToken: altered,
          scopes: [`${DATAVERSE}/.default`],
        }),
      );
      expect(tampered).toMatchObject({ errorCode: 'invalid_grant', errorNo: 9002313 });
    } finally {
      await Promise.all([first.stop(), second.stop(), stranger.stop()]);
    }
  });

  test("another client's refresh token is invalid_grant AADSTS70000", async () => {
    const refreshToken = await refreshTokenOf(newAdmin(), OTHER_APP);
    const { status, body } = await refresh(refreshToken, SSO_APP);
    expect(status).toBe(400);
    expect(body).toMatchObject({ error: 'invalid_grant', error_codes: [70000] });
  });

  test('the client must authenticate as for on-behalf-of: a wrong secret is invalid_client', async () => {
    const refreshToken = await refreshTokenOf(newAdmin());
    const { status, body } = await refresh(refreshToken, {
      ...SSO_APP,
      clientSecret: 'not-the-secret',
    });
    expect(status).toBe(401);
    expect(body).toMatchObject({ error: 'invalid_client', error_codes: [7000215] });
    const { status: without } = await token({
      grant_type: 'refresh_token',
      client_id: SSO_APP.clientId,
      refresh_token: refreshToken,
      scope: `${DATAVERSE}/.default`,
    });
    expect(without).toBe(401);
  });

  test('a refresh without refresh_token or scope is invalid_request', async () => {
    const missingToken = await token({
      grant_type: 'refresh_token',
      client_id: SSO_APP.clientId,
      client_secret: SSO_APP.clientSecret,
      scope: `${DATAVERSE}/.default`,
    });
    expect(missingToken.body).toMatchObject({ error: 'invalid_request', error_codes: [900144] });
    expect(missingToken.body.error_description).toContain("'refresh_token'");
  });

  describe('per-user refusals aimed at the refresh grant only', () => {
    const cases: Array<{
      behavior: UserBehavior;
      status: number;
      error: string;
      code: number;
      interaction: boolean;
    }> = [
      {
        behavior: { kind: 'revoked', grant: 'refresh_token' },
        status: 400,
        error: 'invalid_grant',
        code: 50173,
        interaction: false,
      },
      {
        behavior: { kind: 'interaction-required', grant: 'refresh_token' },
        status: 400,
        error: 'interaction_required',
        code: 50076,
        interaction: true,
      },
      {
        behavior: { kind: 'interaction-required', errorCode: 50079, grant: 'refresh_token' },
        status: 400,
        error: 'interaction_required',
        code: 50079,
        interaction: true,
      },
      {
        behavior: { kind: 'consent-required', grant: 'refresh_token' },
        status: 400,
        error: 'invalid_grant',
        code: 65001,
        interaction: true,
      },
      {
        behavior: { kind: 'sign-in-frequency', grant: 'refresh_token' },
        status: 400,
        error: 'invalid_grant',
        code: 70043,
        interaction: false,
      },
      {
        behavior: { kind: 'server-error', grant: 'refresh_token' },
        status: 503,
        error: 'temporarily_unavailable',
        code: 90033,
        interaction: false,
      },
    ];

    test.each(cases)(
      '$behavior.kind ($code): on-behalf-of still works, the refresh is refused',
      async ({ behavior, status, error, code, interaction }) => {
        const user = newAdmin();
        idp.setUserBehavior(user.oid, behavior);
        const refreshToken = await refreshTokenOf(user);
        const raw = await refresh(refreshToken);
        expect(raw.status).toBe(status);
        expect(raw.body).toMatchObject({ error, error_codes: [code] });
        expect(idp.tokenRequests.at(-1)).toMatchObject({
          grantType: 'refresh_token',
          oid: user.oid,
          status,
          errorCode: code,
        });

        const thrown = await rejectionOf(
          ssoApp(idp).acquireTokenByRefreshToken({
            refreshToken,
            scopes: [`${DATAVERSE}/.default`],
          }),
        );
        expect(thrown instanceof InteractionRequiredAuthError).toBe(interaction);
        expect(thrown).toMatchObject({ errorCode: error, errorNo: code });

        idp.setUserBehavior(user.oid, undefined);
        expect((await refresh(refreshToken)).status).toBe(200);
      },
    );

    test('a behavior without `grant` applies to both; one aimed at on-behalf-of spares the refresh', async () => {
      const user = newAdmin();
      const refreshToken = await refreshTokenOf(user);
      idp.setUserBehavior(user.oid, 'revoked');
      expect((await refresh(refreshToken)).body.error_codes).toEqual([50173]);
      const obo = await rejectionOf(
        ssoApp(idp).acquireTokenOnBehalfOf({
          oboAssertion: await idp.mintSsoToken(user),
          scopes: [POWER_PLATFORM_SCOPE],
        }),
      );
      expect(obo).toMatchObject({ errorNo: 50173 });

      idp.setUserBehavior(user.oid, { kind: 'consent-required', grant: 'on_behalf_of' });
      expect((await refresh(refreshToken)).status).toBe(200);
    });
  });
});
