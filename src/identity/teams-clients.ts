/**
 * The Microsoft applications that ask Entra for a Teams bot's SSO token on the user's behalf: the
 * token's `azp` (in v2 tokens; `appid` in v1) names one of them. Microsoft's setup for bot SSO
 * ("Configure your app in Microsoft Entra ID", learn.microsoft.com/microsoftteams/platform/bots/
 * how-to/authentication/bot-sso-register-aad) pre-authorizes exactly these two on the SSO app, and
 * aad.manifest.json does the same. Tab SSO in Outlook and the Microsoft 365 app uses further
 * clients, but a bot's token exchange does not come from them; add them here if it ever should.
 */
export const TEAMS_CLIENTS = {
  /** Teams desktop and mobile. */
  desktopAndMobile: '1fec8e78-bce4-4aaf-ab1b-5451cc387264',
  /** Teams on the web. */
  web: '5e3ce6c0-2b1f-4285-8d4b-75ee78787346',
} as const;
