/** What every endpoint of one running provider shares. */
import type { AuthorizationCodes } from './authorization-codes';
import type { ClientRegistration } from './client-auth';
import type { Answer } from './http-answers';
import type { RefreshTokens } from './refresh-tokens';
import type { SigningKeys } from './signing-keys';
import type { UserBehaviors } from './user-behavior';
import type { IdpUser, UserDirectory } from './users';

export interface ProviderSettings {
  accessTokenLifetimeSeconds: number;
  codeLifetimeSeconds: number;
  /** Lifetime of refresh tokens (Entra: 90 days of inactivity). */
  refreshTokenLifetimeSeconds: number;
  /** Whether on-behalf-of answers carry an id token and client_info when asked (Entra's do). */
  oboAccountTokens: boolean;
  echoDefaultScope: boolean;
  /** Whether on-behalf-of answers carry a refresh token when `offline_access` is asked. */
  oboRefreshTokens: boolean;
  /** Permissions a user holds on any resource unless `setUserGrant` says otherwise. */
  defaultGrantedPermissions: readonly string[];
  /** How long a step-up (MFA for an authentication context) holds for refreshes. */
  stepUpLifetimeSeconds: number;
}

export interface ProviderState {
  keys: SigningKeys;
  /** Registered clients by lower-case client id. */
  clients: ReadonlyMap<string, ClientRegistration>;
  ssoAudiences: readonly string[];
  users: UserDirectory;
  behaviors: UserBehaviors;
  codes: AuthorizationCodes;
  refreshTokens: RefreshTokens;
  redirectUris: readonly string[];
  defaultUser?: IdpUser;
  settings: ProviderSettings;
  /** `${url}/${tenantId}/v2.0` */
  issuer(tenantId: string): string;
  /** The time step-ups are judged by (ms since the epoch; tests move it). */
  now(): number;
}

/** A token endpoint answer and, once known, whose token it was (for the request record). */
export interface GrantOutcome {
  answer: Answer;
  oid?: string;
}
