/**
 * Authorization code with PKCE, as the consent page uses it: the authorize endpoint shows no page,
 * it redirects straight back with a single-use code bound to client, redirect URI and challenge.
 */
import { createHash, randomBytes } from 'node:crypto';

import { CryptoProvider, InteractionRequiredAuthError } from '@azure/msal-node';
import { decodeJwt } from 'jose';

import type { IdentityProvider, IdpUser } from '../../../src/sandbox/identity-provider';
import {
  newAdmin,
  POWER_PLATFORM_SCOPE,
  REDIRECT_URI,
  SSO_APP,
  ssoApp,
  startTestProvider,
  TENANT_ID,
} from './fixtures';

function pkce() {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

describe('authorization code with PKCE', () => {
  let idp: IdentityProvider;
  let signedIn: IdpUser;

  beforeAll(async () => {
    signedIn = newAdmin('Default Admin');
    idp = await startTestProvider({ defaultUser: signedIn, codeLifetimeSeconds: 1 });
  });
  afterAll(() => idp.stop());

  function authorizeUrl(params: Record<string, string | undefined>): string {
    const url = new URL(idp.metadata(TENANT_ID).authorization_endpoint);
    const all: Record<string, string | undefined> = {
      client_id: SSO_APP.clientId,
      redirect_uri: REDIRECT_URI,
      response_type: 'code',
      scope: `openid profile ${POWER_PLATFORM_SCOPE}`,
      state: 'state-123',
      code_challenge_method: 'S256',
      ...params,
    };
    for (const [name, value] of Object.entries(all))
      if (value !== undefined) url.searchParams.set(name, value);
    return url.toString();
  }

  /** Follows nothing: the redirect itself is what the browser would see. */
  async function authorize(params: Record<string, string | undefined>) {
    const response = await fetch(authorizeUrl(params), { redirect: 'manual' });
    const location = response.headers.get('location');
    return { response, location: location ? new URL(location) : undefined };
  }

  function redeem(fields: Record<string, string>) {
    return fetch(idp.metadata(TENANT_ID).token_endpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        client_id: SSO_APP.clientId,
        redirect_uri: REDIRECT_URI,
        ...fields,
      }),
    });
  }

  async function codeFor(challenge: string, params: Record<string, string> = {}) {
    const { location } = await authorize({ code_challenge: challenge, ...params });
    const code = location?.searchParams.get('code');
    if (!code) throw new Error(`no code in ${location?.toString()}`);
    return code;
  }

  test('round trip over real HTTP: 302 back with code and state, then tokens for the verifier', async () => {
    const { verifier, challenge } = pkce();
    const { response, location } = await authorize({ code_challenge: challenge, nonce: 'nonce-1' });

    expect(response.status).toBe(302);
    expect(`${location?.origin}${location?.pathname}`).toBe(REDIRECT_URI);
    expect(location?.searchParams.get('state')).toBe('state-123');

    const tokens = await redeem({
      code: location!.searchParams.get('code')!,
      code_verifier: verifier,
    });
    expect(tokens.status).toBe(200);
    const body = (await tokens.json()) as Record<string, string>;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      scope: expect.stringContaining(POWER_PLATFORM_SCOPE),
    });
    expect(decodeJwt(body.id_token!)).toMatchObject({
      aud: SSO_APP.clientId,
      oid: signedIn.oid,
      nonce: 'nonce-1',
      iss: idp.issuer(TENANT_ID),
    });
    expect(decodeJwt(body.access_token!)).toMatchObject({
      aud: 'https://api.powerplatform.com',
      oid: signedIn.oid,
      scp: 'UserManagement.Users.Apply EnvironmentManagement.Environments.Read',
    });
  });

  test('a wrong verifier is refused (AADSTS501481), and that attempt spends the code', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);

    const wrong = await redeem({ code, code_verifier: pkce().verifier });
    expect(wrong.status).toBe(400);
    expect(await wrong.json()).toMatchObject({ error: 'invalid_grant', error_codes: [501481] });

    const retry = await redeem({ code, code_verifier: verifier });
    expect(await retry.json()).toMatchObject({ error: 'invalid_grant', error_codes: [54005] });
  });

  test('a code is single use: the second redemption is AADSTS54005', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    expect((await redeem({ code, code_verifier: verifier })).status).toBe(200);

    const again = await redeem({ code, code_verifier: verifier });
    expect(again.status).toBe(400);
    expect(await again.json()).toMatchObject({ error: 'invalid_grant', error_codes: [54005] });
  });

  test('a code is bound to its redirect URI and its client', async () => {
    const first = pkce();
    const otherRedirect = await redeem({
      code: await codeFor(first.challenge),
      code_verifier: first.verifier,
      redirect_uri: 'https://bot.example/elsewhere.html',
    });
    expect(await otherRedirect.json()).toMatchObject({
      error: 'invalid_grant',
      error_codes: [70000],
    });

    const wrongSecret = await redeem({
      code: await codeFor(first.challenge),
      code_verifier: first.verifier,
      client_secret: 'not-the-secret',
    });
    expect(wrongSecret.status).toBe(401);
  });

  test('a code expires (AADSTS70008)', async () => {
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await (await redeem({ code, code_verifier: verifier })).json()).toMatchObject({
      error_codes: [70008],
    });
  });

  test('an unregistered redirect URI gets an error page, never a redirect', async () => {
    const { response, location } = await authorize({
      code_challenge: pkce().challenge,
      redirect_uri: 'https://attacker.example/steal',
    });
    expect(response.status).toBe(400);
    expect(location).toBeUndefined();
    expect(await response.text()).toContain('AADSTS50011');
  });

  test('an unknown client gets an error page too', async () => {
    const { response, location } = await authorize({
      code_challenge: pkce().challenge,
      client_id: 'nobody',
    });
    expect(response.status).toBe(400);
    expect(location).toBeUndefined();
  });

  test('without an S256 challenge the redirect carries invalid_request', async () => {
    for (const params of [
      {},
      { code_challenge: pkce().challenge, code_challenge_method: 'plain' },
    ]) {
      const { response, location } = await authorize(params);
      expect(response.status).toBe(302);
      expect(location?.searchParams.get('error')).toBe('invalid_request');
      expect(location?.searchParams.get('state')).toBe('state-123');
      expect(location?.searchParams.get('code')).toBeNull();
    }
  });

  test('login_hint signs in a user registered with addUser; an unknown hint is login_required', async () => {
    const helga = newAdmin('Helga');
    idp.addUser(helga);
    const { verifier, challenge } = pkce();
    const code = await codeFor(challenge, { login_hint: helga.upn! });
    const body = (await (await redeem({ code, code_verifier: verifier })).json()) as Record<
      string,
      string
    >;
    expect(decodeJwt(body.id_token!)).toMatchObject({
      oid: helga.oid,
      preferred_username: helga.upn,
    });

    const { location } = await authorize({
      code_challenge: challenge,
      login_hint: 'nobody@contoso.example',
    });
    expect(location?.searchParams.get('error')).toBe('login_required');
  });

  test('real msal-node: getAuthCodeUrl, then acquireTokenByCode with the PKCE verifier', async () => {
    const msal = ssoApp(idp);
    const { verifier, challenge } = await new CryptoProvider().generatePkceCodes();
    const url = await msal.getAuthCodeUrl({
      scopes: [POWER_PLATFORM_SCOPE],
      redirectUri: REDIRECT_URI,
      codeChallenge: challenge,
      codeChallengeMethod: 'S256',
      state: 'msal-state',
    });
    expect(url.startsWith(idp.metadata(TENANT_ID).authorization_endpoint)).toBe(true);

    const redirect = await fetch(url, { redirect: 'manual' });
    const location = new URL(redirect.headers.get('location')!);
    const result = await msal.acquireTokenByCode({
      code: location.searchParams.get('code')!,
      scopes: [POWER_PLATFORM_SCOPE],
      redirectUri: REDIRECT_URI,
      codeVerifier: verifier,
    });

    expect(result.account).toMatchObject({
      localAccountId: signedIn.oid,
      username: signedIn.upn,
      tenantId: TENANT_ID,
    });
    expect(decodeJwt(result.accessToken).aud).toBe('https://api.powerplatform.com');
  });
});

describe('the consent story', () => {
  test('consent-required until the user signs in through the consent page; then on-behalf-of succeeds', async () => {
    const user = newAdmin();
    const idp = await startTestProvider({ users: [user] });
    try {
      idp.setUserBehavior(user.oid, 'consent-required');
      const assertion = await idp.mintSsoToken(user);
      const exchange = () =>
        ssoApp(idp).acquireTokenOnBehalfOf({
          oboAssertion: assertion,
          scopes: [POWER_PLATFORM_SCOPE],
        });
      await expect(exchange()).rejects.toBeInstanceOf(InteractionRequiredAuthError);

      const { challenge } = pkce();
      const url = new URL(idp.metadata(TENANT_ID).authorization_endpoint);
      url.search = new URLSearchParams({
        client_id: SSO_APP.clientId,
        redirect_uri: REDIRECT_URI,
        response_type: 'code',
        scope: POWER_PLATFORM_SCOPE,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        login_hint: user.upn!,
      }).toString();
      expect((await fetch(url, { redirect: 'manual' })).status).toBe(302);

      await expect(exchange()).resolves.toMatchObject({ fromCache: false });
    } finally {
      await idp.stop();
    }
  });
});
