/**
 * Production entry point: reads the configuration, wires Teams SSO with on-behalf-of, starts the
 * bot, and stops cleanly on SIGTERM/SIGINT.
 */
import { startApp } from './app';
import { readFileSync } from 'node:fs';
import { type Config, ConfigError, loadConfig } from './config';
import { loadClientCertificate } from './identity/client-certificate';
import type { DelegatedTokens } from './identity/delegated-tokens';
import { createDelegatedTokens } from './identity/sign-in';
import { createLogger, type Logger } from './log';

/** Validation of Teams SSO tokens and on-behalf-of exchanges against Entra. */
function createSignIn(config: Config, logger: Logger): DelegatedTokens {
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
  return createDelegatedTokens({
    clientId,
    credential,
    tenantId,
    authorityHost,
    audiences: [clientId, ...(config.bot.id ? [`api://botid-${config.bot.id}`] : [])],
    allowedTenantIds: config.allowedTenantIds,
    powerPlatformApiUrl: config.powerPlatform.apiUrl,
    logger,
  });
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
  let signIn;
  try {
    signIn = createSignIn(config, logger);
  } catch (error) {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(2);
  }
  const app = await startApp(config, { tokens: signIn, signIn, logger });
  const shutdown = (signal: string) => {
    logger.info('shutting down', { signal });
    app.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `The bot could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
