/** Discovery, the JWKS and key rotation, and the SSO tokens (good and bad) the provider mints. */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  errors,
  jwtVerify,
} from 'jose';

import {
  startIdentityProvider,
  type IdentityProvider,
} from '../../../src/sandbox/identity-provider';
import {
  newAdmin,
  POWER_PLATFORM_SCOPE,
  rejectionOf,
  SSO_APP,
  SSO_AUDIENCES,
  ssoApp,
  startTestProvider,
  TENANT_ID,
} from './fixtures';

/** A validator as strict as the bot's must be: RS256 only, the tenant's issuer, the SSO audiences. */
function strictVerify(idp: IdentityProvider, token: string) {
  return jwtVerify(token, createRemoteJWKSet(new URL(idp.metadata(TENANT_ID).jwks_uri)), {
    algorithms: ['RS256'],
    issuer: idp.issuer(TENANT_ID),
    audience: SSO_AUDIENCES,
  });
}

describe('discovery and keys', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());

  test('the OpenID configuration lives at Entra’s path and names the same endpoints as metadata()', async () => {
    const response = await fetch(`${idp.url}/${TENANT_ID}/v2.0/.well-known/openid-configuration`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as Record<string, unknown>;
    expect(document).toMatchObject({ ...idp.metadata(TENANT_ID) });
    expect(idp.metadata(TENANT_ID)).toEqual({
      issuer: `${idp.url}/${TENANT_ID}/v2.0`,
      authorization_endpoint: `${idp.url}/${TENANT_ID}/oauth2/v2.0/authorize`,
      token_endpoint: `${idp.url}/${TENANT_ID}/oauth2/v2.0/token`,
      jwks_uri: `${idp.url}/${TENANT_ID}/discovery/v2.0/keys`,
      end_session_endpoint: `${idp.url}/${TENANT_ID}/oauth2/v2.0/logout`,
    });
    expect(idp.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('the multi-tenant document names the {tenantid} placeholder issuer, as Entra’s does', () => {
    expect(idp.metadata('organizations').issuer).toBe(`${idp.url}/{tenantid}/v2.0`);
  });

  test('the JWKS publishes the current RS256 key', async () => {
    const jwks = (await (await fetch(idp.metadata(TENANT_ID).jwks_uri)).json()) as {
      keys: Record<string, string>[];
    };
    expect(jwks.keys).toEqual([
      {
        kty: 'RSA',
        use: 'sig',
        alg: 'RS256',
        kid: idp.currentKeyId,
        n: expect.any(String),
        e: 'AQAB',
      },
    ]);
  });

  test('unknown paths are 404 and a GET on the token endpoint is 405', async () => {
    expect((await fetch(`${idp.url}/${TENANT_ID}/oauth2/token`)).status).toBe(404);
    expect((await fetch(idp.metadata(TENANT_ID).token_endpoint)).status).toBe(405);
  });
});

describe('SSO tokens', () => {
  let idp: IdentityProvider;

  beforeAll(async () => {
    idp = await startTestProvider();
  });
  afterAll(() => idp.stop());

  test('look like the token Teams hands the bot, and pass a strict validator', async () => {
    const user = newAdmin();
    const token = await idp.mintSsoToken(user);
    const { payload, protectedHeader } = await strictVerify(idp, token);
    expect(protectedHeader).toEqual({ alg: 'RS256', typ: 'JWT', kid: idp.currentKeyId });
    expect(payload).toMatchObject({
      aud: SSO_APP.clientId,
      iss: `${idp.url}/${TENANT_ID}/v2.0`,
      tid: TENANT_ID,
      oid: user.oid,
      name: user.name,
      preferred_username: user.upn,
      upn: user.upn,
      scp: 'access_as_user',
      wids: ['11648597-926c-4cf3-9c36-bcebb0ba8dcc'],
      ver: '2.0',
      azp: '1fec8e78-bce4-4aaf-ab1b-5451cc387264',
    });
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(payload.nbf).toBe(payload.iat);
  });

  test('options override a claim, leave one out, or set the lifetime', async () => {
    const token = await idp.mintSsoToken(newAdmin(), {
      claims: { scp: 'User.Read', aud: SSO_AUDIENCES[1] },
      omit: ['wids', 'upn'],
      lifetimeSeconds: 60,
    });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ scp: 'User.Read', aud: SSO_AUDIENCES[1] });
    expect(claims).not.toHaveProperty('wids');
    expect(claims).not.toHaveProperty('upn');
    expect(claims.exp! - claims.iat!).toBe(60);
  });

  test.each([
    ['foreign-key', errors.JWKSNoMatchingKey],
    ['foreign-key-known-kid', errors.JWSSignatureVerificationFailed],
    ['none', errors.JOSEAlgNotAllowed],
    ['hs256', errors.JOSEAlgNotAllowed],
  ] as const)('signWith %s makes a token a strict validator refuses', async (signWith, refusal) => {
    const token = await idp.mintSsoToken(newAdmin(), { signWith });
    await expect(strictVerify(idp, token)).rejects.toBeInstanceOf(refusal);
  });

  test('the HS256 variant is keyed with the public key PEM unless told otherwise (the key-confusion attack)', async () => {
    const token = await idp.mintSsoToken(newAdmin(), { signWith: 'hs256', hs256Secret: 'shared' });
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'HS256', kid: idp.currentKeyId });
    await expect(jwtVerify(token, new TextEncoder().encode('shared'))).resolves.toBeDefined();
  });

  test('an expired token and a not-yet-valid token are refused by time', async () => {
    const now = Math.floor(Date.now() / 1000);
    const expired = await idp.mintSsoToken(newAdmin(), { issuedAt: now - 7200 });
    const early = await idp.mintSsoToken(newAdmin(), { notBefore: now + 600 });
    await expect(strictVerify(idp, expired)).rejects.toBeInstanceOf(errors.JWTExpired);
    await expect(strictVerify(idp, early)).rejects.toBeInstanceOf(errors.JWTClaimValidationFailed);
  });
});

describe('key rotation', () => {
  test('tokens signed before a rotation still verify; new ones carry the new kid', async () => {
    const idp = await startTestProvider();
    try {
      const user = newAdmin();
      const before = await idp.mintSsoToken(user);
      const oldKid = idp.currentKeyId;

      const newKid = await idp.rotateKeys();

      expect(newKid).not.toBe(oldKid);
      expect(idp.currentKeyId).toBe(newKid);
      const after = await idp.mintSsoToken(user);
      expect(decodeProtectedHeader(after).kid).toBe(newKid);
      expect(idp.jwks().keys.map((key) => key.kid)).toEqual([newKid, oldKid]);
      await expect(strictVerify(idp, before)).resolves.toBeDefined();
      await expect(strictVerify(idp, after)).resolves.toBeDefined();
      // The provider itself still accepts the old assertion for on-behalf-of.
      await expect(
        ssoApp(idp).acquireTokenOnBehalfOf({
          oboAssertion: before,
          scopes: [POWER_PLATFORM_SCOPE],
        }),
      ).resolves.toMatchObject({ fromCache: false });
    } finally {
      await idp.stop();
    }
  });

  test('once its key leaves the JWKS, an old token is refused, by validators and by on-behalf-of', async () => {
    const idp = await startTestProvider({ keptPreviousKeys: 1 });
    try {
      const old = await idp.mintSsoToken(newAdmin());
      await idp.rotateKeys();
      await idp.rotateKeys();

      expect(idp.jwks().keys).toHaveLength(2);
      await expect(jwtVerify(old, createLocalJWKSet(idp.jwks()))).rejects.toBeInstanceOf(
        errors.JWKSNoMatchingKey,
      );
      const error = await rejectionOf(
        ssoApp(idp).acquireTokenOnBehalfOf({ oboAssertion: old, scopes: [POWER_PLATFORM_SCOPE] }),
      );
      expect(error).toMatchObject({ name: 'ServerError', errorNo: 50013 });
    } finally {
      await idp.stop();
    }
  });
});

describe('starting the provider', () => {
  test('it listens on loopback only', async () => {
    await expect(
      startIdentityProvider({ host: '0.0.0.0' as '127.0.0.1', clients: [], ssoAudiences: ['x'] }),
    ).rejects.toThrow(/loopback only/);
  });

  test('it needs an SSO audience', async () => {
    await expect(startIdentityProvider({ clients: [], ssoAudiences: [] })).rejects.toThrow(
      /SSO audience/,
    );
  });
});

describe('with restify loaded in the same process', () => {
  test('every kind of answer still goes out (restify’s writeHead does not return the response)', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('restify'); // patches http.ServerResponse.prototype.writeHead on load
    const idp = await startTestProvider();
    try {
      expect((await fetch(idp.metadata(TENANT_ID).jwks_uri)).status).toBe(200);
      const page = await fetch(
        `${idp.metadata(TENANT_ID).authorization_endpoint}?client_id=nobody`,
      );
      expect(page.status).toBe(400);
      const preflight = await fetch(idp.metadata(TENANT_ID).token_endpoint, { method: 'OPTIONS' });
      expect(preflight.status).toBe(204);
      expect(preflight.headers.get('access-control-allow-origin')).toBe('*');
    } finally {
      await idp.stop();
    }
  });
});
