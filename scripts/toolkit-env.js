/**
 * Toolkit `script` steps (teamsapp.yml, teamsapp.local.yml) for the values of env/.env.<name>:
 *
 *   node scripts/toolkit-env.js check
 *     stops provision with one clear line per operator value that is missing or malformed (the
 *     values marked OPERATOR MUST FILL in env/.env.*; the README lists them);
 *   node scripts/toolkit-env.js app-settings
 *     hands the optional settings that are set to arm/deploy as OPTIONAL_APP_SETTINGS (base64 of a
 *     JSON object; "{}" when none is set);
 *   node scripts/toolkit-env.js local-configs .localConfigs
 *     writes the optional settings that are set into the local bot's settings file, and removes
 *     those no longer set.
 *
 * Why: the Toolkit refuses an empty `${{VAR}}` anywhere in an action's inputs or in the ARM
 * parameters file, so optional values cannot be placeholders there; an empty or absent optional
 * value must simply mean "the bot's default" (see src/config.ts).
 */
'use strict';
const { Buffer } = require('node:buffer');
const fs = require('node:fs');

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What an operator must fill in before the first provision, and how to find it. */
const REQUIRED = {
  POWERPLATFORM_USERS_APPLY_PERMISSION_ID: {
    valid: (value) => GUID.test(value),
    help:
      'the id of the delegated permission UserManagement.Users.Apply of the Power Platform API. ' +
      'Look it up with: az ad sp show --id 8578e004-a5c6-46e7-913e-12f58912df43 ' +
      '--query "oauth2PermissionScopes[?value==\'UserManagement.Users.Apply\'].id" -o tsv ' +
      '(README, "Deploy to your tenant")',
  },
};

/** Settings of src/config.ts an operator may set in env/.env.<name>; empty or absent = default. */
const OPTIONAL = [
  'ALLOWED_TENANT_IDS',
  'BOT_ADMIN_IDS',
  'AUDIT_RETENTION_DAYS',
  'POWERPLATFORM_API_URL',
  'POWERPLATFORM_API_VERSION',
  'DATAVERSE_ROLE_CHECK',
  'JUSTIFICATION_REQUIRED',
  'REQUEST_TTL_MINUTES',
  'ELEVATION_TIME_BOX',
  'ELEVATION_DEFAULT_MINUTES',
  'ELEVATION_MAX_MINUTES',
  'ELEVATION_REMINDER_MINUTES',
  'POLICY_FILE',
  'LOG_LEVEL',
];

function value(name) {
  const text = process.env[name];
  return text && text.trim() ? text.trim() : undefined;
}

function optionalSettings() {
  const settings = {};
  for (const name of OPTIONAL) {
    const set = value(name);
    if (set !== undefined) settings[name] = set;
  }
  return settings;
}

function check() {
  const environment = process.env.TEAMSFX_ENV ?? '<environment>';
  const problems = [];
  for (const [name, rule] of Object.entries(REQUIRED)) {
    const set = value(name);
    if (set === undefined)
      problems.push(`${name} is empty in env/.env.${environment}: set it to ${rule.help}.`);
    else if (!rule.valid(set))
      problems.push(
        `${name} in env/.env.${environment} is not a GUID (got "${set}"): it is ${rule.help}.`,
      );
  }
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n`);
    process.exit(1);
  }
}

function appSettings() {
  const encoded = Buffer.from(JSON.stringify(optionalSettings())).toString('base64');
  process.stdout.write(`::set-teamsfx-env OPTIONAL_APP_SETTINGS=${encoded}\n`);
}

/** KEY=VALUE lines, with the optional ones replaced by what is set now. */
function localConfigs(file) {
  const kept = fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split(/\r?\n/)
        .filter((line) => line.trim() && !OPTIONAL.includes(line.split('=')[0].trim()))
    : [];
  const added = Object.entries(optionalSettings()).map(([name, set]) => `${name}=${set}`);
  fs.writeFileSync(file, `${[...kept, ...added].join('\n')}\n`, { mode: 0o600 });
}

const [command, file] = process.argv.slice(2);
if (command === 'check') check();
else if (command === 'app-settings') appSettings();
else if (command === 'local-configs' && file) localConfigs(file);
else {
  process.stderr.write('usage: toolkit-env.js check | app-settings | local-configs <file>\n');
  process.exit(2);
}
