/**
 * `npm run sandbox`: starts the sandbox (see sandbox.ts) and prints where to open the Playground.
 */
import { ConfigError } from '../config';
import { createLogger } from '../log';
import { WELL_KNOWN } from './power-platform-simulator';
import { startSandbox } from './sandbox';

function banner(lines: string[]): string {
  const rule = '='.repeat(Math.max(...lines.map((l) => l.length)) + 4);
  return [rule, ...lines.map((l) => `  ${l}`), rule].join('\n');
}

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.LOG_LEVEL === 'debug' ? 'debug' : 'warn' });
  const withPlayground = process.env.SANDBOX_PLAYGROUND !== 'false';
  const sandbox = await startSandbox({
    env: process.env,
    logger,
    playground: withPlayground,
    playgroundPort: Number(process.env.PLAYGROUND_PORT ?? 56150),
  });
  const { app, simulator, dataverse, playground } = sandbox;
  process.stdout.write(
    '\n' +
      banner([
        'SANDBOX MODE: no Bot Framework authentication, loopback only. Never use in production.',
        '',
        `Bot:                 ${app.url}/api/messages`,
        `Power Platform API:  ${simulator ? `${simulator.url} (simulated tenant)` : process.env.POWERPLATFORM_API_URL}`,
        `Dataverse:           ${dataverse ? `${dataverse.url}/<org> (simulated)` : (process.env.SANDBOX_DATAVERSE_URL ?? "each environment's own instance URL")}`,
        playground
          ? `Playground:          open ${playground.url.replace('127.0.0.1', 'localhost')} in your browser`
          : 'Playground:          not started (SANDBOX_PLAYGROUND=false)',
        '',
        'Then write to the bot in the Playground chat, for example:',
        `  elevate me in ${WELL_KNOWN.contosoDev.displayName}`,
        '  elevate me in contoso test          (two environments match: pick one)',
        `  elevate me in ${WELL_KNOWN.securityGroup.displayName}   (the API refuses: security group)`,
        '  help',
        '',
        'Stop with Ctrl+C.',
      ]) +
      '\n\n',
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the sandbox.\n`);
    sandbox.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((error: unknown) => {
  // A setting found wrong at start (a broken POLICY_FILE): its one line, as in production.
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(
    `The sandbox could not start: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exit(1);
});
