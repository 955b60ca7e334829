/**
 * Where the sign-in state shared by the bot's instances lives (sessions, token caches, refresh
 * tokens kept for later): the store's secrets, sealed with
 * TOKEN_CACHE_KEY. One partition per user (an Azure Table property holds at most 64 KiB), under
 * keys derived from the user's tenant and object id, lower case.
 */
import type { SecretStore } from '../elevation/ports';
import type { SecretBox } from './secret-box';

export interface SharedSecrets {
  store: SecretStore;
  box: SecretBox;
}

export interface UserKey {
  tenantId: string;
  aadObjectId: string;
}

/** The user's sign-in session (the validated SSO assertion and what it said). */
export function sessionKey(user: UserKey): string {
  return `session/${user.tenantId}/${user.aadObjectId}`.toLowerCase();
}

/** The user's msal token cache (on-behalf-of results). */
export function tokenCacheKey(user: UserKey): string {
  return `msal/${user.tenantId}/${user.aadObjectId}`.toLowerCase();
}

/** The user's step-up sign-ins (their msal cache, refresh token included; step-up MFA). */
export function stepUpCacheKey(user: UserKey): string {
  return `stepup/${user.tenantId}/${user.aadObjectId}`.toLowerCase();
}

/** What lets the bot act as the user later (their refresh token, time-boxed elevation). */
export function laterTokenKey(user: UserKey): string {
  return `later/${user.tenantId}/${user.aadObjectId}`.toLowerCase();
}
