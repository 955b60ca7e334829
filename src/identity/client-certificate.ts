/**
 * The SSO app's certificate credential for on-behalf-of, from one PEM file holding the private key
 * and the certificate (the usual export of an App Service or Key Vault certificate).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';

export interface ClientCertificate {
  /** PKCS#8 PEM of the private key, as msal-node wants it. */
  privateKeyPem: string;
  /** SHA-256 thumbprint of the certificate, hex without separators. */
  thumbprintSha256: string;
  publicKeyPem: string;
}

export function loadClientCertificate(pem: string): ClientCertificate {
  const certificateStart = pem.indexOf('-----BEGIN CERTIFICATE-----');
  if (certificateStart < 0)
    throw new Error('the file holds no certificate (-----BEGIN CERTIFICATE-----)');
  let privateKey;
  try {
    privateKey = createPrivateKey(pem);
  } catch {
    throw new Error('the file holds no readable private key (-----BEGIN PRIVATE KEY-----)');
  }
  const certificate = new X509Certificate(pem.slice(certificateStart));
  if (!certificate.checkPrivateKey(privateKey))
    throw new Error('the private key does not belong to the certificate');
  return {
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    thumbprintSha256: certificate.fingerprint256.replace(/:/g, '').toLowerCase(),
    publicKeyPem: createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }).toString(),
  };
}
