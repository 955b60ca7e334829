import { ConfigError, loadConfig } from '../../src/config';
import { durationProblem } from '../../src/elevation/duration';

const PRODUCTION = {
  BOT_ID: '00000000-0000-0000-0000-0000000000b0',
  BOT_PASSWORD: 'not-a-real-secret',
  BOT_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  AAD_APP_CLIENT_ID: '00000000-0000-0000-0000-0000000000c1',
  AAD_APP_CLIENT_SECRET: 'another-test-secret',
  AAD_APP_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
};

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('production refuses to start without Bot Framework credentials, naming the variable', () => {
    expect(errorOf({}).variable).toBe('BOT_ID');
    expect(errorOf({ BOT_ID: PRODUCTION.BOT_ID }).variable).toBe('BOT_PASSWORD');
    expect(errorOf({ BOT_ID: PRODUCTION.BOT_ID, BOT_PASSWORD: 'x' }).variable).toBe(
      'BOT_TENANT_ID',
    );
  });

  it('production refuses to start without the SSO app that acts for users', () => {
    const { AAD_APP_CLIENT_ID: _1, ...noClient } = PRODUCTION;
    expect(errorOf(noClient).variable).toBe('AAD_APP_CLIENT_ID');
    const { AAD_APP_TENANT_ID: _2, ...noTenant } = PRODUCTION;
    expect(errorOf(noTenant).variable).toBe('AAD_APP_TENANT_ID');
    const { AAD_APP_CLIENT_SECRET: _3, ...noSecret } = PRODUCTION;
    expect(errorOf(noSecret).variable).toBe('AAD_APP_CLIENT_SECRET');
    expect(loadConfig({ ...noSecret, SECRET_AAD_APP_CLIENT_SECRET: 's' }).aad.clientSecret).toBe(
      's',
    );
    // A certificate replaces the secret.
    const withCertificate = loadConfig({
      ...noSecret,
      AAD_APP_CLIENT_CERTIFICATE_PATH: '/certs/sso.pem',
    });
    expect(withCertificate.aad.clientCertificatePath).toBe('/certs/sso.pem');
  });

  it('a managed identity needs no password', () => {
    const { BOT_PASSWORD: _, ...rest } = PRODUCTION;
    const config = loadConfig({ ...rest, BOT_TYPE: 'UserAssignedMSI' });
    expect(config.mode).toBe('production');
    expect(config.bot.password).toBeUndefined();
  });

  it('the Toolkit secret name is accepted for the bot password', () => {
    const { BOT_PASSWORD: _, ...rest } = PRODUCTION;
    expect(loadConfig({ ...rest, SECRET_BOT_PASSWORD: 's' }).bot.password).toBe('s');
  });

  it('production defaults: public API, stable api-version, SQLite, 10 minute cards, justification required', () => {
    const config = loadConfig(PRODUCTION);
    expect(config.powerPlatform).toEqual({
      apiUrl: 'https://api.powerplatform.com',
      apiVersion: '2024-10-01',
      attemptTimeoutMs: 10_000,
      totalTimeoutMs: 25_000,
    });
    expect(config.storage).toEqual({ kind: 'sqlite', path: '.data/elevation-bot.db' });
    expect(config.elevation.requestTtlMinutes).toBe(10);
    expect(config.elevation.justificationRequired).toBe(true);
    expect(config.host).toBe('0.0.0.0');
    expect(config.port).toBe(3978);
    // Without an explicit list, only the SSO app's own tenant is allowed.
    expect(config.allowedTenantIds).toEqual([PRODUCTION.AAD_APP_TENANT_ID]);
    // Nobody manages notifications until someone is named.
    expect(config.notifications).toEqual({
      adminIds: [],
      maxAttempts: 8,
      retryBaseMs: 2000,
      sendTimeoutMs: 30_000,
      pollMs: 10_000,
    });
  });

  describe('ALLOWED_TENANT_IDS', () => {
    const SSO_TENANT = '3a4cfec5-a51a-4112-a8bf-15cd69dbdba8';
    const { BOT_TENANT_ID: _, ...shared } = PRODUCTION;
    const multiTenant = { ...shared, BOT_TYPE: 'MultiTenant', AAD_APP_TENANT_ID: SSO_TENANT };

    it("a MultiTenant bot without BOT_TENANT_ID or a list serves the SSO app's tenant only, not any", () => {
      expect(loadConfig(multiTenant).allowedTenantIds).toEqual([SSO_TENANT]);
    });

    it('defaults to AAD_APP_TENANT_ID (in lower case), not to BOT_TENANT_ID', () => {
      const config = loadConfig({
        ...PRODUCTION,
        BOT_TENANT_ID: '11111111-2222-3333-4444-555555555555',
        AAD_APP_TENANT_ID: SSO_TENANT.toUpperCase(),
      });
      expect(config.allowedTenantIds).toEqual([SSO_TENANT]);
    });

    it('a list replaces the default', () => {
      const config = loadConfig({
        ...multiTenant,
        ALLOWED_TENANT_IDS: ` ${PRODUCTION.AAD_APP_TENANT_ID.toUpperCase()} ,${SSO_TENANT}`,
      });
      expect(config.allowedTenantIds).toEqual([PRODUCTION.AAD_APP_TENANT_ID, SSO_TENANT]);
    });

    it('any tenant only when asked for with *', () => {
      expect(loadConfig({ ...multiTenant, ALLOWED_TENANT_IDS: '*' }).allowedTenantIds).toEqual([]);
      expect(loadConfig({ ...multiTenant, ALLOWED_TENANT_IDS: ' * ' }).allowedTenantIds).toEqual(
        [],
      );
      expect(errorOf({ ...multiTenant, ALLOWED_TENANT_IDS: `*,${SSO_TENANT}` }).variable).toBe(
        'ALLOWED_TENANT_IDS',
      );
    });

    it('the sandbox serves any tenant only when asked for too, and needs a tenant otherwise', () => {
      expect(
        loadConfig({ SANDBOX: 'true', AAD_APP_TENANT_ID: SSO_TENANT }).allowedTenantIds,
      ).toEqual([SSO_TENANT]);
      expect(loadConfig({ SANDBOX: 'true', ALLOWED_TENANT_IDS: '*' }).allowedTenantIds).toEqual([]);
      const error = errorOf({ SANDBOX: 'true' });
      expect(error.variable).toBe('ALLOWED_TENANT_IDS');
      expect(error.message).toContain('AAD_APP_TENANT_ID');
    });
  });

  it('BOT_ADMIN_IDS is a comma-separated list of Entra object ids, compared in lower case', () => {
    const config = loadConfig({
      ...PRODUCTION,
      BOT_ADMIN_IDS:
        ' 8A2F0C5E-6D1B-4C3E-9F7A-1B2C3D4E5F60 , 5b7e9d1c-3a2f-4e6b-8c0d-9e8f7a6b5c41,',
    });
    expect(config.notifications.adminIds).toEqual([
      '8a2f0c5e-6d1b-4c3e-9f7a-1b2c3d4e5f60',
      '5b7e9d1c-3a2f-4e6b-8c0d-9e8f7a6b5c41',
    ]);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ BOT_ID: 'not-a-guid' }, 'BOT_ID'],
    [{ POWERPLATFORM_API_URL: 'http://api.powerplatform.com' }, 'POWERPLATFORM_API_URL'],
    [{ POWERPLATFORM_API_URL: 'not a url' }, 'POWERPLATFORM_API_URL'],
    [{ POWERPLATFORM_API_VERSION: 'latest' }, 'POWERPLATFORM_API_VERSION'],
    [{ STORAGE: 'postgres' }, 'STORAGE'],
    [{ STORAGE: 'azure-table' }, 'AZURE_STORAGE_CONNECTION_STRING'],
    [{ JUSTIFICATION_REQUIRED: 'maybe' }, 'JUSTIFICATION_REQUIRED'],
    [{ ALLOWED_TENANT_IDS: 'contoso.com' }, 'ALLOWED_TENANT_IDS'],
    [{ REQUEST_TTL_MINUTES: '0' }, 'REQUEST_TTL_MINUTES'],
    [{ BOT_ADMIN_IDS: 'alex@contoso.com' }, 'BOT_ADMIN_IDS'],
    [{ NOTIFICATION_MAX_ATTEMPTS: '0' }, 'NOTIFICATION_MAX_ATTEMPTS'],
    [{ NOTIFICATION_SEND_TIMEOUT_MS: 'soon' }, 'NOTIFICATION_SEND_TIMEOUT_MS'],
    [{ ELEVATION_MAX_MINUTES: '0' }, 'ELEVATION_MAX_MINUTES'],
    [{ ELEVATION_MAX_MINUTES: '10081' }, 'ELEVATION_MAX_MINUTES'],
    [{ ELEVATION_MAX_MINUTES: '8h' }, 'ELEVATION_MAX_MINUTES'],
    [{ ELEVATION_DEFAULT_MINUTES: '0' }, 'ELEVATION_DEFAULT_MINUTES'],
    [{ ELEVATION_DEFAULT_MINUTES: '1.5' }, 'ELEVATION_DEFAULT_MINUTES'],
    [{ ELEVATION_DEFAULT_MINUTES: '-60' }, 'ELEVATION_DEFAULT_MINUTES'],
    [{ ELEVATION_REMINDER_MINUTES: 'soon' }, 'ELEVATION_REMINDER_MINUTES'],
    [{ ELEVATION_REMINDER_MINUTES: '-1' }, 'ELEVATION_REMINDER_MINUTES'],
    // Shorter than one removal can take: another instance could send a second DELETE.
    [{ ELEVATION_REMOVAL_LEASE_SECONDS: '29' }, 'ELEVATION_REMOVAL_LEASE_SECONDS'],
    [{ ELEVATION_REMOVAL_LEASE_SECONDS: '3601' }, 'ELEVATION_REMOVAL_LEASE_SECONDS'],
    [{ ELEVATION_REMOVAL_LEASE_SECONDS: '1m' }, 'ELEVATION_REMOVAL_LEASE_SECONDS'],
  ])('a malformed value is named in one line: %j', (bad, variable) => {
    const error = errorOf({ ...PRODUCTION, ...bad });
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(new RegExp(`^Configuration error: ${variable} `));
    expect(error.message).not.toContain('\n');
  });

  it('sandbox runs without credentials, on loopback only', () => {
    const sandbox = { SANDBOX: 'true', AAD_APP_TENANT_ID: PRODUCTION.AAD_APP_TENANT_ID };
    const config = loadConfig(sandbox);
    expect(config.mode).toBe('sandbox');
    expect(config.host).toBe('127.0.0.1');
    expect(errorOf({ ...sandbox, HOST: '0.0.0.0' }).variable).toBe('HOST');
    expect(errorOf({ ...sandbox, HOST: '10.0.0.5' }).variable).toBe('HOST');
  });

  it('SANDBOX_DATAVERSE_URL: sandbox only, https or loopback http, without a trailing slash', () => {
    const sandbox = { SANDBOX: 'true', AAD_APP_TENANT_ID: PRODUCTION.AAD_APP_TENANT_ID };
    expect(loadConfig(sandbox).powerPlatform.sandboxDataverseUrl).toBeUndefined();
    const at = (url: string) =>
      loadConfig({ ...sandbox, SANDBOX_DATAVERSE_URL: url }).powerPlatform.sandboxDataverseUrl;
    expect(at('http://127.0.0.1:5599/')).toBe('http://127.0.0.1:5599');
    expect(at('http://localhost:5599/dataverse')).toBe('http://localhost:5599/dataverse');
    expect(at('http://[::1]:5599')).toBe('http://[::1]:5599');
    expect(at('https://dataverse-fake.contoso.example')).toBe(
      'https://dataverse-fake.contoso.example',
    );
    for (const bad of [
      'http://10.0.0.5:5599',
      'http://dataverse.example',
      'ftp://127.0.0.1',
      'nope',
    ]) {
      const error = errorOf({ ...sandbox, SANDBOX_DATAVERSE_URL: bad });
      expect(error.variable).toBe('SANDBOX_DATAVERSE_URL');
      expect(error.message).not.toContain('\n');
    }
    // Production never reads it: set there, it is a mistake worth stopping for.
    const production = errorOf({ ...PRODUCTION, SANDBOX_DATAVERSE_URL: 'https://x.example' });
    expect(production.variable).toBe('SANDBOX_DATAVERSE_URL');
    expect(production.message).toContain('SANDBOX=true');
  });

  it('sandbox cannot be switched on in a production deployment', () => {
    expect(errorOf({ SANDBOX: 'true', NODE_ENV: 'production' }).variable).toBe('SANDBOX');
    expect(errorOf({ SANDBOX: 'true', WEBSITE_SITE_NAME: 'elevation-bot' }).variable).toBe(
      'SANDBOX',
    );
  });

  it('secrets are not part of any error message', () => {
    const error = errorOf({ ...PRODUCTION, BOT_PASSWORD: 'hunter2-secret', PORT: 'x' });
    expect(error.message).not.toContain('hunter2-secret');
    const badKey = errorOf({ ...PRODUCTION, TOKEN_CACHE_KEY: 'hunter2-short-key' });
    expect(badKey.variable).toBe('TOKEN_CACHE_KEY');
    expect(badKey.message).not.toContain('hunter2');
  });

  it('TOKEN_CACHE_KEY is 32 bytes in hex or base64, and required for several instances on Azure Table', () => {
    const hex = 'ab'.repeat(32);
    expect(loadConfig({ ...PRODUCTION, TOKEN_CACHE_KEY: hex }).tokenCacheKey).toEqual(
      Buffer.from(hex, 'hex'),
    );
    const base64 = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ ...PRODUCTION, TOKEN_CACHE_KEY: base64 }).tokenCacheKey).toEqual(
      Buffer.alloc(32, 7),
    );
    expect(loadConfig(PRODUCTION).tokenCacheKey).toBeUndefined();
    expect(
      errorOf({
        ...PRODUCTION,
        STORAGE: 'azure-table',
        AZURE_STORAGE_CONNECTION_STRING: 'UseDevelopmentStorage=true',
      }).variable,
    ).toBe('TOKEN_CACHE_KEY');
    expect(
      errorOf({ ...PRODUCTION, TOKEN_CACHE_KEY: Buffer.alloc(16).toString('base64') }).variable,
    ).toBe('TOKEN_CACHE_KEY');
  });

  it('elevations last an hour by default, eight at most, with a reminder 10 minutes before the end', () => {
    const { defaultMinutes, maxMinutes, reminderMinutes } = loadConfig(PRODUCTION).elevation;
    expect({ defaultMinutes, maxMinutes, reminderMinutes }).toEqual({
      defaultMinutes: 60,
      maxMinutes: 480,
      reminderMinutes: 10,
    });
  });

  it.each<[Record<string, string>, [number, number, number]]>([
    [{ ELEVATION_DEFAULT_MINUTES: '30', ELEVATION_MAX_MINUTES: '120' }, [30, 120, 10]],
    [{ ELEVATION_DEFAULT_MINUTES: '480' }, [480, 480, 10]],
    [{ ELEVATION_MAX_MINUTES: '10080', ELEVATION_DEFAULT_MINUTES: '1440' }, [1440, 10080, 10]],
    [{ ELEVATION_REMINDER_MINUTES: '0' }, [60, 480, 0]],
    [{ ELEVATION_REMINDER_MINUTES: '479' }, [60, 480, 479]],
    // A maximum below the defaults' own values pulls them down rather than failing.
    [{ ELEVATION_MAX_MINUTES: '30' }, [30, 30, 10]],
    [{ ELEVATION_MAX_MINUTES: '5' }, [5, 5, 4]],
    [{ ELEVATION_MAX_MINUTES: '1' }, [1, 1, 0]],
  ])('elevation lengths %j', (env, [defaultMinutes, maxMinutes, reminderMinutes]) => {
    expect(loadConfig({ ...PRODUCTION, ...env }).elevation).toMatchObject({
      defaultMinutes,
      maxMinutes,
      reminderMinutes,
    });
  });

  it.each<[Record<string, string>, number]>([
    [{}, 60],
    [{ ELEVATION_REMOVAL_LEASE_SECONDS: '30' }, 30],
    [{ ELEVATION_REMOVAL_LEASE_SECONDS: '3600' }, 3600],
  ])('the removal lease %j', (env, removalLeaseSeconds) => {
    expect(loadConfig({ ...PRODUCTION, ...env }).elevation.removalLeaseSeconds).toBe(
      removalLeaseSeconds,
    );
  });

  it.each([
    [{}, undefined],
    [{ POLICY_FILE: '  ' }, undefined],
    [{ POLICY_FILE: ' /etc/elevation/policy.yaml ' }, '/etc/elevation/policy.yaml'],
  ])('POLICY_FILE %j: the path, read at start (none: the settings alone)', (env, policyFile) => {
    expect(loadConfig({ ...PRODUCTION, ...env }).elevation.policyFile).toBe(policyFile);
  });

  it('a default longer than the maximum names both settings', () => {
    const error = errorOf({
      ...PRODUCTION,
      ELEVATION_DEFAULT_MINUTES: '600',
      ELEVATION_MAX_MINUTES: '480',
    });
    expect(error.variable).toBe('ELEVATION_DEFAULT_MINUTES');
    expect(error.message).toBe(
      'Configuration error: ELEVATION_DEFAULT_MINUTES must not be more than ELEVATION_MAX_MINUTES (got 600, the maximum is 480)',
    );
  });

  it.each([['480'], ['481']])(
    'a reminder of %s minutes, not before the longest elevation ends, names both settings',
    (reminder) => {
      const error = errorOf({ ...PRODUCTION, ELEVATION_REMINDER_MINUTES: reminder });
      expect(error.variable).toBe('ELEVATION_REMINDER_MINUTES');
      expect(error.message).toContain('ELEVATION_MAX_MINUTES');
      expect(error.message).toContain(`got ${reminder}, the maximum is 480`);
    },
  );

  it('the sandbox accepts an elevation of one minute, and refuses one longer than its maximum', () => {
    const limits = loadConfig({
      SANDBOX: 'true',
      AAD_APP_TENANT_ID: PRODUCTION.AAD_APP_TENANT_ID,
    }).elevation;
    expect(durationProblem(1, limits)).toBeUndefined();
    expect(durationProblem(limits.defaultMinutes, limits)).toBeUndefined();
    expect(durationProblem(limits.maxMinutes + 1, limits)).toContain('8 hours');
  });

  it('AUDIT_RETENTION_DAYS: 0 (the default) keeps everything', () => {
    expect(loadConfig(PRODUCTION).auditRetentionDays).toBe(0);
    expect(loadConfig({ ...PRODUCTION, AUDIT_RETENTION_DAYS: '400' }).auditRetentionDays).toBe(400);
    expect(errorOf({ ...PRODUCTION, AUDIT_RETENTION_DAYS: '-1' }).variable).toBe(
      'AUDIT_RETENTION_DAYS',
    );
  });
});
