/**
 * How the key source reads a key set and builds its URL, with an in-memory HTTP client that
 * records requests. The cache's timing rules are proven over real HTTP in the integration suite.
 */
import { randomUUID } from 'node:crypto';

import { exportJWK, generateKeyPair } from 'jose';

import type { HttpRequest, HttpResult } from '../../../src/http/http-client';
import { createJwksSource } from '../../../src/identity/jwks';

const TENANT = randomUUID();

function answering(bodyText: string) {
  const urls: string[] = [];
  const http = {
    async request(request: HttpRequest): Promise<HttpResult> {
      urls.push(request.url);
      return {
        kind: 'response',
        status: 200,
        statusText: 'OK',
        headers: {},
        bodyText,
        attempts: 1,
        durationMs: 1,
        clientRequestId: 'test',
      };
    },
  };
  return { urls, http };
}

describe('the signing key source', () => {
  it('fetches {authorityHost}/{tenant}/discovery/v2.0/keys, ignoring a trailing slash', async () => {
    const { urls, http } = answering('{"keys":[]}');
    const source = createJwksSource({ authorityHost: 'https://login.example/', http });
    await source.getKey(TENANT, 'k', 'RS256');
    expect(urls).toEqual([`https://login.example/${TENANT}/discovery/v2.0/keys`]);
  });

  it('never puts a tenant id that is not a GUID into a URL', async () => {
    const { urls, http } = answering('{"keys":[]}');
    const source = createJwksSource({ authorityHost: 'https://login.example', http });
    for (const tenant of ['../../evil', 'common', `${TENANT}/x`, '']) {
      expect(await source.getKey(tenant, 'k', 'RS256')).toMatchObject({
        ok: false,
        reason: 'unknown-key',
      });
    }
    expect(urls).toEqual([]);
  });

  it('uses only RSA signing keys published for the algorithm asked for', async () => {
    const { publicKey } = await generateKeyPair('RS256');
    const rsa = await exportJWK(publicKey);
    const keys = [
      { ...rsa, kid: 'plain' },
      { ...rsa, kid: 'for-rs256', alg: 'RS256', use: 'sig' },
      { ...rsa, kid: 'for-ps256', alg: 'PS256' },
      { ...rsa, kid: 'for-encryption', use: 'enc' },
      { kty: 'oct', kid: 'symmetric', k: 'c2VjcmV0' },
    ];
    const { http } = answering(JSON.stringify({ keys }));
    const source = createJwksSource({ authorityHost: 'https://login.example', http });
    const reasons: Record<string, string> = {};
    for (const { kid } of keys) {
      const lookup = await source.getKey(TENANT, kid, 'RS256');
      reasons[kid] = lookup.ok ? 'ok' : lookup.reason;
    }
    expect(reasons).toEqual({
      plain: 'ok',
      'for-rs256': 'ok',
      'for-ps256': 'unknown-key',
      'for-encryption': 'unknown-key',
      symmetric: 'unknown-key',
    });
  });

  it('a published key that cannot be read makes the keys unavailable, not unknown', async () => {
    const { http } = answering('{"keys":[{"kty":"RSA","kid":"broken","n":"","e":""}]}');
    const source = createJwksSource({ authorityHost: 'https://login.example', http });
    expect(await source.getKey(TENANT, 'broken', 'RS256')).toMatchObject({
      ok: false,
      reason: 'keys-unavailable',
    });
  });

  it('an answer without a keys array is not a key set', async () => {
    for (const body of ['{}', '{"keys":{}}', 'null', '[]']) {
      const { http } = answering(body);
      const source = createJwksSource({ authorityHost: 'https://login.example', http });
      expect(await source.getKey(TENANT, 'k', 'RS256')).toMatchObject({
        ok: false,
        reason: 'keys-unavailable',
      });
    }
  });
});
