/**
 * Real msal-node pointed at the sandbox identity provider. Two wirings work with msal-node 7.2.3:
 *
 * 1. Plain (what production-like code should use): `authority` is a fake https URL that is never
 *    contacted (msal refuses http authorities), `knownAuthorities` names its host (so msal makes no
 *    instance discovery call), and `authorityMetadata` carries the provider's real http endpoints
 *    (so msal makes no discovery call either). msal's own fetch-based network client is enough.
 * 2. Fake https endpoints plus `forwardingNetworkClient`, which maps them to the provider's port.
 */
import {
  ConfidentialClientApplication,
  type Configuration,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';

import type { IdentityProvider } from '../../src/sandbox/identity-provider';

/** The fake authority host; it is never resolved. */
export const FAKE_AUTHORITY_HOST = 'login.local';

export interface MsalAppOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** `http` (default): metadata names the provider's own URLs; `fake-https`: https://login.local/… */
  endpoints?: 'http' | 'fake-https';
  /** Replaces msal's fetch-based client (needed with `fake-https`). */
  networkClient?: INetworkModule;
}

export function msalConfigFor(idp: IdentityProvider, options: MsalAppOptions): Configuration {
  const metadata = idp.metadata(options.tenantId);
  const endpoints =
    options.endpoints === 'fake-https'
      ? Object.fromEntries(
          Object.entries(metadata).map(([name, url]) => [
            name,
            url.replace(idp.url, `https://${FAKE_AUTHORITY_HOST}`),
          ]),
        )
      : metadata;
  return {
    auth: {
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      authority: `https://${FAKE_AUTHORITY_HOST}/${options.tenantId}`,
      knownAuthorities: [FAKE_AUTHORITY_HOST],
      authorityMetadata: JSON.stringify(endpoints),
    },
    ...(options.networkClient && { system: { networkClient: options.networkClient } }),
  };
}

export function msalAppFor(
  idp: IdentityProvider,
  options: MsalAppOptions,
): ConfidentialClientApplication {
  return new ConfidentialClientApplication(msalConfigFor(idp, options));
}

/** One request the forwarding client sent (URL as msal asked for it). */
export interface ForwardedRequest {
  method: 'GET' | 'POST';
  url: string;
}

/**
 * An msal INetworkModule that sends `https://login.local/…` to the provider and nothing anywhere
 * else. It also copies the HTTP status into error bodies: msal-node's on-behalf-of client builds
 * ServerError.status from the body (`body.status`), which Entra never fills, so without this a
 * 503 and a 400 reach the caller with `status` undefined.
 */
export function forwardingNetworkClient(
  idp: IdentityProvider,
  sent: ForwardedRequest[] = [],
): INetworkModule {
  const forward = async <T>(
    method: 'GET' | 'POST',
    url: string,
    options?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> => {
    sent.push({ method, url });
    const fake = `https://${FAKE_AUTHORITY_HOST}/`;
    const target = url.startsWith(fake) ? `${idp.url}/${url.slice(fake.length)}` : url;
    if (!target.startsWith(`${idp.url}/`)) {
      throw new Error(`forwardingNetworkClient: refusing to call ${new URL(url).origin}`);
    }
    const response = await fetch(target, {
      method,
      headers: options?.headers,
      body: method === 'POST' ? options?.body : undefined,
      redirect: 'manual',
      signal: AbortSignal.timeout(10_000),
    });
    const parsed = (await response.json()) as Record<string, unknown>;
    const body = response.ok ? parsed : { ...parsed, status: response.status };
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => {
      headers[name.toLowerCase()] = value;
    });
    return { headers, body: body as T, status: response.status };
  };
  return {
    sendGetRequestAsync: (url, options) => forward('GET', url, options),
    sendPostRequestAsync: (url, options) => forward('POST', url, options),
  };
}
