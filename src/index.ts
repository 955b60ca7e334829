/**
 * Production entry point: reads the configuration, starts the bot, stops cleanly on SIGTERM/SIGINT.
 */
import { startApp } from './app';
import { ConfigError, loadConfig } from './config';
import { SignInUnavailable } from './identity/sign-in-unavailable';
import { createLogger } from './log';

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
  const app = await startApp(config, { tokens: new SignInUnavailable(), logger });
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
