/**
 * Production token source until Teams SSO with on-behalf-of lands (issue 3): it says plainly that
 * the bot cannot act for the user yet, instead of pretending.
 */
import type { TokenResult, UserTokens } from '../elevation/ports';

export class SignInUnavailable implements UserTokens {
  async powerPlatformToken(): Promise<TokenResult> {
    return {
      ok: false,
      reason: 'error',
      message:
        'Sign-in is not set up in this deployment yet (Teams SSO with on-behalf-of is not available), so I cannot act for you. Nothing was changed.',
    };
  }
}
