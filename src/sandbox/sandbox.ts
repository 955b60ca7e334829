/**
 * The whole bot on one machine with no Microsoft account: the simulated Power Platform API
 * (unless POWERPLATFORM_API_URL names another) and Dataverse (unless SANDBOX_DATAVERSE_URL names
 * another), the bot in sandbox mode on loopback, and the Microsoft 365 Agents Playground pointed
 * at it. Used by `npm run sandbox` and the e2e tests.
 */
import { type App, createStore, startApp } from '../app';
import { ConfigError, loadConfig } from '../config';
import type { Logger } from '../log';
import type { Policy } from '../policy/policy';
import { type Playground, startPlayground } from './playground';
import {
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
} from './power-platform-simulator';
import {
  type DataverseSimulator,
  dataverseUrlAt,
  startDataverseSimulatorFor,
} from './dataverse-simulator';
import {
  PLAYGROUND_CURRENT_USER,
  playgroundConfigYaml,
  SANDBOX_HELD_ROLES,
  SANDBOX_TENANT_ID,
} from './directory';
import { type SandboxIdentity, startSandboxIdentity } from './sandbox-sign-in';

export interface SandboxOptions {
  /** Environment variables for the bot's configuration (SANDBOX is forced on). */
  env: Record<string, string | undefined>;
  logger: Logger;
  /** Start the Agents Playground too. */
  playground: boolean;
  /** The Playground's port (it picks another when this one is taken). */
  playgroundPort?: number;
  /** Guardrails per environment, handed to the bot as is. */
  policy?: Policy;
}

export interface Sandbox {
  app: App;
  /** The simulated API, unless POWERPLATFORM_API_URL pointed elsewhere. */
  simulator?: PowerPlatformSimulator;
  /** The simulated Dataverse, beside the simulated API, unless SANDBOX_DATAVERSE_URL pointed elsewhere. */
  dataverse?: DataverseSimulator;
  /** The local identity provider and the sign-in pointed at it. */
  identity: SandboxIdentity;
  playground?: Playground;
  stop(): Promise<void>;
}

export async function startSandbox(options: SandboxOptions): Promise<Sandbox> {
  const env: Record<string, string | undefined> = { ...options.env, SANDBOX: 'true' };
  // The Playground's current user manages notifications, unless told otherwise.
  env.BOT_ADMIN_IDS ??= PLAYGROUND_CURRENT_USER.oid;
  // The sandbox's SSO app lives in the sandbox tenant, whatever the shell says; it is also the
  // tenant allowed by default (ALLOWED_TENANT_IDS).
  env.AAD_APP_TENANT_ID = SANDBOX_TENANT_ID;
  const simulator = env.POWERPLATFORM_API_URL
    ? undefined
    : await startPowerPlatformSimulator({
        port: Number(env.SIMULATOR_PORT ?? 0),
        host: '127.0.0.1',
        logger: options.logger.child({ component: 'simulator' }),
      });
  if (simulator) env.POWERPLATFORM_API_URL = simulator.url;

  const stopAll: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const step of stopAll.reverse()) await step().catch(() => undefined);
  };
  if (simulator) stopAll.push(() => simulator.stop());
  try {
    const config = loadConfig(env);
    // The store first: the sign-in keeps sessions and token caches in it (with TOKEN_CACHE_KEY).
    // startApp does not close a store it is given; it is closed here, after the app stops.
    const store = await createStore(config);
    stopAll.push(() => store.close());
    const identity = await startSandboxIdentity({
      powerPlatformApiUrl: config.powerPlatform.apiUrl,
      allowedTenantIds: config.allowedTenantIds,
      logger: options.logger,
      store,
      tokenCacheKey: config.tokenCacheKey,
    });
    stopAll.push(() => identity.stop());
    // Another Dataverse (an external fake) wins over the simulator, as POWERPLATFORM_API_URL does.
    const otherDataverse = config.powerPlatform.sandboxDataverseUrl;
    if (!simulator && !otherDataverse && config.elevation.dataverseRoleCheck) {
      // The simulated Dataverse follows the simulated API's grants; with another API there is
      // none, and the sandbox's local tokens must never go to a real Dataverse instance.
      throw new ConfigError(
        'SANDBOX_DATAVERSE_URL',
        'must be set when POWERPLATFORM_API_URL points elsewhere: the role check and the removals of time-boxed elevations need a Dataverse, and the sandbox never calls a real one',
      );
    }
    const dataverse =
      simulator && !otherDataverse
        ? await startDataverseSimulatorFor(simulator, options.logger, SANDBOX_HELD_ROLES)
        : undefined;
    if (dataverse) stopAll.push(() => dataverse.stop());
    const app = await startApp(config, {
      tokens: identity.signIn,
      signIn: identity.signIn,
      later: identity.laterTokens,
      stepUp: identity.stepUp,
      logger: options.logger,
      store,
      dataverseUrlFor: otherDataverse ? dataverseUrlAt(otherDataverse) : dataverse?.instanceUrlFor,
      policy: options.policy,
    });
    stopAll.push(() => app.stop());
    // The step-up sign-in comes back to the bot, wherever it listens.
    identity.identityProvider.addRedirectUri(`${app.url}/step-up/callback`);
    const playground = options.playground
      ? await startPlayground({
          botEndpoint: `${app.url}/api/messages`,
          port: options.playgroundPort,
          // Real GUIDs for the tenant and users: SSO token validation accepts nothing else.
          configYaml: playgroundConfigYaml(),
        })
      : undefined;
    if (playground) stopAll.push(() => playground.stop());
    return { app, simulator, dataverse, identity, playground, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
