/**
 * On-behalf-of with a certificate instead of a client secret: msal-node signs a client assertion
 * with the certificate's key and the local identity provider checks it, over real HTTP.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadClientCertificate } from '../../../src/identity/client-certificate';
import { createOnBehalfOfClient } from '../../../src/identity/msal-client';
import { silentLogger } from '../../../src/log';
import {
  type IdentityProvider,
  startIdentityProvider,
} from '../../../src/sandbox/identity-provider';

const TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
const APP = '6c2d1e0f-9a8b-4c7d-8e6f-5a4b3c2d1e0f';
const USER = { oid: '0c3b2a19-8f7e-4d6c-9b5a-1e2d3c4b5a60', tid: TENANT, name: 'Alex Wilber' };
const PEM = readFileSync(
  join(__dirname, '..', '..', 'fixtures', 'test-client-certificate.pem'),
  'utf8',
);

let idp: IdentityProvider;
const certificate = loadClientCertificate(PEM);

beforeAll(async () => {
  idp = await startIdentityProvider({
    clients: [
      {
        clientId: APP,
        certificate: {
          publicKeyPem: certificate.publicKeyPem,
          thumbprintSha256: certificate.thumbprintSha256,
        },
      },
    ],
    ssoAudiences: [APP],
  });
});

afterAll(async () => {
  await idp.stop();
});

function client(cert = certificate) {
  return createOnBehalfOfClient({
    clientId: APP,
    credential: { certificate: cert },
    tenantId: TENANT,
    authorityHost: idp.url,
    authorityMetadata: { ...idp.metadata(TENANT) },
    logger: silentLogger,
  });
}

describe('certificate credential', () => {
  it('a PEM with key and certificate gives the key and the SHA-256 thumbprint', () => {
    expect(certificate.thumbprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(certificate.privateKeyPem).toContain('BEGIN PRIVATE KEY');
  });

  it('a PEM without its certificate, or with a key of another certificate, is refused with the reason', () => {
    const keyOnly = PEM.slice(0, PEM.indexOf('-----BEGIN CERTIFICATE-----'));
    expect(() => loadClientCertificate(keyOnly)).toThrow('no certificate');
    const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    });
    const mismatched = `${otherKey}${PEM.slice(PEM.indexOf('-----BEGIN CERTIFICATE-----'))}`;
    expect(() => loadClientCertificate(mismatched)).toThrow('does not belong');
  });

  it('msal-node exchanges on behalf of the user with a certificate-signed client assertion', async () => {
    const result = await client().acquireTokenOnBehalfOf({
      oboAssertion: await idp.mintSsoToken(USER),
      scopes: ['https://api.powerplatform.com/.default'],
    });
    expect(result?.accessToken).toBeTruthy();
    const claims = JSON.parse(
      Buffer.from(result!.accessToken.split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims.oid).toBe(USER.oid);
    expect(idp.tokenRequests.at(-1)).toMatchObject({ clientId: APP, status: 200 });
  });

  it('an assertion signed by another key is refused as invalid_client', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    await expect(
      client({ ...certificate, privateKeyPem: other }).acquireTokenOnBehalfOf({
        oboAssertion: await idp.mintSsoToken(USER),
        scopes: ['https://api.powerplatform.com/.default'],
      }),
    ).rejects.toMatchObject({ errorCode: 'invalid_client' });
  });
});
