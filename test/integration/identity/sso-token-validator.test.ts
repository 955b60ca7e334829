/**
 * The SSO token validator against a real JWKS server over HTTP: every refusal with its own reason,
 * and the key cache's promises (one refetch per cooldown, rotation, single flight, fail closed).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

import {
  exportJWK,
  exportSPKI,
  generateKeyPair,
  SignJWT,
  type JWK,
  type JWTPayload,
  type KeyLike,
} from 'jose';

import type { Clock } from '../../../src/elevation/ports';
import { HttpClient } from '../../../src/http/http-client';
import { createJwksSource, JwksSourceOptions } from '../../../src/identity/jwks';
import {
  createSsoTokenValidator,
  SsoTokenValidatorOptions,
} from '../../../src/identity/sso-token-validator';
import { createLogger, Logger } from '../../../src/log';

const TENANT = randomUUID();
const FOREIGN_TENANT = randomUUID();
const BOT_ID = randomUUID();
const SSO_CLIENT_ID = randomUUID();
const USER_OID = randomUUID();
const OTHER_OID = randomUUID();
const POWER_PLATFORM_ADMINISTRATOR = '11648597-926c-4cf3-9c36-bcebb0ba8dcc';
/** The Teams clients that ask Entra for a bot's SSO token, as Microsoft publishes them. */
const TEAMS_DESKTOP_AND_MOBILE = '1fec8e78-bce4-4aaf-ab1b-5451cc387264';
const TEAMS_WEB = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
/** An app the user may have consented to that is not Teams (Microsoft Azure CLI). */
const OTHER_CLIENT = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
const COOLDOWN_MS = 5 * 60_000;
const MAX_AGE_MS = 24 * 60 * 60_000;

interface SigningKey {
  kid: string;
  privateKey: KeyLike;
  publicKey: KeyLike;
  /** As the keys endpoint publishes it. */
  jwk: JWK;
}

async function signingKey(kid: string = randomUUID()): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  // Entra publishes more members than a verifier needs; the extra ones must be harmless.
  const jwk = { ...(await exportJWK(publicKey)), kid, use: 'sig', x5t: kid.slice(0, 8) };
  return { kid, privateKey, publicKey, jwk };
}

type Answer = 'keys' | 'status-500' | 'not-json';

interface JwksServer {
  url: string;
  /** Paths of every request received. */
  hits: string[];
  /** Keys published per tenant. */
  published: Map<string, JWK[]>;
  /** How the next requests are answered. */
  answer: Answer;
  stop(): Promise<void>;
}

/** A keys endpoint for `/{tenant}/discovery/v2.0/keys`, like Entra's, on 127.0.0.1. */
async function startJwksServer(): Promise<JwksServer> {
  const state: Omit<JwksServer, 'url' | 'stop'> = {
    hits: [],
    published: new Map(),
    answer: 'keys',
  };
  const server = createServer((req, res) => {
    state.hits.push(req.url ?? '');
    req.resume();
    const tenant = /^\/([^/]+)\/discovery\/v2\.0\/keys$/.exec(req.url ?? '')?.[1];
    const keys = tenant === undefined ? undefined : state.published.get(tenant);
    // restify patches ServerResponse so that writeHead does not return it: no chaining here.
    res.setHeader('content-type', 'application/json');
    if (state.answer === 'status-500') {
      res.statusCode = 500;
      res.end('{"error":"server_error"}');
    } else if (state.answer === 'not-json') {
      res.statusCode = 200;
      res.setHeader('content-type', 'text/html');
      res.end('<html>proxy says hello</html>');
    } else if (keys === undefined) {
      res.statusCode = 400;
      res.end('{"error":"invalid_tenant"}');
    } else {
      res.statusCode = 200;
      res.end(JSON.stringify({ keys }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return Object.assign(state, {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
}

/** A clock that stands still until a test moves it forward. */
function movableClock(): Clock & { advance(ms: number): void } {
  let nowMs = Date.now();
  return {
    now: () => new Date(nowMs),
    advance: (ms) => (nowMs += ms),
  };
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('SSO token validation against a JWKS server over real HTTP', () => {
  let jwks: JwksServer;
  let key: SigningKey;
  let foreignKey: SigningKey;
  let logLines: string[];
  let logger: Logger;

  beforeAll(async () => {
    jwks = await startJwksServer();
    key = await signingKey();
    foreignKey = await signingKey();
  });
  afterAll(() => jwks.stop());
  beforeEach(() => {
    jwks.hits.length = 0;
    jwks.answer = 'keys';
    jwks.published.set(TENANT, [key.jwk]);
    jwks.published.set(FOREIGN_TENANT, [foreignKey.jwk]);
    logLines = [];
    logger = createLogger({ level: 'debug', sink: (line) => logLines.push(line) });
  });

  const issuer = (tenant = TENANT, host = jwks.url) => `${host}/${tenant}/v2.0`;

  /** The claims of a good SSO token for the user, with overrides (undefined removes a claim). */
  function claims(overrides: JWTPayload = {}): JWTPayload {
    const now = nowSeconds();
    return {
      aud: SSO_CLIENT_ID,
      iss: issuer(),
      iat: now,
      nbf: now,
      exp: now + 3600,
      tid: TENANT,
      oid: USER_OID,
      name: 'Adele Vance',
      preferred_username: 'adele.vance@contoso.example',
      scp: 'access_as_user',
      azp: TEAMS_DESKTOP_AND_MOBILE,
      ver: '2.0',
      ...overrides,
    };
  }

  function sign(
    payload: JWTPayload = claims(),
    signer: SigningKey = key,
    header: Record<string, unknown> = {},
  ) {
    return new SignJWT(payload)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: signer.kid, ...header })
      .sign(signer.privateKey);
  }

  const http = () => new HttpClient({ baseDelayMs: 5, maxAttempts: 2, logger });

  function validator(
    options: Partial<SsoTokenValidatorOptions> = {},
    keyOptions: Partial<JwksSourceOptions> = {},
  ) {
    const authorityHost = options.authorityHost ?? jwks.url;
    return createSsoTokenValidator({
      authorityHost,
      audiences: [SSO_CLIENT_ID, `api://botid-${BOT_ID}`],
      allowedTenantIds: [TENANT],
      jwks: createJwksSource({ authorityHost, http: http(), logger, ...keyOptions }),
      logger,
      ...options,
    });
  }

  const fromUser = { aadObjectId: USER_OID, tenantId: TENANT };
  const keyHits = (tenant = TENANT) =>
    jwks.hits.filter((hit) => hit === `/${tenant}/discovery/v2.0/keys`).length;

  describe('a valid token', () => {
    it('is accepted with its claims; wids is undefined when the token has none', async () => {
      const token = await sign();
      const result = await validator().validate(token, fromUser);
      expect(result).toEqual({
        ok: true,
        claims: {
          oid: USER_OID,
          tid: TENANT,
          name: 'Adele Vance',
          upn: 'adele.vance@contoso.example',
          scopes: ['access_as_user'],
          wids: undefined,
          exp: expect.any(Number),
        },
      });
      expect(keyHits()).toBe(1);
    });

    it('carries wids, every scope, and upn in preference to preferred_username', async () => {
      const token = await sign(
        claims({
          wids: [POWER_PLATFORM_ADMINISTRATOR],
          upn: 'adele@contoso.example',
          scp: 'User.Read access_as_user',
        }),
      );
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({
        ok: true,
        claims: {
          wids: [POWER_PLATFORM_ADMINISTRATOR],
          upn: 'adele@contoso.example',
          scopes: ['User.Read', 'access_as_user'],
        },
      });
    });

    it('is accepted for either audience: the SSO client id or api://botid-<BOT_ID>', async () => {
      const check = validator();
      for (const aud of [SSO_CLIENT_ID, `api://botid-${BOT_ID}`]) {
        const result = await check.validate(await sign(claims({ aud })), fromUser);
        expect(result.ok).toBe(true);
      }
    });

    it('matches the sender whatever the case of the object id', async () => {
      const result = await validator().validate(await sign(), {
        aadObjectId: USER_OID.toUpperCase(),
        tenantId: TENANT.toUpperCase(),
      });
      expect(result.ok).toBe(true);
    });

    it('from any tenant is accepted when the allow-list is empty', async () => {
      const token = await sign(
        claims({ tid: FOREIGN_TENANT, iss: issuer(FOREIGN_TENANT) }),
        foreignKey,
      );
      const result = await validator({ allowedTenantIds: [] }).validate(token, {
        ...fromUser,
        tenantId: FOREIGN_TENANT,
      });
      expect(result).toMatchObject({ ok: true, claims: { tid: FOREIGN_TENANT } });
    });

    it('is accepted from either Teams client: desktop and mobile, or the web', async () => {
      const check = validator();
      for (const azp of [TEAMS_DESKTOP_AND_MOBILE, TEAMS_WEB, TEAMS_WEB.toUpperCase()]) {
        const result = await check.validate(await sign(claims({ azp })), fromUser);
        expect(result.ok).toBe(true);
      }
    });
  });

  describe('each forged or misdirected token is refused with its own reason', () => {
    it('a token signed by another key under a published kid: bad-signature', async () => {
      const impostor = await signingKey(key.kid);
      const result = await validator().validate(await sign(claims(), impostor), fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'bad-signature' });
    });

    it('a key carried in the token header is never used: bad-signature', async () => {
      const impostor = await signingKey(key.kid);
      const token = await sign(claims(), impostor, { jwk: impostor.jwk });
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'bad-signature' });
    });

    it('alg none: unsupported-algorithm, before any key is fetched', async () => {
      const token = `${base64url({ alg: 'none', typ: 'JWT', kid: key.kid })}.${base64url(claims())}.`;
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
      expect(jwks.hits).toEqual([]);
    });

    it('HS256 keyed with the public key (algorithm confusion): unsupported-algorithm', async () => {
      const secret = new TextEncoder().encode(await exportSPKI(key.publicKey));
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: key.kid })
        .sign(secret);
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
      expect(jwks.hits).toEqual([]);
    });

    it('another asymmetric algorithm (PS256) with the right key: unsupported-algorithm', async () => {
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'PS256', typ: 'JWT', kid: key.kid })
        .sign(key.privateKey);
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
    });

    it('a token for another audience (Microsoft Graph): wrong-audience', async () => {
      const token = await sign(claims({ aud: '00000003-0000-0000-c000-000000000000' }));
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'wrong-audience' });
    });

    it('a v1 issuer, or the issuer of another tenant: wrong-issuer', async () => {
      const check = validator();
      for (const iss of [`https://sts.windows.net/${TENANT}/`, issuer(FOREIGN_TENANT)]) {
        const result = await check.validate(await sign(claims({ iss })), fromUser);
        expect(result).toMatchObject({ ok: false, reason: 'wrong-issuer' });
      }
    });

    it('a validly signed token of a tenant not in the allow-list: tenant-not-allowed, its keys never fetched', async () => {
      const token = await sign(
        claims({ tid: FOREIGN_TENANT, iss: issuer(FOREIGN_TENANT) }),
        foreignKey,
      );
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'tenant-not-allowed' });
      expect(keyHits(FOREIGN_TENANT)).toBe(0);
    });

    it('a token of another tenant than the activity it came with: wrong-tenant, its keys never fetched', async () => {
      // Both tenants are allowed, and the token is good: only the activity says another tenant.
      const token = await sign(
        claims({ tid: FOREIGN_TENANT, iss: issuer(FOREIGN_TENANT) }),
        foreignKey,
      );
      for (const allowedTenantIds of [[TENANT, FOREIGN_TENANT], []]) {
        const result = await validator({ allowedTenantIds }).validate(token, fromUser);
        expect(result).toMatchObject({ ok: false, reason: 'wrong-tenant' });
      }
      expect(keyHits(FOREIGN_TENANT)).toBe(0);
      // The same token with an activity of its own tenant is accepted.
      const own = await validator({ allowedTenantIds: [] }).validate(token, {
        ...fromUser,
        tenantId: FOREIGN_TENANT,
      });
      expect(own.ok).toBe(true);
    });

    it('a token requested by another app than a Teams client (azp), or by none: wrong-client', async () => {
      const check = validator();
      const otherApp = await sign(claims({ azp: OTHER_CLIENT }));
      const ownApp = await sign(claims({ azp: SSO_CLIENT_ID }));
      const noClient = await sign(claims({ azp: undefined }));
      // A v2 token is judged by azp: an appid claim naming Teams does not stand in for it.
      const appidOnly = await sign(claims({ azp: OTHER_CLIENT, appid: TEAMS_WEB }));
      for (const token of [otherApp, ownApp, noClient, appidOnly]) {
        expect(await check.validate(token, fromUser)).toMatchObject({
          ok: false,
          reason: 'wrong-client',
        });
      }
    });

    it('a v1 token is judged by appid: another app is wrong-client, Teams gets as far as the issuer', async () => {
      const check = validator();
      const v1 = (appid: string) =>
        claims({ ver: '1.0', azp: undefined, appid, iss: `https://sts.windows.net/${TENANT}/` });
      expect(await check.validate(await sign(v1(OTHER_CLIENT)), fromUser)).toMatchObject({
        ok: false,
        reason: 'wrong-client',
      });
      // The SSO app asks for v2 tokens (aad.manifest.json), so a v1 issuer is refused after that.
      expect(await check.validate(await sign(v1(TEAMS_WEB)), fromUser)).toMatchObject({
        ok: false,
        reason: 'wrong-issuer',
      });
    });

    it('an expired token: expired', async () => {
      const token = await sign(claims({ exp: nowSeconds() - 3600, nbf: nowSeconds() - 7200 }));
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'expired' });
    });

    it('a token not valid yet: not-yet-valid', async () => {
      const token = await sign(claims({ nbf: nowSeconds() + 3600, exp: nowSeconds() + 7200 }));
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'not-yet-valid' });
    });

    it('a token without access_as_user, or an app-only token: missing-scope', async () => {
      const check = validator();
      const userRead = await sign(claims({ scp: 'User.Read' }));
      const appOnly = await sign(claims({ scp: undefined, roles: ['access_as_user'] }));
      for (const token of [userRead, appOnly]) {
        expect(await check.validate(token, fromUser)).toMatchObject({
          ok: false,
          reason: 'missing-scope',
        });
      }
    });

    it('a valid token of someone else than the sender: wrong-user', async () => {
      const token = await sign(claims({ oid: OTHER_OID }));
      const result = await validator().validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'wrong-user' });
    });

    it('a kid the tenant never published: unknown-key', async () => {
      const stranger = await signingKey();
      const result = await validator().validate(await sign(claims(), stranger), fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'unknown-key' });
    });

    it('tokens that are not JWTs, or lack kid or a GUID tid: malformed, nothing fetched', async () => {
      const good = await sign();
      const [head, body, signature] = good.split('.');
      const badTid = await sign(claims({ tid: '../../attacker' }));
      const noTid = await sign(claims({ tid: undefined }));
      const noKid = `${base64url({ alg: 'RS256', typ: 'JWT' })}.${body}.${signature}`;
      const check = validator();
      for (const token of [
        '',
        'not-a-jwt',
        `${head}.${body}`,
        `${head}.${body}.${signature}.extra`,
        `${base64url({ alg: 'RS256', kid: key.kid }).slice(0, -3)}.${body}.${signature}`,
        `${head}.${Buffer.from('not json').toString('base64url')}.${signature}`,
        `${head}.${body}.${signature}`.replace('.', ' .'),
        `${head}.${'A'.repeat(20_000)}.${signature}`,
        badTid,
        noTid,
        noKid,
      ]) {
        expect(await check.validate(token, fromUser)).toMatchObject({
          ok: false,
          reason: 'malformed',
        });
      }
      expect(jwks.hits).toEqual([]);
    });
  });

  describe('clock skew', () => {
    it('is tolerated within two minutes and refused beyond', async () => {
      const check = validator();
      const now = nowSeconds();
      const cases: [JWTPayload, boolean | string][] = [
        [{ exp: now - 60, nbf: now - 3600 }, true],
        [{ exp: now - 180, nbf: now - 3600 }, 'expired'],
        [{ nbf: now + 60, iat: now + 60 }, true],
        [{ nbf: now + 180 }, 'not-yet-valid'],
        [{ iat: now + 180 }, 'not-yet-valid'],
      ];
      for (const [times, expected] of cases) {
        const result = await check.validate(await sign(claims(times)), fromUser);
        expect(result.ok ? true : result.reason).toBe(expected);
      }
    });

    it('is configurable: with none, a token expired a minute ago is refused', async () => {
      const token = await sign(claims({ exp: nowSeconds() - 60 }));
      const result = await validator({ clockSkewSeconds: 0 }).validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'expired' });
    });
  });

  describe('the key cache', () => {
    it('an unknown kid triggers exactly one refetch; a second one within the cooldown none', async () => {
      const clock = movableClock();
      const check = validator({}, { clock, cooldownMs: COOLDOWN_MS });
      expect((await check.validate(await sign(), fromUser)).ok).toBe(true);
      expect(keyHits()).toBe(1);

      const first = await check.validate(await sign(claims(), await signingKey()), fromUser);
      expect(first).toMatchObject({ ok: false, reason: 'unknown-key' });
      expect(keyHits()).toBe(2);

      clock.advance(COOLDOWN_MS - 1_000);
      const second = await check.validate(await sign(claims(), await signingKey()), fromUser);
      expect(second).toMatchObject({ ok: false, reason: 'unknown-key' });
      expect(keyHits()).toBe(2);

      // A flood of made-up kids changes nothing either.
      const stranger = await signingKey();
      const flood = await Promise.all(
        Array.from({ length: 20 }, async () =>
          check.validate(await sign(claims(), stranger, { kid: randomUUID() }), fromUser),
        ),
      );
      expect(flood.every((result) => !result.ok && result.reason === 'unknown-key')).toBe(true);
      expect(keyHits()).toBe(2);

      clock.advance(2_000);
      await check.validate(await sign(claims(), await signingKey()), fromUser);
      expect(keyHits()).toBe(3);
    });

    it('a key published after the first fetch (rotation) validates after the one refetch', async () => {
      const check = validator();
      expect((await check.validate(await sign(), fromUser)).ok).toBe(true);
      const next = await signingKey();
      jwks.published.set(TENANT, [key.jwk, next.jwk]);

      const rotated = await check.validate(await sign(claims(), next), fromUser);
      expect(rotated.ok).toBe(true);
      expect(keyHits()).toBe(2);
      // Both keys are now known: neither needs another fetch.
      expect((await check.validate(await sign(claims(), next), fromUser)).ok).toBe(true);
      expect((await check.validate(await sign(), fromUser)).ok).toBe(true);
      expect(keyHits()).toBe(2);
    });

    it('many tokens arriving together on a cold cache share one fetch', async () => {
      const check = validator();
      const tokens = await Promise.all(Array.from({ length: 25 }, () => sign()));
      const results = await Promise.all(tokens.map((token) => check.validate(token, fromUser)));
      expect(results.every((result) => result.ok)).toBe(true);
      expect(keyHits()).toBe(1);
    });

    it('keys older than the maximum age are fetched again, and not trusted if that fails', async () => {
      const clock = movableClock();
      const check = validator({}, { clock, maxAgeMs: MAX_AGE_MS });
      expect((await check.validate(await sign(), fromUser)).ok).toBe(true);
      clock.advance(MAX_AGE_MS + 1);
      expect((await check.validate(await sign(), fromUser)).ok).toBe(true);
      expect(keyHits()).toBe(2);

      clock.advance(MAX_AGE_MS + 1);
      jwks.answer = 'status-500';
      const result = await check.validate(await sign(), fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'keys-unavailable' });
    });
  });

  describe('when the keys cannot be had', () => {
    it('a keys endpoint that does not answer: keys-unavailable', async () => {
      const gone = await startJwksServer();
      await gone.stop();
      const check = validator({ authorityHost: gone.url });
      const token = await sign(claims({ iss: issuer(TENANT, gone.url) }));
      const result = await check.validate(token, fromUser);
      expect(result).toMatchObject({ ok: false, reason: 'keys-unavailable' });
    });

    it('a 500, or an answer that is not a key set: keys-unavailable', async () => {
      for (const answer of ['status-500', 'not-json'] as const) {
        jwks.answer = answer;
        const result = await validator().validate(await sign(), fromUser);
        expect(result).toMatchObject({ ok: false, reason: 'keys-unavailable' });
      }
    });

    it('after a failed fetch, the next attempt waits for the backoff, then recovers', async () => {
      const clock = movableClock();
      const check = validator({}, { clock, failureBackoffMs: 10_000 });
      jwks.answer = 'status-500';
      expect(await check.validate(await sign(), fromUser)).toMatchObject({
        reason: 'keys-unavailable',
      });
      jwks.answer = 'keys';
      expect(await check.validate(await sign(), fromUser)).toMatchObject({
        reason: 'keys-unavailable',
      });
      expect(keyHits()).toBe(1);
      clock.advance(10_000);
      expect((await check.validate(await sign(), fromUser)).ok).toBe(true);
      expect(keyHits()).toBe(2);
    });
  });

  it('logs each refusal with its reason, tid and kid, and never the token or its signature', async () => {
    const check = validator();
    const tokens = [
      await sign(),
      await sign(claims({ oid: OTHER_OID })),
      await sign(claims({ aud: 'api://someone-else' })),
      await sign(claims(), await signingKey(key.kid)),
    ];
    for (const token of tokens) await check.validate(token, fromUser);

    const refusals = logLines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .filter((entry) => entry.msg === 'sso token refused');
    expect(refusals.map((entry) => entry.reason)).toEqual([
      'wrong-user',
      'wrong-audience',
      'bad-signature',
    ]);
    for (const entry of refusals) {
      expect(entry).toMatchObject({ level: 'warn', tid: TENANT, kid: key.kid });
    }
    const text = logLines.join('\n');
    for (const token of tokens) {
      const [, body, signature] = token.split('.') as [string, string, string];
      expect(text).not.toContain(token);
      expect(text).not.toContain(body);
      expect(text).not.toContain(signature);
    }
  });
});
