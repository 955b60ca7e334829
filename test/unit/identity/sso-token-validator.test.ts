/**
 * What the validator decides before, or without, fetching any key: tokens are read with an
 * in-memory key source that records every lookup, so no network is involved.
 */
import { randomUUID } from 'node:crypto';

import { generateKeyPair, SignJWT, type JWTPayload, type KeyLike } from 'jose';

import type { JwksSource, KeyLookup } from '../../../src/identity/jwks';
import { createSsoTokenValidator } from '../../../src/identity/sso-token-validator';

const AUTHORITY = 'https://login.example';
const TENANT = randomUUID();
const CLIENT_ID = randomUUID();
const USER_OID = randomUUID();
const KID = 'key-1';
/** Who sent the activity: the user, in their tenant. */
const SENDER = { aadObjectId: USER_OID, tenantId: TENANT };
/** Teams desktop and mobile, the client that asks Entra for the SSO token. */
const TEAMS_DESKTOP = '1fec8e78-bce4-4aaf-ab1b-5451cc387264';

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('SSO token validation without the network', () => {
  let privateKey: KeyLike;
  let lookups: string[];
  let source: JwksSource;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    source = {
      async getKey(tenantId, kid, alg): Promise<KeyLookup> {
        lookups.push(`${tenantId}/${kid}/${alg}`);
        return kid === KID
          ? { ok: true, key: pair.publicKey }
          : { ok: false, reason: 'unknown-key', message: 'no such key' };
      },
    };
  });
  beforeEach(() => {
    lookups = [];
  });

  const validator = (allowedTenantIds: string[] = [TENANT]) =>
    createSsoTokenValidator({
      authorityHost: `${AUTHORITY}/`,
      audiences: [CLIENT_ID],
      allowedTenantIds,
      jwks: source,
    });

  /** Good claims with overrides, which may be of the wrong type on purpose. */
  function claims(overrides: Record<string, unknown> = {}): JWTPayload {
    const now = Math.floor(Date.now() / 1000);
    return {
      aud: CLIENT_ID,
      iss: `${AUTHORITY}/${TENANT}/v2.0`,
      nbf: now,
      exp: now + 600,
      tid: TENANT,
      oid: USER_OID,
      scp: 'access_as_user',
      azp: TEAMS_DESKTOP,
      ver: '2.0',
      ...overrides,
    };
  }

  const sign = (payload = claims()) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'RS256', kid: KID }).sign(privateKey);

  it('accepts a good token; the issuer is built from the authority host without its trailing slash', async () => {
    const result = await validator().validate(await sign(), SENDER);
    expect(result).toMatchObject({ ok: true, claims: { oid: USER_OID, tid: TENANT } });
    expect(lookups).toEqual([`${TENANT}/${KID}/RS256`]);
  });

  it('refuses symmetric, unsigned and other algorithms without looking up a key', async () => {
    const check = validator();
    const body = base64url(claims());
    for (const alg of ['none', 'HS256', 'HS512', 'RS384', 'RS512', 'PS256', 'ES256', 'EdDSA']) {
      const token = `${base64url({ alg, kid: KID })}.${body}.${alg === 'none' ? '' : 'c2ln'}`;
      const result = await check.validate(token, SENDER);
      expect(result).toMatchObject({ ok: false, reason: 'unsupported-algorithm' });
    }
    expect(lookups).toEqual([]);
  });

  it('refuses a tenant outside the allow-list before looking up its keys', async () => {
    const foreign: string = randomUUID();
    const token = await sign(claims({ tid: foreign, iss: `${AUTHORITY}/${foreign}/v2.0` }));
    const result = await validator().validate(token, SENDER);
    expect(result).toMatchObject({ ok: false, reason: 'tenant-not-allowed' });
    expect(lookups).toEqual([]);
  });

  it('compares allowed tenant ids whatever their case', async () => {
    const result = await validator([TENANT.toUpperCase()]).validate(await sign(), SENDER);
    expect(result.ok).toBe(true);
  });

  it('refuses signed tokens with unreadable time claims or no user as malformed', async () => {
    const check = validator();
    for (const overrides of [
      { exp: undefined },
      { exp: 'tomorrow' },
      { nbf: 'now' },
      { oid: undefined },
    ]) {
      const result = await check.validate(await sign(claims(overrides)), SENDER);
      expect(result).toMatchObject({ ok: false, reason: 'malformed' });
    }
  });

  it('passes the key source refusal on with its reason', async () => {
    const token = await new SignJWT(claims())
      .setProtectedHeader({ alg: 'RS256', kid: 'other' })
      .sign(privateKey);
    const result = await validator().validate(token, SENDER);
    expect(result).toEqual({ ok: false, reason: 'unknown-key', message: 'no such key' });
  });

  it('will not be built without an audience, or without a key source or an HTTP client', () => {
    const base = { authorityHost: AUTHORITY, allowedTenantIds: [] };
    expect(() => createSsoTokenValidator({ ...base, audiences: [], jwks: source })).toThrow(
      TypeError,
    );
    expect(() => createSsoTokenValidator({ ...base, audiences: [CLIENT_ID] })).toThrow(TypeError);
  });
});
