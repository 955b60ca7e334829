/**
 * scripts/toolkit-env.js, the Toolkit `script` steps for env/.env.<name>: the operator values are
 * checked with a message that says what to fill in, and the optional settings reach the bot (its
 * App Service settings, its .localConfigs) when set, and are simply absent when not.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';

const ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'toolkit-env.js');
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const OTHER_TENANT = '0b1c2d3e-4f50-4617-8829-3a4b5c6d7e8f';
const ADMIN = '11111111-2222-4333-8444-555555555555';

/** What the Toolkit writes for the bot besides the optional settings (see teamsapp.local.yml). */
const REQUIRED_SETTINGS = {
  BOT_ID: '00000000-0000-0000-0000-0000000000b0',
  BOT_PASSWORD: 'not-a-real-secret',
  BOT_TENANT_ID: TENANT,
  AAD_APP_CLIENT_ID: '00000000-0000-0000-0000-0000000000c1',
  AAD_APP_CLIENT_SECRET: 'another-test-secret',
  AAD_APP_TENANT_ID: TENANT,
};

function run(args: string[], env: Record<string, string>, cwd = tmpdir()) {
  const result = spawnSync(process.execPath, [SCRIPT, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', TEAMSFX_ENV: 'dev', ...env },
    encoding: 'utf8',
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** OPTIONAL_APP_SETTINGS as infra/azure.bicep reads it: json(base64ToString(...)). */
function appSettings(env: Record<string, string>): Record<string, string> {
  const { status, stdout } = run(['app-settings'], env);
  expect(status).toBe(0);
  const match = /^::set-teamsfx-env OPTIONAL_APP_SETTINGS=(\S+)$/m.exec(stdout);
  expect(match).not.toBeNull();
  return JSON.parse(Buffer.from(match?.[1] as string, 'base64').toString('utf8')) as Record<
    string,
    string
  >;
}

describe('scripts/toolkit-env.js', () => {
  it.each(['ELEVATION_DEFAULT_MINUTES', 'ELEVATION_MAX_MINUTES', 'ELEVATION_REMINDER_MINUTES'])(
    '%s is offered in the env files and reaches the bot in Azure when set',
    (name) => {
      for (const file of ['env/.env.dev', 'env/.env.local'])
        expect(readFileSync(path.join(ROOT, file), 'utf8')).toMatch(new RegExp(`^${name}=$`, 'm'));
      expect(appSettings({ [name]: '30' })).toEqual({ [name]: '30' });
      expect(appSettings({ [name]: '' })).toEqual({});
    },
  );

  it('check stops provision when the permission id is empty, saying where to find it', () => {
    const { status, stderr } = run(['check'], { POWERPLATFORM_USERS_APPLY_PERMISSION_ID: ' ' });
    expect(status).toBe(1);
    expect(stderr).toContain('POWERPLATFORM_USERS_APPLY_PERMISSION_ID is empty in env/.env.dev');
    expect(stderr).toContain('az ad sp show --id 8578e004-a5c6-46e7-913e-12f58912df43');
    expect(stderr).toContain('Deploy to your tenant');
  });

  it('check refuses a permission id that is not a GUID, and passes a GUID', () => {
    const wrong = run(['check'], { POWERPLATFORM_USERS_APPLY_PERMISSION_ID: 'Users.Apply' });
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toContain('is not a GUID (got "Users.Apply")');
    const right = run(['check'], { POWERPLATFORM_USERS_APPLY_PERMISSION_ID: ADMIN });
    expect(right).toMatchObject({ status: 0, stderr: '' });
  });

  it('app-settings hands arm/deploy an empty object when no optional setting is set', () => {
    expect(appSettings({ ALLOWED_TENANT_IDS: '', BOT_ADMIN_IDS: '  ' })).toEqual({});
  });

  it('app-settings hands arm/deploy the optional settings that are set, which the bot then reads', () => {
    const settings = appSettings({
      ALLOWED_TENANT_IDS: `${TENANT},${OTHER_TENANT}`,
      BOT_ADMIN_IDS: ADMIN,
      AUDIT_RETENTION_DAYS: '',
      SECRET_BOT_PASSWORD: 'must not travel',
    });
    expect(settings).toEqual({
      ALLOWED_TENANT_IDS: `${TENANT},${OTHER_TENANT}`,
      BOT_ADMIN_IDS: ADMIN,
    });
    const config = loadConfig({ ...REQUIRED_SETTINGS, ...settings });
    expect(config.allowedTenantIds).toEqual([TENANT, OTHER_TENANT]);
    expect(config.notifications.adminIds).toEqual([ADMIN]);
  });

  it('local-configs adds the optional settings that are set and drops those no longer set, keeping the rest', () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'local-configs-'));
    const file = path.join(folder, '.localConfigs');
    const required = Object.entries(REQUIRED_SETTINGS).map(([k, v]) => `${k}=${v}`);
    writeFileSync(
      file,
      [...required, `BOT_ADMIN_IDS=${ADMIN}`, 'AUDIT_RETENTION_DAYS=30'].join('\n'),
    );
    const { status } = run(['local-configs', file], {
      ALLOWED_TENANT_IDS: OTHER_TENANT,
      AUDIT_RETENTION_DAYS: '90',
    });
    expect(status).toBe(0);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toEqual([
      ...required,
      `ALLOWED_TENANT_IDS=${OTHER_TENANT}`,
      'AUDIT_RETENTION_DAYS=90',
    ]);
    const config = loadConfig(
      Object.fromEntries(lines.map((l) => l.split('=') as [string, string])),
    );
    expect(config.allowedTenantIds).toEqual([OTHER_TENANT]);
    expect(config.notifications.adminIds).toEqual([]);
    expect(config.auditRetentionDays).toBe(90);
  });

  it('the operator values are the same in the env files, the check and the README, named once there', () => {
    const marked = (file: string) => {
      const lines = readFileSync(path.join(ROOT, file), 'utf8').split('\n');
      return lines.flatMap((line, i) => {
        const key = /^([A-Z_][A-Z0-9_]*)=/.exec(line)?.[1];
        const block = lines.slice(0, i).reverse();
        const comments = block.slice(
          0,
          Math.max(
            0,
            block.findIndex((l) => !l.startsWith('#')),
          ),
        );
        return key && comments.some((c) => c.includes('OPERATOR MUST FILL')) ? [key] : [];
      });
    };
    const operatorValues = marked('env/.env.dev');
    expect(operatorValues).toEqual(['POWERPLATFORM_USERS_APPLY_PERMISSION_ID']);
    expect(marked('env/.env.local')).toEqual(operatorValues);
    const required =
      /const REQUIRED = \{([\s\S]*?)\n\};/.exec(readFileSync(SCRIPT, 'utf8'))?.[1] ?? '';
    expect([...required.matchAll(/^ {2}([A-Z_]+): \{/gm)].map((m) => m[1])).toEqual(operatorValues);
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = /^## Deploy to your tenant\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
    expect(section).toMatch(/\*\*The one value you must fill in\*\*/);
    for (const name of operatorValues) expect(section).toContain(`\`${name}\``);
  });
});
