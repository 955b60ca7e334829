/** The on-behalf-of exchange as the bot will make it: real msal-node against the provider over HTTP. */
import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';

import { createLogger } from '../../../src/log';
import type { IdentityProvider } from '../../../src/sandbox/identity-provider';
import { forwardingNetworkClient, type ForwardedRequest } from '../../support/identity-msal';
import {
  newAdmin,
  POWER_PLATFORM_SCOPE,
  rejectionOf,
  SSO_APP,
  ssoApp,
  startTestProvider,
  TENANT_ID,
} from './fixtures';

const POWER_PLATFORM = 'https://api.powerplatform.com';

describe('on-behalf-of with real msal-node', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());
  beforeEach(() => {
    idp.tokenRequests.length = 0;
  });

  test('trades a Teams SSO token for a Power Platform token that carries the user and the permissions', async () => {
    const user = newAdmin();
    const assertion = await idp.mintSsoToken(user);

    const result = await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: assertion,
      scopes: [POWER_PLATFORM_SCOPE],
    });

    expect(result?.fromCache).toBe(false);
    const { payload, protectedHeader } = await jwtVerify(
      result!.accessToken,
      createRemoteJWKSet(new URL(idp.metadata(TENANT_ID).jwks_uri)),
      { issuer: idp.issuer(TENANT_ID), audience: POWER_PLATFORM, algorithms: ['RS256'] },
    );
    expect(protectedHeader.kid).toBe(idp.currentKeyId);
    expect(payload).toMatchObject({
      aud: POWER_PLATFORM,
      oid: user.oid,
      tid: TENANT_ID,
      upn: user.upn,
      name: user.name,
      azp: SSO_APP.clientId,
      scp: 'UserManagement.Users.Apply EnvironmentManagement.Environments.Read',
      wids: ['11648597-926c-4cf3-9c36-bcebb0ba8dcc'],
    });
    expect(result?.scopes).toContain(POWER_PLATFORM_SCOPE);
    // Built from the id_token and client_info the provider sends, as Entra does.
    expect(result?.account).toMatchObject({
      localAccountId: user.oid,
      tenantId: TENANT_ID,
      username: user.upn,
    });
  });

  test('records each token request without the assertion or the client secret', async () => {
    const user = newAdmin();
    const assertion = await idp.mintSsoToken(user);
    await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: assertion,
      scopes: [POWER_PLATFORM_SCOPE],
    });

    expect(idp.tokenRequests).toEqual([
      expect.objectContaining({
        grantType: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        clientId: SSO_APP.clientId,
        requestedTokenUse: 'on_behalf_of',
        scope: expect.stringContaining(POWER_PLATFORM_SCOPE),
        tenant: TENANT_ID,
        oid: user.oid,
        status: 200,
      }),
    ]);
    const recorded = JSON.stringify(idp.tokenRequests);
    expect(recorded).not.toContain(assertion);
    expect(recorded).not.toContain(SSO_APP.clientSecret);
  });

  test('a second exchange of the same assertion for the same scopes comes from msal’s cache', async () => {
    const msal = ssoApp(idp);
    const assertion = await idp.mintSsoToken(newAdmin());

    const first = await msal.acquireTokenOnBehalfOf({
      oboAssertion: assertion,
      scopes: [POWER_PLATFORM_SCOPE],
    });
    const second = await msal.acquireTokenOnBehalfOf({
      oboAssertion: assertion,
      scopes: [POWER_PLATFORM_SCOPE],
    });

    expect(second?.fromCache).toBe(true);
    expect(second?.accessToken).toBe(first?.accessToken);
    expect(idp.tokenRequests).toHaveLength(1);
  });

  test('another user’s assertion never gets the first user’s cached token', async () => {
    const msal = ssoApp(idp);
    const alice = newAdmin('Alice');
    const bob = newAdmin('Bob');

    await msal.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(alice),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    const forBob = await msal.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(bob),
      scopes: [POWER_PLATFORM_SCOPE],
    });

    expect(forBob?.fromCache).toBe(false);
    expect(decodeJwt(forBob!.accessToken).oid).toBe(bob.oid);
    expect(idp.tokenRequests).toHaveLength(2);
  });

  test('a new SSO token for the same user is a new cache key: msal goes back to the provider', async () => {
    const msal = ssoApp(idp);
    const user = newAdmin();
    await msal.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    const again = await msal.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user, { claims: { uti: 'another-token' } }),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(again?.fromCache).toBe(false);
  });

  test('setUserGrant shapes the permissions and roles of issued tokens', async () => {
    const user = newAdmin();
    idp.setUserGrant(user.oid, {
      scp: ['EnvironmentManagement.Environments.Read'],
      wids: ['62e90394-69f5-4237-9190-012177145e10'],
    });
    const result = await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(decodeJwt(result!.accessToken)).toMatchObject({
      scp: 'EnvironmentManagement.Environments.Read',
      wids: ['62e90394-69f5-4237-9190-012177145e10'],
    });
  });

  test('roles are copied from the assertion: an SSO token without wids gives a token without wids', async () => {
    const user = newAdmin();
    const result = await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user, { omit: ['wids'] }),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(decodeJwt(result!.accessToken).wids).toBeUndefined();
  });

  test('a permission asked by name is issued when granted, and is a consent error when not', async () => {
    const user = newAdmin();
    const msal = ssoApp(idp);
    const apply = `${POWER_PLATFORM}/UserManagement.Users.Apply`;

    const granted = await msal.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user),
      scopes: [apply],
    });
    expect(decodeJwt(granted!.accessToken).scp).toBe('UserManagement.Users.Apply');

    idp.setUserGrant(user.oid, { scp: 'EnvironmentManagement.Environments.Read' });
    const error = await rejectionOf(
      ssoApp(idp).acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(user),
        scopes: [apply],
      }),
    );
    expect(error.name).toBe('InteractionRequiredAuthError');
    expect(error).toMatchObject({
      errorCode: 'invalid_grant',
      subError: 'consent_required',
      errorNo: 65001,
    });
  });

  test('missing-permission: the exchange succeeds but the token lacks UserManagement.Users.Apply', async () => {
    const user = newAdmin();
    idp.setUserBehavior(user.oid, 'missing-permission');
    const result = await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(decodeJwt(result!.accessToken).scp).toBe('EnvironmentManagement.Environments.Read');
    expect(result?.scopes).not.toContain(`${POWER_PLATFORM}/UserManagement.Users.Apply`);
  });

  test('works as well with fake https endpoints and a network client that forwards them', async () => {
    const sent: ForwardedRequest[] = [];
    const msal = ssoApp(idp, {
      endpoints: 'fake-https',
      networkClient: forwardingNetworkClient(idp, sent),
    });
    const assertion = await idp.mintSsoToken(newAdmin());

    const first = await msal.acquireTokenOnBehalfOf({
      oboAssertion: assertion,
      scopes: [POWER_PLATFORM_SCOPE],
    });
    const second = await msal.acquireTokenOnBehalfOf({
      oboAssertion: assertion,
      scopes: [POWER_PLATFORM_SCOPE],
    });

    expect(first?.fromCache).toBe(false);
    expect(second?.fromCache).toBe(true);
    // No discovery, no instance discovery: the token endpoint is the only call msal makes.
    expect(sent).toEqual([
      {
        method: 'POST',
        url: expect.stringMatching(`^https://login.local/${TENANT_ID}/oauth2/v2.0/token`),
      },
    ]);
  });
});

describe('what msal-node’s cache depends on in the answer', () => {
  test('without `.default` echoed back in `scope`, every exchange goes to the provider', async () => {
    const idp = await startTestProvider({ oboResponse: { echoDefaultScope: false } });
    try {
      const msal = ssoApp(idp);
      const assertion = await idp.mintSsoToken(newAdmin());
      await msal.acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [POWER_PLATFORM_SCOPE],
      });
      const second = await msal.acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [POWER_PLATFORM_SCOPE],
      });
      expect(second?.fromCache).toBe(false);
      expect(idp.tokenRequests).toHaveLength(2);
    } finally {
      await idp.stop();
    }
  });

  test('without id_token and client_info msal still caches, but returns no account', async () => {
    const idp = await startTestProvider({ oboResponse: { accountTokens: false } });
    try {
      const msal = ssoApp(idp);
      const assertion = await idp.mintSsoToken(newAdmin());
      const first = await msal.acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [POWER_PLATFORM_SCOPE],
      });
      const second = await msal.acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [POWER_PLATFORM_SCOPE],
      });
      expect(first?.account).toBeNull();
      expect(second?.fromCache).toBe(true);
    } finally {
      await idp.stop();
    }
  });
});

describe('logging', () => {
  test('one line per token request, with the outcome but never a token, assertion or secret', async () => {
    const lines: string[] = [];
    const idp = await startTestProvider({
      logger: createLogger({ sink: (line) => lines.push(line) }),
    });
    try {
      const user = newAdmin();
      const assertion = await idp.mintSsoToken(user);
      const result = await ssoApp(idp).acquireTokenOnBehalfOf({
        oboAssertion: assertion,
        scopes: [POWER_PLATFORM_SCOPE],
      });

      const tokenLines = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((e) => e.msg === 'token request');
      expect(tokenLines).toEqual([
        expect.objectContaining({
          component: 'identity-provider',
          status: 200,
          oid: user.oid,
          tenant: TENANT_ID,
        }),
      ]);
      const everything = lines.join('\n');
      for (const secret of [assertion, result!.accessToken, SSO_APP.clientSecret]) {
        expect(everything).not.toContain(secret);
      }
    } finally {
      await idp.stop();
    }
  });
});
