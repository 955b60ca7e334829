/**
 * Step-up to a Conditional Access authentication context at the local identity provider, with
 * real msal-node over HTTP: on-behalf-of with claims is refused with the challenge (a Teams SSO
 * token never carries `acrs`), the authorize endpoint with the claims gives tokens that carry
 * them, and a refresh with the same claims keeps them for the step-up's lifetime only.
 */
import { createHash, randomBytes } from 'node:crypto';

import { InteractionRequiredAuthError } from '@azure/msal-node';
import { decodeJwt } from 'jose';

import type { IdentityProvider, IdpUser } from '../../../src/sandbox/identity-provider';
import {
  newAdmin,
  POWER_PLATFORM_SCOPE,
  REDIRECT_URI,
  rejectionOf,
  SSO_APP,
  ssoApp,
  startTestProvider,
  TENANT_ID,
} from './fixtures';

const C1 = JSON.stringify({ access_token: { acrs: { essential: true, value: 'c1' } } });
const LIFETIME_SECONDS = 3600;

describe('step-up to an authentication context', () => {
  let idp: IdentityProvider;
  let offsetMs = 0;

  beforeAll(async () => {
    idp = await startTestProvider({
      stepUpLifetimeSeconds: LIFETIME_SECONDS,
      now: () => Date.now() + offsetMs,
    });
  });
  afterAll(() => idp.stop());
  beforeEach(() => {
    offsetMs = 0;
    idp.tokenRequests.length = 0;
  });

  /** The user completes the sign-in with `claims` (the browser's part), then msal redeems the code. */
  async function stepUp(user: IdpUser, claims = C1) {
    idp.addUser(user);
    const app = ssoApp(idp);
    const verifier = randomBytes(32).toString('base64url');
    const url = await app.getAuthCodeUrl({
      scopes: [POWER_PLATFORM_SCOPE],
      redirectUri: REDIRECT_URI,
      codeChallenge: createHash('sha256').update(verifier).digest('base64url'),
      codeChallengeMethod: 'S256',
      state: 'state-1',
      claims,
      loginHint: user.upn,
    });
    const response = await fetch(url, { redirect: 'manual' });
    expect(response.status).toBe(302);
    const code = new URL(response.headers.get('location')!).searchParams.get('code');
    expect(code).toBeTruthy();
    const result = await app.acquireTokenByCode({
      code: code!,
      scopes: [POWER_PLATFORM_SCOPE],
      redirectUri: REDIRECT_URI,
      codeVerifier: verifier,
      claims,
    });
    return { app, result };
  }

  test('on-behalf-of asking c1 with a Teams SSO token: interaction_required with the claims challenge', async () => {
    const user = newAdmin();
    const error = await rejectionOf(
      ssoApp(idp).acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(user),
        scopes: [POWER_PLATFORM_SCOPE],
        claims: C1,
      }),
    );

    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error.errorMessage).toMatch(/^AADSTS50076:/);
    expect(JSON.parse((error as unknown as InteractionRequiredAuthError).claims)).toEqual({
      access_token: { acrs: { essential: true, value: 'c1' } },
    });
    const [request] = idp.tokenRequests;
    expect(request).toMatchObject({
      requestedTokenUse: 'on_behalf_of',
      oid: user.oid,
      status: 400,
      error: 'interaction_required',
      errorCode: 50076,
    });
    // msal-node adds its own id_token claims beside the challenge.
    expect(JSON.parse(request!.claims!)).toMatchObject(JSON.parse(C1));
  });

  test('on-behalf-of without claims is unchanged: a token, no acrs, no claims recorded', async () => {
    const user = newAdmin();
    const result = await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user),
      scopes: [POWER_PLATFORM_SCOPE],
    });

    expect(decodeJwt(result!.accessToken)).not.toHaveProperty('acrs');
    expect(idp.tokenRequests).toHaveLength(1);
    expect(idp.tokenRequests[0]).toMatchObject({ status: 200, oid: user.oid });
    expect(idp.tokenRequests[0]!.claims).toBeUndefined();
  });

  test('the authorize endpoint with claims: the access and id tokens carry acrs', async () => {
    const user = newAdmin();
    const { result } = await stepUp(user);

    expect(decodeJwt(result!.accessToken)).toMatchObject({ oid: user.oid, acrs: ['c1'] });
    expect(decodeJwt(result!.idToken)).toMatchObject({ oid: user.oid, acrs: ['c1'] });
    expect(result?.account?.localAccountId).toBe(user.oid);
  });

  test('a sign-in without claims gives tokens without acrs', async () => {
    const user = newAdmin();
    const { result } = await stepUp(user, '');

    expect(decodeJwt(result!.accessToken)).not.toHaveProperty('acrs');
  });

  test('a refresh with the same claims keeps acrs within the lifetime, and is refused with the challenge after', async () => {
    const user = newAdmin();
    const { app, result } = await stepUp(user);
    idp.tokenRequests.length = 0;

    offsetMs = (LIFETIME_SECONDS - 60) * 1000;
    const refreshed = await app.acquireTokenSilent({
      account: result!.account!,
      scopes: [POWER_PLATFORM_SCOPE],
      claims: C1,
    });
    expect(refreshed.fromCache).toBe(false);
    expect(decodeJwt(refreshed.accessToken)).toMatchObject({ oid: user.oid, acrs: ['c1'] });
    expect(idp.tokenRequests[0]).toMatchObject({ grantType: 'refresh_token', status: 200 });

    offsetMs = (LIFETIME_SECONDS + 60) * 1000;
    const error = await rejectionOf(
      app.acquireTokenSilent({
        account: result!.account!,
        scopes: [POWER_PLATFORM_SCOPE],
        claims: C1,
      }),
    );
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(JSON.parse((error as unknown as InteractionRequiredAuthError).claims)).toEqual(
      JSON.parse(C1),
    );
    expect(idp.tokenRequests[1]).toMatchObject({
      grantType: 'refresh_token',
      status: 400,
      error: 'interaction_required',
    });
  });

  test('a refresh asking another context than the one stepped up to is refused', async () => {
    const user = newAdmin();
    const { app, result } = await stepUp(user);
    const c2 = JSON.stringify({ access_token: { acrs: { essential: true, value: 'c2' } } });

    const error = await rejectionOf(
      app.acquireTokenSilent({
        account: result!.account!,
        scopes: [POWER_PLATFORM_SCOPE],
        claims: c2,
      }),
    );
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(JSON.parse((error as unknown as InteractionRequiredAuthError).claims)).toEqual(
      JSON.parse(c2),
    );
  });

  test('malformed claims are refused as a bad request', async () => {
    const response = await fetch(idp.metadata(TENANT_ID).token_endpoint, {
      method: 'POST',
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        client_id: SSO_APP.clientId,
        client_secret: SSO_APP.clientSecret,
        assertion: await idp.mintSsoToken(newAdmin()),
        requested_token_use: 'on_behalf_of',
        scope: POWER_PLATFORM_SCOPE,
        claims: '{"access_token":{"acrs":{"essential":true,"value":"mfa"}}}',
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_request' });
  });
});
