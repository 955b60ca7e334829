/**
 * Each per-user behavior, seen through real msal-node: the error class and fields a caller uses to
 * tell "ask for consent / MFA" (InteractionRequiredAuthError) from "get a fresh SSO token" and
 * "Entra is down" (ServerError).
 */
import { InteractionRequiredAuthError, ServerError } from '@azure/msal-node';

import type { IdentityProvider, UserBehavior } from '../../../src/sandbox/identity-provider';
import { forwardingNetworkClient } from '../../support/identity-msal';
import { newAdmin, POWER_PLATFORM_SCOPE, rejectionOf, ssoApp, startTestProvider } from './fixtures';

describe('per-user on-behalf-of behaviors', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());
  beforeEach(() => {
    idp.tokenRequests.length = 0;
  });

  async function exchangeFor(behavior: UserBehavior | undefined, app = ssoApp(idp)) {
    const user = newAdmin();
    idp.setUserBehavior(user.oid, behavior);
    const assertion = await idp.mintSsoToken(user);
    return {
      user,
      call: () =>
        app.acquireTokenOnBehalfOf({ oboAssertion: assertion, scopes: [POWER_PLATFORM_SCOPE] }),
    };
  }

  test('consent-required: InteractionRequiredAuthError, invalid_grant / consent_required / 65001', async () => {
    const { call } = await exchangeFor('consent-required');
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({
      errorCode: 'invalid_grant',
      subError: 'consent_required',
      errorNo: 65001,
    });
    expect(idp.tokenRequests.at(-1)).toMatchObject({
      status: 400,
      error: 'invalid_grant',
      errorCode: 65001,
    });
  });

  test('interaction-required: InteractionRequiredAuthError, interaction_required / basic_action / 50076, with a claims challenge', async () => {
    const { call } = await exchangeFor('interaction-required');
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({
      errorCode: 'interaction_required',
      subError: 'basic_action',
      errorNo: 50076,
    });
    expect(JSON.parse(String(error.claims))).toHaveProperty('access_token.capolids');
  });

  test('interaction-required with 50079 (MFA enrolment) is the same class', async () => {
    const { call } = await exchangeFor({ kind: 'interaction-required', errorCode: 50079 });
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({ errorNo: 50079 });
  });

  test('expired-assertion: a ServerError invalid_grant 500133, not an interaction', async () => {
    const { call } = await exchangeFor('expired-assertion');
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(ServerError);
    expect(error).not.toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({ errorCode: 'invalid_grant', errorNo: 500133, subError: '' });
  });

  test('server-error (503): a ServerError temporarily_unavailable whose status msal leaves undefined', async () => {
    const { call } = await exchangeFor('server-error');
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(ServerError);
    expect(error).not.toBeInstanceOf(InteractionRequiredAuthError);
    expect(error).toMatchObject({
      errorCode: 'temporarily_unavailable',
      errorNo: 90033,
      status: undefined,
    });
    expect(idp.tokenRequests.at(-1)).toMatchObject({ status: 503 });
  });

  test('server-error (500): a ServerError server_error', async () => {
    const { call } = await exchangeFor({ kind: 'server-error', status: 500 });
    const error = await rejectionOf(call());
    expect(error).toBeInstanceOf(ServerError);
    expect(error).toMatchObject({ errorCode: 'server_error', errorNo: 50000 });
  });

  test('a network client that copies the HTTP status into the body gives ServerError.status', async () => {
    const app = ssoApp(idp, {
      endpoints: 'fake-https',
      networkClient: forwardingNetworkClient(idp),
    });
    const { call } = await exchangeFor('server-error', app);
    expect(await rejectionOf(call())).toMatchObject({ name: 'ServerError', status: 503 });
  });

  test('times: the behavior applies to the next n requests, then the user succeeds', async () => {
    const { call } = await exchangeFor({ kind: 'consent-required', times: 1 });
    await expect(call()).rejects.toBeInstanceOf(InteractionRequiredAuthError);
    await expect(call()).resolves.toMatchObject({ fromCache: false });
  });

  test('setting the behavior to undefined restores success', async () => {
    const { user, call } = await exchangeFor('consent-required');
    idp.setUserBehavior(user.oid, undefined);
    await expect(call()).resolves.toMatchObject({ fromCache: false });
  });

  test('an unknown behavior name is refused at once', () => {
    expect(() => idp.setUserBehavior('x', 'nonsense' as UserBehavior)).toThrow(
      /Unknown identity provider behavior/,
    );
  });
});

describe('msal-node throttling after a 5xx (a surprise worth knowing)', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());

  test('after one 503, msal refuses the same exchange for ANOTHER user without calling the provider', async () => {
    const app = ssoApp(idp);
    const unlucky = newAdmin('Unlucky');
    idp.setUserBehavior(unlucky.oid, { kind: 'server-error', times: 1 });
    await expect(
      app.acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(unlucky),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    ).rejects.toBeInstanceOf(ServerError);
    const before = idp.tokenRequests.length;

    // The throttle key is client id + authority + scopes: the assertion (the user) is not in it.
    const error = await rejectionOf(
      app.acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(newAdmin()),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    );
    expect(error).toBeInstanceOf(ServerError);
    // The locally made error carries the AADSTS numbers as its errorCode, not the OAuth error.
    expect(error).toMatchObject({ errorCode: '90033', errorNo: undefined });
    expect(idp.tokenRequests.length).toBe(before);
  });

  test('with Retry-After, the throttle lasts that long instead of 60 s', async () => {
    const app = ssoApp(idp);
    const unlucky = newAdmin('Unlucky');
    idp.setUserBehavior(unlucky.oid, { kind: 'server-error', retryAfterSeconds: 1, times: 1 });
    await expect(
      app.acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(unlucky),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    ).rejects.toBeInstanceOf(ServerError);

    await new Promise((resolve) => setTimeout(resolve, 1100));
    const result = await app.acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(newAdmin()),
      scopes: [POWER_PLATFORM_SCOPE],
    });
    expect(result?.fromCache).toBe(false);
  });

  test('a 4xx does not throttle: the next user’s exchange goes through', async () => {
    const app = ssoApp(idp);
    const refused = newAdmin();
    idp.setUserBehavior(refused.oid, 'consent-required');
    await expect(
      app.acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(refused),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    ).rejects.toBeInstanceOf(InteractionRequiredAuthError);
    await expect(
      app.acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(newAdmin()),
        scopes: [POWER_PLATFORM_SCOPE],
      }),
    ).resolves.toMatchObject({ fromCache: false });
  });
});
