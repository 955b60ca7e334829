/**
 * The committed Toolkit files (teamsapp*.yml, env/, infra/azure.parameters.json, .vscode/tasks.json,
 * the scripts they run) as the Microsoft 365 Agents Toolkit itself reads them: its YAML parser and
 * schema, its placeholder resolution action by action, its ARM parameter expansion and its
 * file/createOrUpdateEnvironmentFile driver (test/support/toolkit-files-check.js), offline, with
 * only the values an operator must fill in. A file the Toolkit would stop on fails here instead of
 * halfway through a real `provision`. The Toolkit CLI is installed into .cache/ on the first run
 * (a few minutes), then reused.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { AppManifestUtils, type AppManifest } from '@microsoft/app-manifest';
import { loadConfig } from '../../src/config';
import { ensureToolkitCore } from '../support/toolkit-cli';

// @microsoft/app-manifest requires strip-bom, which is ES-module only (see app-package.test.ts).
jest.mock('strip-bom', () => ({
  __esModule: true,
  default: (text: string) => text.replace(/^\uFEFF/, ''),
}));

// The first run installs the Toolkit CLI.
jest.setTimeout(15 * 60_000);

const ROOT = path.resolve(__dirname, '..', '..');
const CHECK = path.join(__dirname, '..', 'support', 'toolkit-files-check.js');

interface Report {
  schemaErrors: string[];
  problems: string[];
  localConfigs?: Record<string, string>;
  armParameters?: Record<string, unknown>;
  appPackage?: string;
}

interface ZipEntry {
  entryName: string;
  getData(): Buffer;
}

/** The files of a zip, read with the zip library the Toolkit itself uses. */
function unzip(base64: string): Map<string, Buffer> {
  const fromToolkit = createRequire(path.join(coreDir, 'index.js'));
  const AdmZip = fromToolkit('adm-zip') as new (data: Buffer) => { getEntries(): ZipEntry[] };
  const entries = new AdmZip(Buffer.from(base64, 'base64')).getEntries();
  return new Map(entries.map((entry) => [entry.entryName, entry.getData()]));
}

type SchemaOf = Parameters<typeof AppManifestUtils.validateAgainstSchema>[1];

function teamsSchema(manifestVersion: string): SchemaOf {
  const schemaFile = require.resolve(
    `@microsoft/app-manifest/build/json-schemas/teams/v${manifestVersion}/MicrosoftTeams.schema.json`,
  );
  return JSON.parse(readFileSync(schemaFile, 'utf8')) as SchemaOf;
}

const ENVIRONMENTS = [
  { name: 'local', yml: 'teamsapp.local.yml' },
  { name: 'dev', yml: 'teamsapp.yml' },
] as const;

let coreDir = '';

beforeAll(async () => {
  coreDir = await ensureToolkitCore();
}, 15 * 60_000);

/** Runs the check for one yml file; `overrides` replace values of the environment. */
function check(yml: string, env: string, overrides: string[] = []): Promise<Report> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CHECK, coreDir, ROOT, yml, env, ...overrides],
      { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`the Toolkit check failed: ${stderr}`));
        else resolve(JSON.parse(stdout) as Report);
      },
    );
  });
}

describe('Toolkit files, read by the Toolkit', () => {
  const reports = new Map<string, Promise<Report>>();
  const reportFor = (environment: (typeof ENVIRONMENTS)[number]): Promise<Report> => {
    if (!reports.has(environment.name)) {
      reports.set(environment.name, check(environment.yml, environment.name));
    }
    return reports.get(environment.name) as Promise<Report>;
  };

  it.each(ENVIRONMENTS)('$yml passes the Toolkit schema for its version', async (environment) => {
    expect((await reportFor(environment)).schemaErrors).toEqual([]);
  });

  it.each(ENVIRONMENTS)(
    'every action of provision and deploy in $yml gets all its inputs, arm/deploy all its parameters',
    async (environment) => {
      expect((await reportFor(environment)).problems).toEqual([]);
    },
  );

  it.each(ENVIRONMENTS)(
    'the app package teamsApp/zipAppPackage builds for $name passes the Teams manifest schema, icons included',
    async (environment) => {
      const report = await reportFor(environment);
      expect(report.appPackage).toBeDefined();
      const files = unzip(report.appPackage as string);
      expect([...files.keys()].sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
      const text = (files.get('manifest.json') as Buffer).toString('utf8');
      expect(text).not.toMatch(/\$\{\{/);
      const manifest = JSON.parse(text) as AppManifest & {
        manifestVersion: string;
        developer: { privacyUrl: string; termsOfUseUrl: string };
      };
      expect(
        await AppManifestUtils.validateAgainstSchema(
          manifest,
          teamsSchema(manifest.manifestVersion),
        ),
      ).toEqual([]);
      // The links point at the pages the bot serves (public/).
      expect(manifest.developer.privacyUrl).toBe('https://elevation-bot.example.com/privacy.html');
      expect(manifest.developer.termsOfUseUrl).toBe('https://elevation-bot.example.com/terms.html');
    },
  );

  it('without the operator values the README names, the check names what is missing', async () => {
    const report = await check('teamsapp.yml', 'dev', ['POWERPLATFORM_USERS_APPLY_PERMISSION_ID=']);
    expect(report.problems.join('\n')).toMatch(/POWERPLATFORM_USERS_APPLY_PERMISSION_ID/);
  });

  it('optional settings set in the env files reach the bot in both environments, and may be absent', async () => {
    const tenant = '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f';
    const set = [`ALLOWED_TENANT_IDS=${tenant}`, 'AUDIT_RETENTION_DAYS=30'];
    const [local, dev] = await Promise.all([
      check('teamsapp.local.yml', 'local', set),
      check('teamsapp.yml', 'dev', set),
    ]);
    expect([...local.problems, ...dev.problems]).toEqual([]);
    const config = loadConfig(local.localConfigs ?? {});
    expect(config.allowedTenantIds).toEqual([tenant]);
    expect(config.auditRetentionDays).toBe(30);
    const encoded = String(dev.armParameters?.optionalAppSettings);
    expect(JSON.parse(Buffer.from(encoded, 'base64').toString('utf8'))).toEqual({
      ALLOWED_TENANT_IDS: tenant,
      AUDIT_RETENTION_DAYS: '30',
    });
  });

  it('the .localConfigs that local debug writes is a configuration the bot starts with, as a single-tenant bot', async () => {
    const report = await reportFor(ENVIRONMENTS[0]);
    const localConfigs = report.localConfigs ?? {};
    const config = loadConfig(localConfigs);
    // botFramework/create registers single-tenant bots, in the tenant of the signed-in account.
    expect(config.bot.type).toBe('SingleTenant');
    expect(config.bot.tenantId).toBe(localConfigs.AAD_APP_TENANT_ID);
    expect(config.bot.domain).toBe('elevation-bot.example.com');
    expect(config.mode).toBe('production');
  });
});
