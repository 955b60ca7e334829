/**
 * The msal-node confidential client that performs on-behalf-of exchanges. In production it talks
 * to Entra (discovery included); given `authorityMetadata` (the sandbox's local identity
 * provider), msal is told the endpoints and makes no discovery call: msal refuses an http
 * authority, so the authority is a never-contacted https name and the metadata carries the
 * provider's real endpoints.
 */
import { ConfidentialClientApplication, LogLevel } from '@azure/msal-node';
import type { Logger } from '../log';
import type { ClientCertificate } from './client-certificate';

export interface OnBehalfOfClientOptions {
  clientId: string;
  /** The app's credential: a client secret, or a certificate (preferred where possible). */
  credential: { secret: string } | { certificate: ClientCertificate };
  /** The app's tenant. */
  tenantId: string;
  /** e.g. https://login.microsoftonline.com (sovereign clouds differ). */
  authorityHost: string;
  /** Endpoints of a local identity provider (token_endpoint, issuer, jwks_uri, ...). */
  authorityMetadata?: Record<string, string>;
  logger: Logger;
}

/** The authority name used with explicit metadata; msal never resolves it. */
const LOCAL_AUTHORITY_HOST = 'login.local';

export function createOnBehalfOfClient(
  options: OnBehalfOfClientOptions,
): ConfidentialClientApplication {
  const authority = options.authorityMetadata
    ? `https://${LOCAL_AUTHORITY_HOST}/${options.tenantId}`
    : `${options.authorityHost.replace(/\/+$/, '')}/${options.tenantId}`;
  return new ConfidentialClientApplication({
    auth: {
      clientId: options.clientId,
      ...('secret' in options.credential
        ? { clientSecret: options.credential.secret }
        : {
            clientCertificate: {
              thumbprintSha256: options.credential.certificate.thumbprintSha256,
              privateKey: options.credential.certificate.privateKeyPem,
            },
          }),
      authority,
      ...(options.authorityMetadata
        ? {
            knownAuthorities: [LOCAL_AUTHORITY_HOST],
            authorityMetadata: JSON.stringify(options.authorityMetadata),
          }
        : {}),
    },
    system: {
      loggerOptions: {
        // msal's own messages, without personal data, at warning and above.
        piiLoggingEnabled: false,
        logLevel: LogLevel.Warning,
        loggerCallback: (_level, message) => options.logger.warn('msal', { message }),
      },
    },
  });
}
