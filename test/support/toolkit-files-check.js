/**
 * Runs the Microsoft 365 Agents Toolkit's own code on the project's Toolkit files, offline, the way
 * `teamsapp provision` and `teamsapp deploy` would up to the first call to a cloud: its YAML parser
 * and schema, its `${{VAR}}` resolution action by action (with what earlier actions write), its
 * expansion of the ARM parameters file, the project's `script` actions (their
 * `::set-teamsfx-env` outputs read by the Toolkit's parser) and its file/createOrUpdateEnvironmentFile
 * driver. Only the values an operator must fill in (marked `OPERATOR MUST FILL` in env/.env.*) are
 * given; everything else comes from the committed files.
 *
 * A separate process, because the Toolkit changes process.env as it goes and its modules are not
 * meant for Jest's module loader. Usage:
 *   node toolkit-files-check.js <teamsfx-core build folder> <project folder> <yml> <env> [KEY=VALUE...]
 * The project folder is copied to a temp folder first (scripts and drivers write files). Prints one
 * JSON report: { schemaErrors, problems, localConfigs, armParameters }.
 */
'use strict';
const { execSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const [coreArg, projectArg, ymlName, envName, ...overrides] = process.argv.slice(2);
const coreDir = path.resolve(coreArg);
const projectDir = path.resolve(projectArg);
const core = (file) => require(path.join(coreDir, file));

const { yamlParser } = core('component/configManager/parser');
const { Validator } = core('component/configManager/validator');
const { Lifecycle } = core('component/configManager/lifecycle');
const { expandEnvironmentVariable, getEnvironmentVariables } = core('component/utils/common');
const { dotenvUtil } = core('component/utils/envUtil');
const { parseSetOutputCommand } = core('component/driver/script/scriptDriver');
const { CreateOrUpdateEnvironmentFileDriver } = core(
  'component/driver/file/createOrUpdateEnvironmentFile',
);
const { CreateAppPackageDriver } = core('component/driver/teamsApp/createAppPackage');

const problems = [];
const report = {
  schemaErrors: [],
  problems,
  localConfigs: undefined,
  armParameters: undefined,
  /** The zip teamsApp/zipAppPackage built, base64. */
  appPackage: undefined,
};

/** A copy of the project without the heavy or private folders. */
function copyProject() {
  const target = fs.mkdtempSync(path.join(os.tmpdir(), 'toolkit-files-'));
  const skip = new Set(['node_modules', '.git', '.cache', 'dist', '.data', 'coverage', 'build']);
  fs.cpSync(projectDir, target, {
    recursive: true,
    filter: (source) => !skip.has(path.basename(source)) && !source.endsWith('.localConfigs'),
  });
  // Scripts run by the Toolkit resolve packages from the project (as after `npm install`).
  fs.symlinkSync(path.join(projectDir, 'node_modules'), path.join(target, 'node_modules'), 'dir');
  return target;
}

/** A stand-in for a value a Toolkit action or a cloud deployment writes. */
function sampleValue(name) {
  if (name.startsWith('SECRET_')) return `sample-${name.toLowerCase().replace(/_/g, '-')}`;
  if (name.endsWith('DOMAIN')) return 'elevation-bot.example.com';
  if (name.endsWith('ENDPOINT')) return 'https://elevation-bot.example.com';
  if (name.endsWith('AUTHORITY_HOST')) return 'https://login.microsoftonline.com';
  if (name.endsWith('AUTHORITY')) return `https://login.microsoftonline.com/${guidFor(name)}`;
  if (name.endsWith('RESOURCE_ID')) {
    return `/subscriptions/${guidFor('sub')}/resourceGroups/rg/providers/Microsoft.Web/sites/elevation`;
  }
  return guidFor(name);
}

function guidFor(name) {
  const hex = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7).toString(16);
  return `${hex.padStart(8, '0').slice(0, 8)}-1111-4222-8333-444455556666`;
}

/** Keys in an env file whose comment block says `OPERATOR MUST FILL`. */
function operatorKeys(text) {
  const keys = [];
  let marked = false;
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) {
      if (/OPERATOR MUST FILL/.test(line)) marked = true;
      continue;
    }
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line);
    if (match && marked) keys.push(match[1]);
    marked = false;
  }
  return keys;
}

/** `.vscode/tasks.json` (JSON with comments). */
function readTasks(root) {
  const file = path.join(root, '.vscode', 'tasks.json');
  if (!fs.existsSync(file)) return [];
  const text = fs
    .readFileSync(file, 'utf8')
    .replace(/("(?:\\.|[^"\\])*")|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (_all, string) => string ?? '')
    .replace(/,(\s*[}\]])/g, '$1');
  return JSON.parse(text).tasks ?? [];
}

/** `param name type [= default]` and `output NAME` lines of a Bicep file. */
function bicepShape(file) {
  const text = fs.readFileSync(file, 'utf8');
  const params = [...text.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)].map((m) => ({
    name: m[1],
    required: !m[2],
  }));
  const outputs = [...text.matchAll(/^output\s+(\w+)\s/gm)].map((m) => m[1]);
  return { params, outputs };
}

function setEnv(name, value) {
  process.env[name] = value;
}

async function main() {
  const root = copyProject();
  const ymlPath = path.join(root, ymlName);

  // 1. The schema the Toolkit validates against, for the version the file declares.
  const yaml = require(require.resolve('js-yaml', { paths: [coreDir] }));
  const raw = yaml.load(fs.readFileSync(ymlPath, 'utf8'));
  const validator = new Validator();
  if (!validator.validate(raw, raw.version)) {
    const impl = validator.impl.get(raw.version);
    report.schemaErrors = impl
      ? (impl.validator.errors ?? []).map((e) => `${e.instancePath} ${e.message}`)
      : [`version ${raw.version} is not supported`];
  }
  const parsed = await yamlParser.parse(ymlPath, true);
  if (parsed.isErr()) {
    report.schemaErrors.push(parsed.error.message);
    return report;
  }
  const model = parsed.value;

  // 2. The environment as the Toolkit loads it: env/.env.<name>, then what the operator fills in.
  const { PATH, HOME } = process.env;
  for (const key of Object.keys(process.env)) delete process.env[key];
  Object.assign(process.env, { PATH, HOME });
  const envFolder = path.join(root, model.environmentFolderPath ?? 'env');
  const envText = fs.readFileSync(path.join(envFolder, `.env.${envName}`), 'utf8');
  const given = dotenvUtil.deserialize(envText).obj;
  for (const [key, value] of Object.entries(given)) setEnv(key, value);
  setEnv('TEAMSFX_ENV', envName);
  for (const key of operatorKeys(envText)) setEnv(key, guidFor(`operator-${key}`));
  for (const pair of overrides) {
    const at = pair.indexOf('=');
    setEnv(pair.slice(0, at), pair.slice(at + 1));
  }

  // 3. Local debug: the tunnel task runs before provision and writes its values.
  for (const task of readTasks(root)) {
    if (task.command !== 'debug-start-local-tunnel' || task.args?.env !== envName) continue;
    for (const port of task.args.ports ?? []) {
      for (const name of Object.values(port.writeToEnvironmentFile ?? {})) {
        setEnv(name, sampleValue(name));
      }
    }
  }

  // The Toolkit asks for the subscription and resource group when they are empty
  // (coordinator, before provision runs); the answers are written to the env file.
  for (const name of ['AZURE_SUBSCRIPTION_ID', 'AZURE_RESOURCE_GROUP_NAME']) {
    if (!process.env[name])
      setEnv(name, name === 'AZURE_RESOURCE_GROUP_NAME' ? 'rg-elevation' : guidFor(name));
  }

  // 4. provision, then deploy: each action resolved just before it runs, as the Toolkit does.
  for (const stage of ['provision', 'deploy']) {
    const lifecycle = model[stage];
    if (!lifecycle) {
      problems.push(`${stage}: missing`);
      continue;
    }
    for (const def of lifecycle.driverDefs) {
      const where = `${stage} ${def.uses}${def.name ? ` (${def.name})` : ''}`;
      const unresolved = new Lifecycle(stage, [def], model.version).resolvePlaceholders();
      if (unresolved.length > 0) problems.push(`${where}: unresolved ${unresolved.join(', ')}`);
      await runAction(root, def, where);
    }
  }
  const localConfigs = path.join(root, '.localConfigs');
  if (fs.existsSync(localConfigs)) {
    report.localConfigs = dotenvUtil.deserialize(fs.readFileSync(localConfigs, 'utf8')).obj;
  }
  fs.rmSync(root, { recursive: true, force: true });
  return report;
}

async function runAction(root, def, where) {
  const args = def.with ?? {};
  for (const name of Object.values(def.writeToEnvironmentFile ?? {})) {
    setEnv(name, sampleValue(name));
  }
  if (def.uses === 'arm/deploy') {
    for (const template of args.templates ?? []) {
      const text = fs.readFileSync(path.join(root, template.parameters), 'utf8');
      const expanded = expandEnvironmentVariable(text);
      const missing = getEnvironmentVariables(expanded);
      if (missing.length > 0) problems.push(`${where}: parameters miss ${missing.join(', ')}`);
      const parameters = JSON.parse(expanded).parameters ?? {};
      report.armParameters = Object.fromEntries(
        Object.entries(parameters).map(([name, p]) => [name, p.value]),
      );
      const shape = bicepShape(path.join(root, template.path));
      for (const param of shape.params) {
        if (param.required && !(param.name in parameters)) {
          problems.push(`${where}: no value for the required parameter ${param.name}`);
        }
      }
      for (const name of Object.keys(parameters)) {
        if (!shape.params.some((p) => p.name === name)) {
          problems.push(`${where}: ${template.path} declares no parameter ${name}`);
        }
      }
      for (const output of shape.outputs) setEnv(output, sampleValue(output));
    }
  } else if (def.uses === 'script') {
    let stdout = '';
    try {
      stdout = execSync(args.run, {
        cwd: path.join(root, args.workingDirectory ?? '.'),
        env: { ...process.env, ...(def.env ?? {}) },
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    } catch (error) {
      problems.push(`${where}: "${args.run}" failed: ${String(error.stderr || error.message)}`);
    }
    for (const [name, value] of Object.entries(parseSetOutputCommand(stdout))) setEnv(name, value);
  } else if (def.uses === 'aadApp/update' || def.uses === 'teamsApp/zipAppPackage') {
    // Both expand the manifest's placeholders and stop at the first one without a value.
    if (def.uses === 'aadApp/update' && !process.env.AAD_APP_ACCESS_AS_USER_PERMISSION_ID) {
      // aadApp/update generates the scope id when the manifest asks for it.
      setEnv('AAD_APP_ACCESS_AS_USER_PERMISSION_ID', guidFor('scope'));
    }
    const manifest = fs.readFileSync(path.join(root, args.manifestPath), 'utf8');
    const missing = getEnvironmentVariables(expandEnvironmentVariable(manifest));
    if (missing.length > 0)
      problems.push(`${where}: ${args.manifestPath} misses ${missing.join(', ')}`);
    if (def.uses === 'teamsApp/zipAppPackage' && missing.length === 0) {
      const built = await new CreateAppPackageDriver().build(args, {
        projectPath: root,
        logProvider: silentLog(),
      });
      if (built.isErr()) problems.push(`${where}: ${built.error.message}`);
      else {
        report.appPackage = fs.readFileSync(path.join(root, args.outputZipPath)).toString('base64');
      }
    }
  } else if (def.uses === 'file/createOrUpdateEnvironmentFile') {
    const context = { projectPath: root, logProvider: silentLog() };
    await new CreateOrUpdateEnvironmentFileDriver().handler(args, context);
  }
}

function silentLog() {
  const nothing = () => undefined;
  return { debug: nothing, info: nothing, warning: nothing, error: nothing, verbose: nothing };
}

main().then(
  (result) => {
    // The report is the only thing on stdout; the caller parses it.
    process.stdout.write(`${JSON.stringify(result)}\n`);
  },
  (error) => {
    process.stderr.write(`${error.stack ?? error}\n`);
    process.exit(1);
  },
);
