/**
 * The sign-in of the bot, assembled in one place for production (Entra) and the sandbox (the local
 * identity provider): SSO token validation, the on-behalf-of client, and DelegatedTokens over both.
 */
import type { Clock } from '../elevation/ports';
import { HttpClient } from '../http/http-client';
import type { Logger } from '../log';
import type { ClientCertificate } from './client-certificate';
import { DelegatedTokens } from './delegated-tokens';
import { createOnBehalfOfClient } from './msal-client';
import { createSsoTokenValidator } from './sso-token-validator';

export interface SignInOptions {
  /** The SSO app's client id. */
  clientId: string;
  credential: { secret: string } | { certificate: ClientCertificate };
  /** The SSO app's tenant. */
  tenantId: string;
  /** Entra's authority host, or the local identity provider's URL. */
  authorityHost: string;
  /** Explicit endpoints of a local identity provider (no discovery). */
  authorityMetadata?: Record<string, string>;
  /** Accepted SSO token audiences: the client id and `api://botid-<BOT_ID>`. */
  audiences: string[];
  allowedTenantIds: string[];
  /** Base URL of the Power Platform API the tokens are for. */
  powerPlatformApiUrl: string;
  logger: Logger;
  clock?: Clock;
}

export function createDelegatedTokens(options: SignInOptions): DelegatedTokens {
  const logger = options.logger.child({ component: 'sign-in' });
  return new DelegatedTokens({
    validator: createSsoTokenValidator({
      authorityHost: options.authorityHost,
      audiences: options.audiences,
      allowedTenantIds: options.allowedTenantIds,
      // Teams waits about 10 s for a sign-in answer: key fetches give up well before that.
      http: new HttpClient({ logger, attemptTimeoutMs: 3_000, totalTimeoutMs: 5_000 }),
      logger,
    }),
    msal: createOnBehalfOfClient({
      clientId: options.clientId,
      credential: options.credential,
      tenantId: options.tenantId,
      authorityHost: options.authorityHost,
      authorityMetadata: options.authorityMetadata,
      logger,
    }),
    powerPlatformScope: `${options.powerPlatformApiUrl}/.default`,
    logger,
    clock: options.clock,
  });
}
