/** What the provider refuses at the token endpoint, and which msal-node error each refusal becomes. */
import type {
  IdentityProvider,
  MintOptions,
  SigningVariant,
} from '../../../src/sandbox/identity-provider';
import {
  newAdmin,
  OTHER_TENANT_ID,
  POWER_PLATFORM_SCOPE,
  rejectionOf,
  SSO_APP,
  ssoApp,
  startTestProvider,
  TENANT_ID,
} from './fixtures';

describe('refused on-behalf-of exchanges', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());

  async function exchangeError(mint: MintOptions, user = newAdmin(), app = ssoApp(idp)) {
    const assertion = await idp.mintSsoToken(user, mint);
    return rejectionOf(
      app.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: [POWER_PLATFORM_SCOPE] }),
    );
  }

  test('a wrong client secret is invalid_client AADSTS7000215, a ServerError', async () => {
    const error = await rejectionOf(
      ssoApp(idp, { clientSecret: 'not-the-secret' }).acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(newAdmin()),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    );
    expect(error.name).toBe('ServerError');
    expect(error).toMatchObject({ errorCode: 'invalid_client', errorNo: 7000215 });
    expect(idp.tokenRequests.at(-1)).toMatchObject({
      status: 401,
      error: 'invalid_client',
      errorCode: 7000215,
    });
  });

  test('an unknown client id is unauthorized_client AADSTS700016', async () => {
    const error = await rejectionOf(
      ssoApp(idp, { clientId: '00000000-0000-4000-8000-000000000000' }).acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(newAdmin()),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    );
    expect(error).toMatchObject({
      name: 'ServerError',
      errorCode: 'unauthorized_client',
      errorNo: 700016,
    });
  });

  test.each<[string, SigningVariant]>([
    ['signed with a key the provider never published', 'foreign-key'],
    ['signed with a foreign key under the current kid', 'foreign-key-known-kid'],
    ['unsigned (alg none)', 'none'],
    ['HS256 keyed with the public key', 'hs256'],
  ])('an assertion %s is refused with AADSTS50013, a ServerError', async (_, signWith) => {
    const error = await exchangeError({ signWith });
    expect(error).toMatchObject({
      name: 'ServerError',
      errorCode: 'invalid_grant',
      errorNo: 50013,
    });
    expect(String(error.errorMessage)).toContain('signature validation');
  });

  test('an expired assertion is AADSTS500133, a ServerError (not an interaction): get a fresh SSO token', async () => {
    const error = await exchangeError({
      issuedAt: Math.floor(Date.now() / 1000) - 7200,
      lifetimeSeconds: 3600,
    });
    expect(error.name).toBe('ServerError');
    expect(error).toMatchObject({ errorCode: 'invalid_grant', errorNo: 500133, subError: '' });
  });

  test('an assertion that is not valid yet is AADSTS500133 too', async () => {
    const error = await exchangeError({ notBefore: Math.floor(Date.now() / 1000) + 600 });
    expect(error).toMatchObject({ name: 'ServerError', errorNo: 500133 });
  });

  test('an assertion for another audience is AADSTS50013', async () => {
    const error = await exchangeError({ claims: { aud: 'api://someone-else' } });
    expect(error).toMatchObject({
      name: 'ServerError',
      errorCode: 'invalid_grant',
      errorNo: 50013,
    });
    expect(String(error.errorMessage)).toContain('audience');
  });

  test('the api://botid-<id> audience is accepted like the client id', async () => {
    const user = newAdmin();
    const result = await ssoApp(idp).acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(user, {
        claims: { aud: 'api://botid-9a3c1d2e-4b5f-4a6b-8c7d-0e1f2a3b4c5d' },
      }),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(result?.accessToken).toBeTruthy();
  });

  test('an assertion from another tenant sent to this tenant’s endpoint is AADSTS50013', async () => {
    const stranger = { ...newAdmin(), tid: OTHER_TENANT_ID };
    const error = await exchangeError({}, stranger);
    expect(error).toMatchObject({ name: 'ServerError', errorNo: 50013 });
  });

  test('an assertion that names no user is AADSTS50027', async () => {
    const error = await exchangeError({ omit: ['oid'] });
    expect(error).toMatchObject({
      name: 'ServerError',
      errorCode: 'invalid_grant',
      errorNo: 50027,
    });
  });

  test('something that is not a JWT at all is AADSTS50013', async () => {
    const error = await rejectionOf(
      ssoApp(idp).acquireTokenOnBehalfOf({
        oboAssertion: 'not-a-token',
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    );
    expect(error).toMatchObject({ name: 'ServerError', errorNo: 50013 });
  });

  test('scopes naming two resources are invalid_scope AADSTS28000', async () => {
    const error = await rejectionOf(
      ssoApp(idp).acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(newAdmin()),
        scopes: [POWER_PLATFORM_SCOPE, 'https://org.crm.dynamics.com/user_impersonation'],
      }),
    );
    expect(error).toMatchObject({
      name: 'ServerError',
      errorCode: 'invalid_scope',
      errorNo: 28000,
    });
  });
});

describe('the token endpoint without msal', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());

  const post = (fields: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(idp.metadata(TENANT_ID).token_endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(fields),
    });

  test('any other grant type is 400 unsupported_grant_type, in Entra’s error shape', async () => {
    const response = await post({ grant_type: 'client_credentials', client_id: SSO_APP.clientId });
    expect(response.status).toBe(400);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({
      error: 'unsupported_grant_type',
      error_description: expect.stringMatching(
        /^AADSTS70003: .*Trace ID: .*Correlation ID: .*Timestamp: /,
      ),
      error_codes: [70003],
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/),
      trace_id: expect.any(String),
      correlation_id: expect.any(String),
    });
  });

  test('the caller’s client-request-id comes back as the correlation id', async () => {
    const response = await post(
      { grant_type: 'refresh_token' },
      { 'client-request-id': '11111111-2222-4333-8444-555555555555' },
    );
    expect(response.headers.get('client-request-id')).toBe('11111111-2222-4333-8444-555555555555');
    expect(await response.json()).toMatchObject({
      correlation_id: '11111111-2222-4333-8444-555555555555',
    });
  });

  test('a missing grant_type is invalid_request', async () => {
    const response = await post({});
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({
      error: 'invalid_request',
      error_codes: [900144],
    });
  });

  test('client credentials also work as HTTP Basic', async () => {
    const user = newAdmin();
    const basic = Buffer.from(`${SSO_APP.clientId}:${SSO_APP.clientSecret}`).toString('base64');
    const response = await post(
      {
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        requested_token_use: 'on_behalf_of',
        scope: POWER_PLATFORM_SCOPE,
        assertion: await idp.mintSsoToken(user),
      },
      { authorization: `Basic ${basic}` },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      token_type: 'Bearer',
      expires_in: 3600,
      ext_expires_in: 3600,
    });
  });

  test('on-behalf-of without a client secret is invalid_client AADSTS7000218', async () => {
    const response = await post({
      grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
      requested_token_use: 'on_behalf_of',
      client_id: SSO_APP.clientId,
      scope: POWER_PLATFORM_SCOPE,
      assertion: await idp.mintSsoToken(newAdmin()),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      error: 'invalid_client',
      error_codes: [7000218],
    });
  });
});
