/** Ids that Entra ID and Teams put in tokens, so that minted tokens look like the real ones. */
import { TEAMS_CLIENTS } from '../../identity/teams-clients';

/** Power Platform Administrator (directory role template id), as Entra writes it in `wids`. */
export const POWER_PLATFORM_ADMINISTRATOR_ROLE_ID = '11648597-926c-4cf3-9c36-bcebb0ba8dcc';

/** The Teams desktop and mobile client: the app that asks Entra for the SSO token (`azp`). */
export const TEAMS_CLIENT_ID = TEAMS_CLIENTS.desktopAndMobile;

/** Microsoft Graph's app id: Entra's audience when a sign-in asks for OpenID scopes only. */
export const MICROSOFT_GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';

/** The scope Teams asks for on the bot's SSO app. */
export const SSO_SCOPE = 'access_as_user';

/** The delegated Power Platform API permission that self-elevation needs. */
export const APPLY_ADMIN_ROLE_PERMISSION = 'UserManagement.Users.Apply';

/** What the bot's app holds on the Power Platform API once an admin has consented. */
export const DEFAULT_GRANTED_PERMISSIONS: readonly string[] = [
  APPLY_ADMIN_ROLE_PERMISSION,
  'EnvironmentManagement.Environments.Read',
];

/** OpenID Connect scopes: they shape the id token and never name a resource. */
export const OIDC_SCOPES: readonly string[] = ['openid', 'profile', 'email', 'offline_access'];
