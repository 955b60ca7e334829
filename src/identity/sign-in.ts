/**
 * The sign-in of the bot, assembled in one place for production (Entra) and the sandbox (the local
 * identity provider): SSO token validation, the on-behalf-of clients (one per user), and
 * DelegatedTokens over both; with TOKEN_CACHE_KEY, sessions and token caches shared through the
 * store, sealed. Beside it, what lets the bot act as the user later (LaterTokens).
 */
import type { Clock, LaterTokens, SecretStore } from '../elevation/ports';
import { HttpClient } from '../http/http-client';
import type { Logger } from '../log';
import type { ClientCertificate } from './client-certificate';
import { DelegatedTokens } from './delegated-tokens';
import { KeptRefreshTokens } from './later-tokens';
import { createOnBehalfOfClient, createOnBehalfOfClients } from './msal-client';
import { SecretBox } from './secret-box';
import type { SharedSecrets } from './shared-secrets';
import type { StepUpTokenSource } from './step-up-sign-in';
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
  /** Time source of sign-in sessions (msal keeps its own, the system clock). */
  clock?: Clock;
  /** The bot's store: with `tokenCacheKey`, sessions and token caches are shared through it. */
  store?: SecretStore;
  /** TOKEN_CACHE_KEY (32 bytes): seals what is shared; without it nothing is written. */
  tokenCacheKey?: Buffer;
}

export function createDelegatedTokens(options: SignInOptions): DelegatedTokens {
  const logger = options.logger.child({ component: 'sign-in' });
  const shared = sharedSecrets(options, logger);
  const clients = {
    clientId: options.clientId,
    credential: options.credential,
    tenantId: options.tenantId,
    authorityHost: options.authorityHost,
    authorityMetadata: options.authorityMetadata,
    logger,
    shared,
  };
  return new DelegatedTokens({
    validator: createSsoTokenValidator({
      authorityHost: options.authorityHost,
      audiences: options.audiences,
      allowedTenantIds: options.allowedTenantIds,
      // Teams waits about 10 s for a sign-in answer: key fetches give up well before that.
      http: new HttpClient({ logger, attemptTimeoutMs: 3_000, totalTimeoutMs: 5_000 }),
      logger,
    }),
    msal: createOnBehalfOfClients(clients),
    steppedUp: createOnBehalfOfClients({ ...clients, stepUpCaches: true }),
    powerPlatformScope: `${options.powerPlatformApiUrl}/.default`,
    logger,
    clock: options.clock,
    shared,
  });
}

/**
 * The refresh tokens kept to act as the user at the end of a time-boxed elevation, taken from the
 * sign-ins of `delegated` (built from the same options). With TOKEN_CACHE_KEY they are sealed in
 * the store for every instance; without, kept in this process's memory only.
 */
export function createLaterTokens(
  options: SignInOptions,
  delegated: Pick<DelegatedTokens, 'assertionOf'>,
): LaterTokens {
  const logger = options.logger.child({ component: 'later-tokens' });
  return new KeptRefreshTokens({
    signIns: delegated,
    // No cache plugin: each exchange's client holds that exchange's tokens and nothing else.
    newClient: () => newClient(options, logger),
    keepScope: `${options.powerPlatformApiUrl}/.default`,
    logger,
    clock: options.clock,
    shared: sharedSecrets(options, logger),
  });
}

/**
 * What step-up sign-ins use (step-up-sign-in.ts): a fresh msal client per sign-in, and the user's
 * own token cache of `delegated` (built from the same options) for the tokens it brings.
 */
export function createStepUpTokens(
  options: SignInOptions,
  delegated: Pick<DelegatedTokens, 'adoptSignIn'>,
): StepUpTokenSource {
  const logger = options.logger.child({ component: 'step-up' });
  return {
    newClient: () => newClient(options, logger),
    adopt: (user, serializedCache) => delegated.adoptSignIn(user, serializedCache),
    scope: `${options.powerPlatformApiUrl}/.default`,
  };
}

function sharedSecrets(options: SignInOptions, logger: Logger): SharedSecrets | undefined {
  if (options.tokenCacheKey && !options.store) {
    throw new Error('a token cache key was given without a store to keep the token cache in');
  }
  return options.store && options.tokenCacheKey
    ? { store: options.store, box: new SecretBox(options.tokenCacheKey, logger) }
    : undefined;
}

/** A fresh msal client of the SSO app, holding only what one exchange or sign-in brings. */
function newClient(options: SignInOptions, logger: Logger) {
  return createOnBehalfOfClient({
    clientId: options.clientId,
    credential: options.credential,
    tenantId: options.tenantId,
    authorityHost: options.authorityHost,
    authorityMetadata: options.authorityMetadata,
    logger,
  });
}
