/** The tenant, apps and people the identity provider tests share. */
import { randomUUID } from 'node:crypto';

import {
  startIdentityProvider,
  type IdentityProvider,
  type IdentityProviderOptions,
  type IdpUser,
} from '../../../src/sandbox/identity-provider';
import { msalAppFor, type MsalAppOptions } from '../../support/identity-msal';

export const TENANT_ID = '6f1c2b44-0f3a-4c52-9d4e-2a8f5e0c1b7d';
export const OTHER_TENANT_ID = '0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b';
export const BOT_ID = '9a3c1d2e-4b5f-4a6b-8c7d-0e1f2a3b4c5d';
/** The bot's SSO app (the one Teams gets tokens for, and the one that does on-behalf-of). */
export const SSO_APP = {
  clientId: 'c0ffee00-1111-4222-8333-444455556666',
  clientSecret: 'sso-app-secret',
};
export const SSO_AUDIENCES = [SSO_APP.clientId, `api://botid-${BOT_ID}`];
export const POWER_PLATFORM_SCOPE = 'https://api.powerplatform.com/.default';
export const REDIRECT_URI = 'https://bot.example/auth-end.html';

export function startTestProvider(
  options: Partial<IdentityProviderOptions> = {},
): Promise<IdentityProvider> {
  return startIdentityProvider({
    clients: [SSO_APP],
    ssoAudiences: SSO_AUDIENCES,
    redirectUris: [REDIRECT_URI],
    ...options,
  });
}

/** A fresh admin per test, so per-user behaviors and msal caches never leak between tests. */
export function newAdmin(name = 'Adele Vance'): IdpUser {
  const oid = randomUUID();
  const local = name.toLowerCase().replace(/\s+/g, '.');
  return { oid, tid: TENANT_ID, name, upn: `${local}.${oid.slice(0, 4)}@contoso.example` };
}

export function ssoApp(idp: IdentityProvider, options: Partial<MsalAppOptions> = {}) {
  return msalAppFor(idp, { tenantId: TENANT_ID, ...SSO_APP, ...options });
}

/** The error an async call rejects with (fails the test when it resolves). */
export async function rejectionOf(
  promise: Promise<unknown>,
): Promise<Record<string, unknown> & Error> {
  try {
    await promise;
  } catch (error) {
    return error as Record<string, unknown> & Error;
  }
  throw new Error('expected a rejection, but the call succeeded');
}
