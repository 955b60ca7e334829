/**
 * infra/azure.bicep checked without a Bicep compiler (none installs here; where one does,
 * `az bicep build --file infra/azure.bicep` compiles it): its text is parsed for what the issue
 * asks of it and cross-checked with infra/azure.parameters.json, teamsapp.yml, the settings
 * src/config.ts reads and the optional settings scripts/toolkit-env.js hands over. The syntax
 * checks are what old Bicep CLIs (teamsapp.yml pins the Toolkit's default, v0.9.1) are strict about.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

const BICEP = read('infra/azure.bicep');
/** The template without comments and string contents, for the structural checks. */
const CODE = BICEP.replace(/('(?:\\.|[^'\\\n])*')|\/\/[^\n]*/g, (_all, text?: string) =>
  text === undefined ? '' : "''",
);

/** The body of `resource <name> '<type>' = { ... }`, braces balanced. */
function resourceBody(name: string): string {
  const start = BICEP.search(new RegExp(`^resource ${name} '[^']+' = \\{`, 'm'));
  if (start < 0) throw new Error(`no resource ${name}`);
  let depth = 0;
  for (let i = BICEP.indexOf('{', start); i < BICEP.length; i++) {
    if (BICEP[i] === '{') depth++;
    if (BICEP[i] === '}' && --depth === 0) return BICEP.slice(start, i + 1);
  }
  throw new Error(`resource ${name} is not closed`);
}

function resourceType(name: string): string {
  return new RegExp(`^resource ${name} '([^@']+)@`, 'm').exec(BICEP)?.[1] ?? '';
}

const PARAMS = [...BICEP.matchAll(/^((?:@\w+\([^\n]*\)\n)*)param\s+(\w+)\s+(\w+)(\s*=)?/gm)].map(
  (m) => ({
    name: m[2] as string,
    type: m[3] as string,
    required: !m[4],
    secure: /@secure\(\)/.test(m[1] ?? ''),
  }),
);
const OUTPUTS = [...BICEP.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1] as string);

/** The app settings of the Web App: the keys of the object after `union(optionalSettings, {`. */
function appSettings(): Map<string, string> {
  const body = resourceBody('webAppSettings');
  const block = /union\(optionalSettings, \{([\s\S]*?)\n\s*\}\)/.exec(body)?.[1] ?? '';
  const settings = new Map<string, string>();
  for (const match of block.matchAll(/^\s*(\w+):\s*(.+)$/gm)) {
    settings.set(match[1] as string, (match[2] as string).trim());
  }
  return settings;
}

describe('infra/azure.bicep, checked without a compiler', () => {
  it('is balanced, and every symbol it uses is declared', () => {
    for (const [open, close] of [
      ['{', '}'],
      ['(', ')'],
      ['[', ']'],
    ] as const) {
      expect(CODE.split(open).length).toBe(CODE.split(close).length);
    }
    const declared = new Set(
      [...CODE.matchAll(/^(?:param|var|resource|output|module)\s+(\w+)/gm)].map((m) => m[1]),
    );
    const used = new Set(
      [...CODE.matchAll(/\b([a-z]\w*)\.(id|name|properties)\b/g)].map((m) => m[1] as string),
    );
    expect([...used].filter((name) => !declared.has(name))).toEqual([]);
    // Multi-line function arguments need a newer Bicep than the one teamsapp.yml pins.
    expect(CODE.split('\n').filter((line) => /\(\s*$/.test(line))).toEqual([]);
  });

  it('azure.parameters.json sets only declared parameters and every required one', () => {
    const given = Object.keys(
      (JSON.parse(read('infra/azure.parameters.json')) as { parameters: object }).parameters,
    );
    expect(given.filter((name) => !PARAMS.some((p) => p.name === name))).toEqual([]);
    expect(PARAMS.filter((p) => p.required && !given.includes(p.name)).map((p) => p.name)).toEqual(
      [],
    );
  });

  it('writes every value teamsapp.yml and the manifests take from it', () => {
    expect(OUTPUTS).toEqual(
      expect.arrayContaining([
        'BOT_ID',
        'BOT_DOMAIN',
        'BOT_ENDPOINT',
        'BOT_AZURE_APP_SERVICE_RESOURCE_ID',
      ]),
    );
    expect(read('teamsapp.yml')).toContain('resourceId: ${{BOT_AZURE_APP_SERVICE_RESOURCE_ID}}');
    // No bot app of its own in the cloud: the Toolkit's botAadApp/create is gone with the secret.
    expect(read('teamsapp.yml')).not.toMatch(/^\s*- uses: botAadApp\/create/m);
  });

  it('runs Node 22 LTS on Linux, HTTPS only, TLS 1.2+, FTP off, always on, /healthz checked', () => {
    const site = resourceBody('webApp');
    expect(site).toContain("linuxFxVersion: 'NODE|22-lts'");
    expect(site).toContain('httpsOnly: true');
    expect(site).toContain("minTlsVersion: '1.2'");
    expect(site).toContain("ftpsState: 'Disabled'");
    expect(site).toContain('alwaysOn: true');
    expect(site).toContain("healthCheckPath: '/healthz'");
    expect(read('src/server.ts')).toContain("server.get('/healthz'");
    expect(resourceBody('ftpPublishing')).toMatch(/allow: false/);
  });

  it('gives the bot a user-assigned managed identity as its Bot Framework identity, without a secret', () => {
    expect(resourceType('identity')).toBe('Microsoft.ManagedIdentity/userAssignedIdentities');
    expect(resourceBody('webApp')).toContain("'${identity.id}': {}");
    const bot = resourceBody('botService');
    expect(bot).toContain("msaAppType: 'UserAssignedMSI'");
    expect(bot).toContain('msaAppId: identity.properties.clientId');
    expect(bot).toContain('msaAppMSIResourceId: identity.id');
    const settings = appSettings();
    expect(settings.get('BOT_TYPE')).toBe("'UserAssignedMSI'");
    expect(settings.get('BOT_ID')).toBe('identity.properties.clientId');
    expect(settings.has('BOT_PASSWORD')).toBe(false);
  });

  it('reaches Table storage with the identity: a data role, shared keys off, no key anywhere', () => {
    expect(resourceBody('storage')).toContain('allowSharedKeyAccess: false');
    const role = resourceBody('storageRole');
    expect(role).toContain('scope: storage');
    expect(role).toContain('principalId: identity.properties.principalId');
    // Storage Table Data Contributor.
    expect(BICEP).toContain("storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'");
    expect(role).toContain('storageTableDataContributor');
    const settings = appSettings();
    expect(settings.get('AZURE_STORAGE_ACCOUNT_URL')).toBe(
      'storage.properties.primaryEndpoints.table',
    );
    expect(settings.get('AZURE_CLIENT_ID')).toBe('identity.properties.clientId');
    expect(settings.has('AZURE_STORAGE_CONNECTION_STRING')).toBe(false);
    expect(CODE).not.toMatch(/listKeys|AccountKey|SharedAccessSignature/i);
  });

  it('keeps the remaining secrets in Key Vault, read through Key Vault references by the identity', () => {
    const vault = resourceBody('keyVault');
    expect(vault).toContain('enableRbacAuthorization: true');
    const role = resourceBody('keyVaultRole');
    expect(role).toContain('scope: keyVault');
    expect(role).toContain('principalId: identity.properties.principalId');
    expect(BICEP).toContain("keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'");
    expect(resourceBody('webApp')).toContain('keyVaultReferenceIdentity: identity.id');
    const settings = appSettings();
    for (const name of ['AAD_APP_CLIENT_SECRET', 'TOKEN_CACHE_KEY']) {
      expect(settings.get(name)).toMatch(
        /^'@Microsoft\.KeyVault\(SecretUri=\$\{\w+\.properties\.secretUri\}\)'$/,
      );
    }
    // A secure parameter goes nowhere but into a Key Vault secret.
    for (const param of PARAMS.filter((p) => p.secure)) {
      const uses = [...CODE.matchAll(new RegExp(`\\b${param.name}\\b`, 'g'))].length;
      const intoSecrets = [...BICEP.matchAll(new RegExp(`^\\s*value: ${param.name}$`, 'gm'))]
        .length;
      expect({ param: param.name, uses: uses - 1 }).toEqual({
        param: param.name,
        uses: intoSecrets,
      });
    }
    expect(
      PARAMS.filter((p) => p.secure)
        .map((p) => p.name)
        .sort(),
    ).toEqual(['aadAppClientSecret', 'tokenCacheKey']);
  });

  it('wires Application Insights and the console logs to one workspace', () => {
    const settings = appSettings();
    expect(settings.get('APPLICATIONINSIGHTS_CONNECTION_STRING')).toBe(
      'appInsights.properties.ConnectionString',
    );
    expect(settings.get('ApplicationInsightsAgent_EXTENSION_VERSION')).toBe("'~3'");
    expect(resourceBody('appInsights')).toContain('WorkspaceResourceId: workspace.id');
    const logs = resourceBody('webAppLogs');
    expect(logs).toContain('workspaceId: workspace.id');
    expect(logs).toContain("category: 'AppServiceConsoleLogs'");
  });

  it('sets only settings the bot reads (src/config.ts) or App Service does, and the optional ones reach it', () => {
    const config = read('src/config.ts');
    const platform = [
      'SCM_DO_BUILD_DURING_DEPLOYMENT',
      'APPLICATIONINSIGHTS_CONNECTION_STRING',
      'ApplicationInsightsAgent_EXTENSION_VERSION',
    ];
    const unread = [...appSettings().keys()].filter(
      (name) => !platform.includes(name) && !config.includes(`'${name}'`),
    );
    expect(unread).toEqual([]);
    const optional =
      /const OPTIONAL = \[([\s\S]*?)\];/.exec(read('scripts/toolkit-env.js'))?.[1] ?? '';
    const names = [...optional.matchAll(/'(\w+)'/g)].map((m) => m[1] as string);
    expect(names.length).toBeGreaterThan(3);
    expect(names.filter((name) => !config.includes(`'${name}'`))).toEqual([]);
    // And the bot's own settings always win over an optional one of the same name.
    expect(resourceBody('webAppSettings')).toContain('properties: union(optionalSettings, {');
  });
});
