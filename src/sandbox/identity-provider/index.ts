/** The sandbox's stand-in for Entra ID: start it, mint Teams SSO tokens, shape its answers. */
export {
  startIdentityProvider,
  type IdentityProvider,
  type IdentityProviderOptions,
} from './identity-provider';
export type { RecordedTokenRequest } from './token-endpoint';
export type { AuthorityMetadata } from './discovery';
export type { ClientRegistration } from './client-auth';
export type { EntraErrorBody } from './entra-errors';
export type { TokenResponseBody } from './issued-tokens';
export type { MintOptions } from './sso-token';
export type { SigningVariant } from './signing-keys';
export {
  OBO_FAILURES,
  type BehaviorDetails,
  type OboFailure,
  type TargetGrant,
  type UserBehavior,
  type UserGrant,
} from './user-behavior';
export type { IdpUser } from './users';
export {
  APPLY_ADMIN_ROLE_PERMISSION,
  DEFAULT_GRANTED_PERMISSIONS,
  MICROSOFT_GRAPH_APP_ID,
  POWER_PLATFORM_ADMINISTRATOR_ROLE_ID,
  SSO_SCOPE,
  TEAMS_CLIENT_ID,
} from './well-known-ids';
export { OBO_GRANT_TYPE } from './obo-grant';
export { REFRESH_GRANT_TYPE } from './refresh-grant';
