/**
 * Typed settings from environment variables. Reading fails fast with one line naming the variable
 * that is missing or malformed; nothing else in the bot reads process.env.
 */
import {
  ConfigError,
  type Env,
  aesKey,
  flag,
  guid,
  guidList,
  httpsUrl,
  integer,
  isLoopback,
  isLoopbackUrl,
  oneOf,
  sandboxUrl,
  text,
} from './config-values';

export type Mode = 'production' | 'sandbox';
export type BotType = 'MultiTenant' | 'SingleTenant' | 'UserAssignedMSI';

export interface Config {
  mode: Mode;
  /** Address the HTTP server binds to. */
  host: string;
  port: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  bot: {
    /** Bot Framework app id; required in production. */
    id?: string;
    password?: string;
    type: BotType;
    tenantId?: string;
    /** Public host name of the bot (for the consent pages). */
    domain?: string;
  };
  aad: {
    clientId?: string;
    clientSecret?: string;
    /** A PEM file with the private key and certificate; used instead of the secret when set. */
    clientCertificatePath?: string;
    tenantId?: string;
    authorityHost: string;
  };
  powerPlatform: {
    /** Base URL of the Power Platform API; sovereign clouds use other hosts. */
    apiUrl: string;
    apiVersion: string;
    /** Time allowed for one attempt of a call. */
    attemptTimeoutMs: number;
    /** Time allowed for a whole call, retries included. */
    totalTimeoutMs: number;
    /**
     * Sandbox only (SANDBOX_DATAVERSE_URL): where Dataverse calls go instead of the environment's
     * instance URL, `https://<org>.crm.dynamics.com` becoming `<this URL>/<org>`.
     */
    sandboxDataverseUrl?: string;
  };
  /**
   * Tenants whose users may use the bot: ALLOWED_TENANT_IDS, by default the SSO app's own tenant
   * (AAD_APP_TENANT_ID). Empty means any tenant, which only `ALLOWED_TENANT_IDS=*` asks for.
   */
  allowedTenantIds: string[];
  storage:
    | { kind: 'sqlite'; path: string }
    | {
        kind: 'azure-table';
        /** A connection string with the account key (Azurite, local runs). */
        connectionString?: string;
        /**
         * The Table endpoint, reached with an Entra identity instead of a key (Azure): the
         * user-assigned managed identity `managedIdentityClientId`, or DefaultAzureCredential.
         */
        accountUrl?: string;
        managedIdentityClientId?: string;
        tablePrefix: string;
      };
  /**
   * AES-256 key that encrypts the token cache and sign-in sessions kept in the store, so that
   * every instance can act for a user signed in on another. Without it they stay in memory.
   */
  tokenCacheKey?: Buffer;
  /** Audit events and finished requests older than this are removed; 0 keeps them forever. */
  auditRetentionDays: number;
  elevation: {
    /** How long a confirmation card stays valid. */
    requestTtlMinutes: number;
    justificationRequired: boolean;
    /** How long a user's environment list is reused before asking the API again. */
    environmentCacheSeconds: number;
    /** How long a click waits for the API before the card says "in progress". */
    invokeBudgetMs: number;
    /** Ask Dataverse before and after whether the role is held (needs the Dynamics CRM permission). */
    dataverseRoleCheck: boolean;
    /** Every elevation ends by itself (ELEVATION_TIME_BOX); needs the role check. */
    timeBox: boolean;
    /** How long an elevation lasts when the user names no duration. */
    defaultMinutes: number;
    /** The longest an elevation may last, extensions included, from its first grant. */
    maxMinutes: number;
    /** How long before the end the user is reminded; 0: no reminder. */
    reminderMinutes: number;
    /**
     * How long one instance holds a removal it started (ELEVATION_REMOVAL_LEASE_SECONDS): if it
     * dies meanwhile, another redoes the removal once this has passed.
     */
    removalLeaseSeconds: number;
    /** POLICY_FILE: the guardrails per environment (JSON or YAML); absent: the settings alone. */
    policyFile?: string;
  };
  notifications: {
    /** Entra object ids of the users who may subscribe and unsubscribe channels. */
    adminIds: string[];
    /** Attempts per channel before a notification is dropped. */
    maxAttempts: number;
    /** First retry delay (doubles per attempt, with jitter). */
    retryBaseMs: number;
    /** Time one post may take before it is retried. */
    sendTimeoutMs: number;
    /** How often the outbox is checked without being woken. */
    pollMs: number;
  };
}

export { ConfigError } from './config-values';

/**
 * Only where the store is: what the audit command needs, without the bot's credentials. The
 * sandbox's file is the default when SANDBOX=true.
 */
export function loadStorageConfig(
  env: Env = process.env,
  sandbox = flag(env, 'SANDBOX', false),
): Config['storage'] {
  const kind = oneOf(env, 'STORAGE', ['sqlite', 'azure-table'] as const, 'sqlite');
  if (kind === 'azure-table') {
    const connectionString = text(env, 'AZURE_STORAGE_CONNECTION_STRING');
    const accountUrl = text(env, 'AZURE_STORAGE_ACCOUNT_URL');
    if (!connectionString && !accountUrl)
      throw new ConfigError(
        'AZURE_STORAGE_CONNECTION_STRING',
        'or AZURE_STORAGE_ACCOUNT_URL is required when STORAGE=azure-table',
      );
    if (connectionString && accountUrl) {
      // Two ways in, two possible accounts: say which one rather than pick one silently.
      throw new ConfigError(
        'AZURE_STORAGE_ACCOUNT_URL',
        'and AZURE_STORAGE_CONNECTION_STRING are both set: keep one (the URL in Azure, the connection string for Azurite)',
      );
    }
    const tablePrefix = text(env, 'AZURE_TABLE_PREFIX') ?? '';
    if (!/^([A-Za-z][A-Za-z0-9]{0,40})?$/.test(tablePrefix)) {
      throw new ConfigError(
        'AZURE_TABLE_PREFIX',
        'must be letters and digits (at most 41), starting with a letter',
      );
    }
    if (accountUrl) {
      return {
        kind: 'azure-table',
        // Entra tokens only travel over HTTPS; plain HTTP only to this machine.
        accountUrl: httpsUrl(
          env,
          'AZURE_STORAGE_ACCOUNT_URL',
          accountUrl,
          isLoopbackUrl(accountUrl),
        ),
        managedIdentityClientId: guid(env, 'AZURE_CLIENT_ID'),
        tablePrefix,
      };
    }
    return { kind: 'azure-table', connectionString, tablePrefix };
  }
  return {
    kind: 'sqlite',
    path: text(env, 'SQLITE_PATH') ?? (sandbox ? '.data/sandbox.db' : '.data/elevation-bot.db'),
  };
}

export function loadConfig(env: Env = process.env): Config {
  const mode: Mode = flag(env, 'SANDBOX', false) ? 'sandbox' : 'production';
  const sandbox = mode === 'sandbox';

  if (sandbox && (env.NODE_ENV === 'production' || env.WEBSITE_SITE_NAME)) {
    // Sandbox skips Bot Framework authentication: never let it run where it could be reached.
    throw new ConfigError(
      'SANDBOX',
      'cannot be enabled in a production deployment (NODE_ENV=production or App Service detected)',
    );
  }

  const host = text(env, 'HOST') ?? (sandbox ? '127.0.0.1' : '0.0.0.0');
  if (sandbox && !isLoopback(host)) {
    throw new ConfigError('HOST', `must be a loopback address in sandbox mode (got "${host}")`);
  }

  const botType = oneOf(
    env,
    'BOT_TYPE',
    ['MultiTenant', 'SingleTenant', 'UserAssignedMSI'] as const,
    'SingleTenant',
  );
  const botId = guid(env, 'BOT_ID');
  const botPassword = text(env, 'BOT_PASSWORD') ?? text(env, 'SECRET_BOT_PASSWORD');
  const botTenantId = guid(env, 'BOT_TENANT_ID');
  if (!sandbox) {
    if (!botId)
      throw new ConfigError(
        'BOT_ID',
        'is required in production (set SANDBOX=true to try the bot locally)',
      );
    if (botType !== 'UserAssignedMSI' && !botPassword) {
      throw new ConfigError(
        'BOT_PASSWORD',
        'is required in production unless BOT_TYPE=UserAssignedMSI',
      );
    }
    if (botType !== 'MultiTenant' && !botTenantId) {
      throw new ConfigError('BOT_TENANT_ID', `is required when BOT_TYPE=${botType}`);
    }
    // The bot acts only with the user's own token: without the SSO app it cannot act at all.
    for (const name of ['AAD_APP_CLIENT_ID', 'AAD_APP_TENANT_ID'] as const) {
      if (!text(env, name))
        throw new ConfigError(
          name,
          'is required in production (the SSO app that exchanges tokens on behalf of users)',
        );
    }
    const credentials = [
      'AAD_APP_CLIENT_SECRET',
      'SECRET_AAD_APP_CLIENT_SECRET',
      'AAD_APP_CLIENT_CERTIFICATE_PATH',
    ];
    if (!credentials.some((name) => text(env, name))) {
      throw new ConfigError(
        'AAD_APP_CLIENT_SECRET',
        "or AAD_APP_CLIENT_CERTIFICATE_PATH is required in production (the SSO app's credential for on-behalf-of)",
      );
    }
  }

  const storage = loadStorageConfig(env, sandbox);

  const allowedTenantIds = allowedTenants(env);
  // SECRET_TOKEN_CACHE_KEY: the Toolkit's name for secrets kept in env/.env.*.user.
  const tokenCacheKey = aesKey(env, 'TOKEN_CACHE_KEY') ?? aesKey(env, 'SECRET_TOKEN_CACHE_KEY');
  if (storage.kind === 'azure-table' && !tokenCacheKey) {
    throw new ConfigError(
      'TOKEN_CACHE_KEY',
      'is required when STORAGE=azure-table (several instances share sign-ins through the store, encrypted with it)',
    );
  }

  return {
    mode,
    host,
    port: integer(env, 'PORT', 3978, 0, 65535),
    logLevel: oneOf(env, 'LOG_LEVEL', ['debug', 'info', 'warn', 'error'] as const, 'info'),
    bot: {
      id: botId,
      password: botPassword,
      type: botType,
      tenantId: botTenantId,
      domain: text(env, 'BOT_DOMAIN'),
    },
    aad: {
      clientId: guid(env, 'AAD_APP_CLIENT_ID'),
      clientSecret: text(env, 'AAD_APP_CLIENT_SECRET') ?? text(env, 'SECRET_AAD_APP_CLIENT_SECRET'),
      clientCertificatePath: text(env, 'AAD_APP_CLIENT_CERTIFICATE_PATH'),
      tenantId: guid(env, 'AAD_APP_TENANT_ID'),
      authorityHost: httpsUrl(
        env,
        'AAD_APP_OAUTH_AUTHORITY_HOST',
        'https://login.microsoftonline.com',
        sandbox,
      ),
    },
    powerPlatform: {
      apiUrl: httpsUrl(env, 'POWERPLATFORM_API_URL', 'https://api.powerplatform.com', sandbox),
      apiVersion: apiVersion(env),
      attemptTimeoutMs: integer(env, 'POWERPLATFORM_ATTEMPT_TIMEOUT_MS', 10_000, 100, 120_000),
      totalTimeoutMs: integer(env, 'POWERPLATFORM_TOTAL_TIMEOUT_MS', 25_000, 100, 300_000),
      sandboxDataverseUrl: sandboxUrl(env, 'SANDBOX_DATAVERSE_URL', sandbox),
    },
    allowedTenantIds,
    storage,
    tokenCacheKey,
    auditRetentionDays: integer(env, 'AUDIT_RETENTION_DAYS', 0, 0, 36_500),
    elevation: {
      requestTtlMinutes: integer(env, 'REQUEST_TTL_MINUTES', 10, 1, 1440),
      justificationRequired: flag(env, 'JUSTIFICATION_REQUIRED', true),
      environmentCacheSeconds: integer(env, 'ENVIRONMENT_CACHE_SECONDS', 60, 0, 3600),
      invokeBudgetMs: integer(env, 'INVOKE_BUDGET_MS', 4000, 100, 10000),
      ...timeBoxing(env),
      ...elevationLengths(env),
      // At least a token refresh and three Dataverse calls of 8 s at most each (app.ts): a
      // shorter lease could run out under a removal still at work, and another instance would
      // send a second DELETE.
      removalLeaseSeconds: integer(env, 'ELEVATION_REMOVAL_LEASE_SECONDS', 60, 30, 3600),
      policyFile: text(env, 'POLICY_FILE'),
    },
    notifications: {
      adminIds: guidList(env, 'BOT_ADMIN_IDS'),
      maxAttempts: integer(env, 'NOTIFICATION_MAX_ATTEMPTS', 8, 1, 50),
      retryBaseMs: integer(env, 'NOTIFICATION_RETRY_BASE_MS', 2000, 10, 600_000),
      sendTimeoutMs: integer(env, 'NOTIFICATION_SEND_TIMEOUT_MS', 30_000, 100, 300_000),
      pollMs: integer(env, 'NOTIFICATION_POLL_MS', 10_000, 50, 3_600_000),
    },
  };
}

/**
 * ELEVATION_TIME_BOX (on by default): every elevation ends by itself. Removing only what the bot
 * granted needs the Dataverse role check, so it is on whenever time-boxing is.
 */
function timeBoxing(env: Env): Pick<Config['elevation'], 'timeBox' | 'dataverseRoleCheck'> {
  const timeBox = flag(env, 'ELEVATION_TIME_BOX', true);
  if (
    timeBox &&
    env.DATAVERSE_ROLE_CHECK !== undefined &&
    !flag(env, 'DATAVERSE_ROLE_CHECK', true)
  ) {
    throw new ConfigError(
      'DATAVERSE_ROLE_CHECK',
      'cannot be off while ELEVATION_TIME_BOX is on: only a role the bot granted may be removed at the end, and the role check tells which',
    );
  }
  return { timeBox, dataverseRoleCheck: timeBox || flag(env, 'DATAVERSE_ROLE_CHECK', false) };
}

/** A week: longer is standing privilege by another name. */
const LONGEST_ELEVATION_MINUTES = 7 * 1440;

/**
 * ELEVATION_DEFAULT_MINUTES, ELEVATION_MAX_MINUTES and ELEVATION_REMINDER_MINUTES, consistent with
 * each other: a default the maximum would refuse, or a reminder before the longest elevation even
 * starts, is a mistake to report at start, not to find on the first request. One minute is the
 * shortest anywhere, so that the sandbox shows the whole cycle with `for 1m`.
 */
function elevationLengths(
  env: Env,
): Pick<Config['elevation'], 'defaultMinutes' | 'maxMinutes' | 'reminderMinutes'> {
  const maxMinutes = integer(env, 'ELEVATION_MAX_MINUTES', 480, 1, LONGEST_ELEVATION_MINUTES);
  const defaultMinutes = integer(
    env,
    'ELEVATION_DEFAULT_MINUTES',
    Math.min(60, maxMinutes),
    1,
    LONGEST_ELEVATION_MINUTES,
  );
  if (defaultMinutes > maxMinutes) {
    throw new ConfigError(
      'ELEVATION_DEFAULT_MINUTES',
      `must not be more than ELEVATION_MAX_MINUTES (got ${defaultMinutes}, the maximum is ${maxMinutes})`,
    );
  }
  const reminderMinutes = integer(
    env,
    'ELEVATION_REMINDER_MINUTES',
    Math.min(10, maxMinutes - 1),
    0,
    LONGEST_ELEVATION_MINUTES,
  );
  if (reminderMinutes > 0 && reminderMinutes >= maxMinutes) {
    throw new ConfigError(
      'ELEVATION_REMINDER_MINUTES',
      `must be less than ELEVATION_MAX_MINUTES, or 0 for no reminder (got ${reminderMinutes}, the maximum is ${maxMinutes})`,
    );
  }
  return { defaultMinutes, maxMinutes, reminderMinutes };
}

/** What `ALLOWED_TENANT_IDS` is set to for "users of any tenant". */
const ANY_TENANT = '*';

/**
 * ALLOWED_TENANT_IDS: the listed tenants; without it, the tenant of the SSO app (AAD_APP_TENANT_ID),
 * whatever BOT_TYPE says, so that a MultiTenant bot never serves every tenant by omission. Any
 * tenant (returned as an empty list) only for `*`.
 */
function allowedTenants(env: Env): string[] {
  if (text(env, 'ALLOWED_TENANT_IDS') === ANY_TENANT) return [];
  const listed = guidList(env, 'ALLOWED_TENANT_IDS');
  if (listed.length > 0) return listed;
  const ownTenant = guid(env, 'AAD_APP_TENANT_ID');
  if (!ownTenant) {
    throw new ConfigError(
      'ALLOWED_TENANT_IDS',
      `has no default without AAD_APP_TENANT_ID: list the tenant ids, or write ${ANY_TENANT} for any tenant`,
    );
  }
  return [ownTenant.toLowerCase()];
}

function apiVersion(env: Env): string {
  const value = text(env, 'POWERPLATFORM_API_VERSION') ?? '2024-10-01';
  if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(value)) {
    throw new ConfigError(
      'POWERPLATFORM_API_VERSION',
      `must look like 2024-10-01 (got "${value}")`,
    );
  }
  return value;
}
