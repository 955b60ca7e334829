/**
 * Production entry point: reads the configuration, opens the store, wires Teams SSO with
 * on-behalf-of (sharing sign-ins through the store when TOKEN_CACHE_KEY is set), starts the bot,
 * and stops cleanly on SIGTERM/SIGINT.
 */
import { createStore, startApp } from './app';
import { readFileSync } from 'node:fs';
import { type Config, ConfigError, loadConfig } from './config';
import type { ElevationStore, LaterTokens } from './elevation/ports';
import { loadClientCertificate } from './identity/client-certificate';
import type { DelegatedTokens } from './identity/delegated-tokens';
import { createDelegatedTokens, createLaterTokens, createStepUpTokens } from './identity/sign-in';
import type { StepUpTokenSource } from './identity/step-up-sign-in';
import { createLogger, type Logger } from './log';
import { storageAccess } from './store/open-store';

/** Validation of Teams SSO tokens and on-behalf-of exchanges against Entra. */
/** The sign-in, and what lets the bot act as the user later (the end of a time box). */
function createSignIn(
  config: Config,
  store: ElevationStore,
  logger: Logger,
): { signIn: DelegatedTokens; later: LaterTokens; stepUp: StepUpTokenSource } {
  const { clientId, clientSecret, clientCertificatePath, tenantId, authorityHost } = config.aad;
  if (!clientId || !tenantId || !(clientSecret || clientCertificatePath))
    throw new Error('the SSO app is not configured');
  let credential: { secret: string } | { certificate: ReturnType<typeof loadClientCertificate> };
  if (clientCertificatePath) {
    try {
      credential = {
        certificate: loadClientCertificate(readFileSync(clientCertificatePath, 'utf8')),
      };
    } catch (error) {
      throw new ConfigError(
        'AAD_APP_CLIENT_CERTIFICATE_PATH',
        `cannot be used: ${(error as Error).message}`,
      );
    }
  } else {
    credential = { secret: clientSecret! };
  }
  const options = {
    clientId,
    credential,
    tenantId,
    authorityHost,
    audiences: [clientId, ...(config.bot.id ? [`api://botid-${config.bot.id}`] : [])],
    allowedTenantIds: config.allowedTenantIds,
    powerPlatformApiUrl: config.powerPlatform.apiUrl,
    logger,
    store,
    tokenCacheKey: config.tokenCacheKey,
  };
  const signIn = createDelegatedTokens(options);
  return {
    signIn,
    later: createLaterTokens(options, signIn),
    stepUp: createStepUpTokens(options, signIn),
  };
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  if (config.mode === 'sandbox') {
    process.stderr.write(
      'SANDBOX=true is for `npm run sandbox`, which starts the sandbox services too.\n',
    );
    process.exit(2);
  }
  const logger = createLogger({ level: config.logLevel });
  // The store comes first: the sign-in keeps sessions and token caches in it. startApp does not
  // close a store it is given, so it is closed here, after the app stops.
  const store = await createStore(config);
  logger.info('store opened', { store: storageAccess(config.storage) });
  let signIn;
  let later;
  let stepUp;
  try {
    ({ signIn, later, stepUp } = createSignIn(config, store, logger));
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    await store.close().catch(() => undefined);
    process.exit(2);
  }
  if (!config.tokenCacheKey) {
    logger.info(
      'TOKEN_CACHE_KEY is not set: sign-ins stay in this instance (run one instance, or set it)',
    );
  }
  let app;
  try {
    app = await startApp(config, { tokens: signIn, signIn, later, stepUp, logger, store });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  const running = app;
  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    running
      .stop()
      .then(() => store.close())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  // A setting found wrong only at start (a broken POLICY_FILE): its one line, as for the others.
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `The bot could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
