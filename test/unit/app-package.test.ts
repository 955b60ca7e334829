/**
 * The Teams app package and the Teams Toolkit files (appPackage/, aad.manifest.json, env/,
 * teamsapp*.yml, infra/) agree with the official schema and with each other. Mistakes here only
 * show up late, during `teamsapp provision`, or silently break Teams SSO, so they are caught here,
 * offline.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { inflateSync } from 'node:zlib';
import { AppManifestUtils, type AppManifest } from '@microsoft/app-manifest';
import { parseCommand } from '../../src/elevation/command';

// @microsoft/app-manifest requires strip-bom, which is ES-module only; Jest's module loader
// cannot require() it on Node 20 (plain Node can). The schema check never reads files through it.
jest.mock('strip-bom', () => ({
  __esModule: true,
  default: (text: string) => text.replace(/^\uFEFF/, ''),
}));

const ROOT = path.resolve(__dirname, '..', '..');
const ENVIRONMENTS = [
  { name: 'local', envFile: 'env/.env.local', yml: 'teamsapp.local.yml' },
  { name: 'dev', envFile: 'env/.env.dev', yml: 'teamsapp.yml' },
] as const;

/** Well-known application ids and permission ids the Entra manifest must name. */
const TEAMS_DESKTOP_AND_MOBILE = '1fec8e78-bce4-4aaf-ab1b-5451cc387264';
const TEAMS_WEB = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
const MICROSOFT_GRAPH = '00000003-0000-0000-c000-000000000000';
const GRAPH_SCOPES = {
  'User.Read': 'e1fe6dd8-ba31-4d61-89e7-88639da4683d',
  openid: '37f7f235-527c-4136-accd-4a02d197296e',
  profile: '14dad69e-099b-42c9-810b-d002981feec1',
  offline_access: '7427e0e9-2fba-42fe-b0c0-848c9e6a8182',
};
const POWER_PLATFORM_API = '8578e004-a5c6-46e7-913e-12f58912df43';
const ENVIRONMENTS_READ = '177690ed-85f1-41d9-8dbf-2716e60ff46a';
/** Dynamics CRM: the role check and the removal at the end call Dataverse as the user. */
const DYNAMICS_CRM = '00000007-0000-0000-c000-000000000000';
const USER_IMPERSONATION = '78ce3f0f-a1ce-49c2-8cde-64b5c0896db4';
/** Not in Microsoft's published list: each operator fills it from their tenant (see env/.env.dev). */
const USERS_APPLY_PLACEHOLDER = '${{POWERPLATFORM_USERS_APPLY_PERMISSION_ID}}';

type Json = Record<string, unknown>;
type SchemaOf = Parameters<typeof AppManifestUtils.validateAgainstSchema>[1];

function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

function readJson<T = Json>(file: string): T {
  return JSON.parse(read(file)) as T;
}

const PLACEHOLDER = /\$\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** Names of the `${{VAR}}` placeholders in a text (YAML comments excluded). */
function placeholders(text: string): Set<string> {
  const withoutComments = text
    .split('\n')
    .map((line) => line.replace(/^\s*#.*$/, ''))
    .join('\n');
  return new Set([...withoutComments.matchAll(PLACEHOLDER)].map((m) => m[1] as string));
}

/** KEY=VALUE lines of a toolkit env file. */
function envFile(file: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of read(file).split('\n')) {
    const match = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (match) values.set(match[1] as string, (match[2] as string).trim());
  }
  return values;
}

/**
 * Environment variables the actions of a teamsapp*.yml write: the `writeToEnvironmentFile`
 * entries, the outputs of the Bicep templates that `arm/deploy` deploys, and the scope id that
 * `aadApp/update` generates when the Entra manifest asks for it.
 */
function writtenByActions(ymlFile: string): Set<string> {
  const written = new Set<string>();
  let action = '';
  let writeBlockIndent = -1;
  for (const line of read(ymlFile).split('\n')) {
    if (/^\s*(#.*)?$/.test(line)) continue;
    const indent = line.search(/\S/);
    const uses = /^\s*-\s+uses:\s*(\S+)/.exec(line);
    if (uses) {
      action = uses[1] as string;
      writeBlockIndent = -1;
      continue;
    }
    if (writeBlockIndent >= 0 && indent <= writeBlockIndent) writeBlockIndent = -1;
    if (/^\s*writeToEnvironmentFile:\s*$/.test(line)) {
      writeBlockIndent = indent;
      continue;
    }
    const entry = /^\s*[A-Za-z]+:\s*([A-Z_][A-Z0-9_]*)\s*$/.exec(line);
    if (writeBlockIndent >= 0 && entry) written.add(entry[1] as string);
    // A script that prints `::set-teamsfx-env NAME=...` writes NAME.
    const script = /^\s*run:\s*node\s+(\S+\.js)\s*$/.exec(line);
    if (action === 'script' && script) {
      for (const output of read(script[1] as string).matchAll(
        /::set-teamsfx-env ([A-Z_][A-Z0-9_]*)=/g,
      )) {
        written.add(output[1] as string);
      }
    }
    const template = /^\s*-?\s*path:\s*(\S+\.bicep)\s*$/.exec(line);
    if (action === 'arm/deploy' && template) {
      const bicep = read(template[1] as string);
      for (const output of bicep.matchAll(/^output\s+([A-Za-z_][A-Za-z0-9_]*)\s/gm)) {
        written.add(output[1] as string);
      }
    }
    if (action === 'aadApp/update') written.add('AAD_APP_ACCESS_AS_USER_PERMISSION_ID');
  }
  return written;
}

/** A stand-in for a value the toolkit fills in at provision time. */
function sampleValue(name: string): string {
  if (name.endsWith('DOMAIN')) return 'elevation-bot.example.com';
  if (name.endsWith('ENDPOINT')) return 'https://elevation-bot.example.com';
  if (name === 'APP_NAME_SUFFIX') return '';
  // A fixed GUID per name: ids, object ids, tenant ids.
  const hex = [...name].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7).toString(16);
  return `${hex.padStart(8, '0').slice(0, 8)}-1111-4222-8333-444455556666`;
}

/** The manifest as the toolkit would package it for an environment. */
function filledManifest(environment: (typeof ENVIRONMENTS)[number]): AppManifest {
  const values = envFile(environment.envFile);
  const text = read('appPackage/manifest.json').replace(PLACEHOLDER, (_all, name: string) => {
    const value = values.get(name);
    return value ? value : sampleValue(name);
  });
  return JSON.parse(text) as AppManifest;
}

function teamsSchema(manifestVersion: string): SchemaOf {
  const schemaFile = require.resolve(
    `@microsoft/app-manifest/build/json-schemas/teams/v${manifestVersion}/MicrosoftTeams.schema.json`,
  );
  return JSON.parse(readFileSync(schemaFile, 'utf8')) as SchemaOf;
}

async function schemaErrors(manifest: AppManifest): Promise<string[]> {
  const version = (manifest as { manifestVersion: string }).manifestVersion;
  return AppManifestUtils.validateAgainstSchema(manifest, teamsSchema(version));
}

// ---------------------------------------------------------------------------------------------
// PNG reading (8-bit grey, RGB, palette, grey+alpha and RGBA; no interlace).

interface Png {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel. */
  pixels: Buffer;
}

function pngSize(file: string): { width: number; height: number } {
  const data = readFileSync(path.join(ROOT, file));
  expect(data.subarray(0, 8)).toEqual(
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  );
  expect(data.toString('ascii', 12, 16)).toBe('IHDR');
  return { width: data.readUInt32BE(16), height: data.readUInt32BE(20) };
}

function decodePng(file: string): Png {
  const data = readFileSync(path.join(ROOT, file));
  let width = 0;
  let height = 0;
  let colorType = -1;
  let palette = Buffer.alloc(0);
  let transparency = Buffer.alloc(0);
  const imageData: Buffer[] = [];
  for (let offset = 8; offset < data.length;) {
    const length = data.readUInt32BE(offset);
    const type = data.toString('ascii', offset + 4, offset + 8);
    const body = data.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      colorType = body[9] as number;
      if (body[8] !== 8 || body[12] !== 0)
        throw new Error(`${file}: only 8-bit, non-interlaced PNG is read here`);
    } else if (type === 'PLTE') palette = body;
    else if (type === 'tRNS') transparency = body;
    else if (type === 'IDAT') imageData.push(body);
    offset += 12 + length;
  }
  const channels = ({ 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 } as Record<number, number>)[colorType];
  if (!channels) throw new Error(`${file}: unsupported colour type ${colorType}`);
  const raw = inflateSync(Buffer.concat(imageData));
  const stride = width * channels;
  const rows = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    for (let x = 0; x < stride; x++) {
      const value = raw[y * (stride + 1) + 1 + x] as number;
      const left = x >= channels ? (rows[y * stride + x - channels] as number) : 0;
      const up = y > 0 ? (rows[(y - 1) * stride + x] as number) : 0;
      const upLeft = y > 0 && x >= channels ? (rows[(y - 1) * stride + x - channels] as number) : 0;
      let predictor = 0;
      if (filter === 1) predictor = left;
      else if (filter === 2) predictor = up;
      else if (filter === 3) predictor = (left + up) >> 1;
      else if (filter === 4) {
        const p = left + up - upLeft;
        const [pa, pb, pc] = [Math.abs(p - left), Math.abs(p - up), Math.abs(p - upLeft)];
        predictor = pa <= pb && pa <= pc ? left : pb <= pc ? up : upLeft;
      }
      rows[y * stride + x] = (value + predictor) & 0xff;
    }
  }
  const pixels = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const s = rows.subarray(i * channels, (i + 1) * channels);
    let rgba: number[];
    if (colorType === 6) rgba = [...s];
    else if (colorType === 4) rgba = [s[0], s[0], s[0], s[1]] as number[];
    else if (colorType === 2) rgba = [s[0], s[1], s[2], 255] as number[];
    else if (colorType === 0) rgba = [s[0], s[0], s[0], 255] as number[];
    else {
      const index = s[0] as number;
      rgba = [...palette.subarray(index * 3, index * 3 + 3), transparency[index] ?? 255];
    }
    pixels.set(rgba, i * 4);
  }
  return { width, height, pixels };
}

// ---------------------------------------------------------------------------------------------

describe('Teams app package', () => {
  const manifest = readJson('appPackage/manifest.json');
  const aad = readJson('aad.manifest.json');

  it.each(ENVIRONMENTS)(
    'manifest.json with the $name environment filled in passes the official Teams schema',
    async (environment) => {
      const filled = filledManifest(environment) as unknown as Json;
      const version = filled.manifestVersion as string;
      // The $schema URL and manifestVersion name the same schema version.
      expect(filled.$schema).toBe(
        `https://developer.microsoft.com/json-schemas/teams/v${version}/MicrosoftTeams.schema.json`,
      );
      expect(await schemaErrors(filled as unknown as AppManifest)).toEqual([]);
    },
  );

  it('the schema check rejects a broken manifest, so passing it means something', async () => {
    const broken = filledManifest(ENVIRONMENTS[0]) as unknown as Json;
    const bot = (broken.bots as Json[])[0] as Json;
    delete bot.botId;
    broken.id = 'not-a-guid';
    (broken.name as Json).short = 'A name longer than Teams allows for it';
    const errors = (await schemaErrors(broken as unknown as AppManifest)).join('\n');
    expect(errors).toMatch(/\/bots\/0 must have required property 'botId'/);
    expect(errors).toMatch(/\/id must match pattern/);
    expect(errors).toMatch(/\/name\/short must NOT have more than 30 characters/);
  });

  it('the bot takes elevation requests in chats and notification commands in teams', () => {
    const bot = (manifest.bots as Json[])[0] as Json;
    expect(bot.botId).toBe('${{BOT_ID}}');
    expect(bot.scopes).toEqual(expect.arrayContaining(['personal', 'groupChat', 'team']));
    expect(bot.supportsFiles).toBe(false);
    const commandsFor = (scope: string): string[] =>
      (bot.commandLists as Json[])
        .filter((list) => (list.scopes as string[]).includes(scope))
        .flatMap((list) => (list.commands as Json[]).map((c) => c.title as string));
    expect(commandsFor('personal')).toEqual([
      'elevate me in',
      'elevations',
      "I'm done in",
      'history',
      'audit',
      'who is elevated',
      'policy',
      'help',
    ]);
    expect(commandsFor('groupChat')).toEqual(['elevate me in', "I'm done in", 'audit', 'help']);
    expect(commandsFor('team')).toEqual(['notify here', 'notify off', 'notify status', 'help']);
    expect(manifest.permissions).toEqual(['identity', 'messageTeamMembers']);
    expect(manifest.validDomains).toEqual(['${{BOT_DOMAIN}}']);
  });

  it("command lists keep within Teams' documented limits (the schema allows more)", () => {
    const bot = (manifest.bots as Json[])[0] as Json;
    for (const list of bot.commandLists as Json[]) {
      const commands = list.commands as Array<{ title: string; description: string }>;
      expect(commands.length).toBeLessThanOrEqual(10);
      for (const { title, description } of commands) {
        expect([title, title.length <= 32]).toEqual([title, true]);
        expect([description, description.length <= 128]).toEqual([description, true]);
      }
    }
  });

  it('every command in the lists is understood as Teams inserts it, and its example as written', () => {
    const bot = (manifest.bots as Json[])[0] as Json;
    const commands = (bot.commandLists as Json[]).flatMap((list) => list.commands as Json[]);
    for (const { title, description } of commands as Array<{
      title: string;
      description: string;
    }>) {
      expect([title, parseCommand(title).kind]).not.toEqual([title, 'unknown']);
      for (const [, example] of description.matchAll(/"([^"]+)"/g)) {
        expect([example, parseCommand(example!).kind]).not.toEqual([example, 'unknown']);
      }
    }
  });

  it('color.png is 192x192 and outline.png is 32x32', () => {
    const icons = manifest.icons as { color: string; outline: string };
    expect(pngSize(`appPackage/${icons.color}`)).toEqual({ width: 192, height: 192 });
    expect(pngSize(`appPackage/${icons.outline}`)).toEqual({ width: 32, height: 32 });
  });

  it('outline.png is white on transparent: every pixel is white or fully transparent', () => {
    const { width, height, pixels } = decodePng('appPackage/outline.png');
    const offenders: string[] = [];
    let visible = 0;
    for (let i = 0; i < width * height; i++) {
      const [r, g, b, a] = pixels.subarray(i * 4, i * 4 + 4);
      if (a === 0) continue;
      visible++;
      if (r !== 255 || g !== 255 || b !== 255)
        offenders.push(`(${i % width},${Math.floor(i / width)})`);
    }
    expect(offenders).toEqual([]);
    // Not blank, and not a filled square: a drawn outline.
    expect(visible).toBeGreaterThan(width * height * 0.1);
    expect(visible).toBeLessThan(width * height * 0.9);
  });

  it('color.png is opaque and in colour (Teams shows it on any background)', () => {
    const { width, height, pixels } = decodePng('appPackage/color.png');
    const colours = new Set<string>();
    let seeThrough = 0;
    for (let i = 0; i < width * height; i++) {
      if (pixels[i * 4 + 3] !== 255) seeThrough++;
      colours.add(pixels.subarray(i * 4, i * 4 + 3).toString('hex'));
    }
    expect(seeThrough).toBe(0);
    expect(colours.size).toBeGreaterThan(1);
  });

  it.each(ENVIRONMENTS)(
    'every ${{VAR}} in manifest.json and aad.manifest.json is set for $name by its env file or an action of $yml',
    (environment) => {
      const defined = new Set([
        ...envFile(environment.envFile).keys(),
        ...writtenByActions(environment.yml),
      ]);
      const used = new Set([
        ...placeholders(read('appPackage/manifest.json')),
        ...placeholders(read('aad.manifest.json')),
      ]);
      expect([...used].filter((name) => !defined.has(name))).toEqual([]);
    },
  );

  it.each(ENVIRONMENTS)(
    'every ${{VAR}} that $yml and its Bicep parameters use is set for $name',
    (environment) => {
      const defined = new Set([
        ...envFile(environment.envFile).keys(),
        ...writtenByActions(environment.yml),
      ]);
      const yml = read(environment.yml);
      const used = placeholders(yml);
      if (yml.includes('./infra/azure.parameters.json')) {
        for (const name of placeholders(read('infra/azure.parameters.json'))) used.add(name);
      }
      expect([...used].filter((name) => !defined.has(name))).toEqual([]);
    },
  );

  it('no secret (SECRET_*) is written into the Teams app package or the Entra app manifest', () => {
    const used = [
      ...placeholders(read('appPackage/manifest.json')),
      ...placeholders(read('aad.manifest.json')),
    ];
    expect(used.filter((name) => name.startsWith('SECRET_'))).toEqual([]);
    for (const { envFile: file } of ENVIRONMENTS) {
      expect([...envFile(file).keys()].filter((name) => name.startsWith('SECRET_'))).toEqual([]);
    }
  });

  it("webApplicationInfo names the SSO app and its identifier URI, so Teams can fetch the user's token", () => {
    const info = manifest.webApplicationInfo as Json;
    expect(info.resource).toBe('api://botid-${{BOT_ID}}');
    expect(aad.identifierUris).toEqual([info.resource]);
    expect(info.id).toBe(aad.appId);
    expect(aad.appId).toBe('${{AAD_APP_CLIENT_ID}}');
  });

  it('the SSO app exposes access_as_user to both Teams clients, issues v2 tokens and sends consent back to the bot', () => {
    expect(aad.signInAudience).toBe('AzureADMyOrg');
    const api = aad.api as Json;
    expect(api.requestedAccessTokenVersion).toBe(2);
    const scopes = api.oauth2PermissionScopes as Json[];
    expect(scopes).toEqual([
      expect.objectContaining({
        value: 'access_as_user',
        id: '${{AAD_APP_ACCESS_AS_USER_PERMISSION_ID}}',
        isEnabled: true,
        type: 'User',
      }),
    ]);
    const preAuthorized = api.preAuthorizedApplications as Json[];
    expect(preAuthorized.map((app) => app.appId).sort()).toEqual(
      [TEAMS_DESKTOP_AND_MOBILE, TEAMS_WEB].sort(),
    );
    for (const app of preAuthorized) expect(app.delegatedPermissionIds).toEqual([scopes[0]?.id]);
    // The consent popup (auth-start.html -> Entra -> auth-end.html) is a browser page using PKCE.
    expect((aad.spa as Json).redirectUris).toEqual(['https://${{BOT_DOMAIN}}/auth-end.html']);
  });

  it('the SSO app asks for Graph sign-in scopes and the Power Platform API and Dataverse permissions the bot uses', () => {
    const access = (resource: string): Json[] =>
      ((aad.requiredResourceAccess as Json[]).find((r) => r.resourceAppId === resource)
        ?.resourceAccess ?? []) as Json[];
    const ids = (resource: string) => access(resource).map((a) => a.id);
    expect(ids(MICROSOFT_GRAPH).sort()).toEqual(Object.values(GRAPH_SCOPES).sort());
    expect(ids(POWER_PLATFORM_API).sort()).toEqual(
      [ENVIRONMENTS_READ, USERS_APPLY_PLACEHOLDER].sort(),
    );
    expect(ids(DYNAMICS_CRM)).toEqual([USER_IMPERSONATION]);
    for (const resource of [MICROSOFT_GRAPH, POWER_PLATFORM_API, DYNAMICS_CRM]) {
      for (const entry of access(resource)) expect(entry.type).toBe('Scope'); // delegated only
    }
  });

  it('infra/azure.parameters.json sets only parameters azure.bicep declares, and all it requires', () => {
    const bicep = read('infra/azure.bicep');
    const declared = [...bicep.matchAll(/^param\s+(\w+)\s+\w+(\s*=)?/gm)];
    const required = declared.filter((m) => !m[2]).map((m) => m[1]);
    const given = Object.keys((readJson('infra/azure.parameters.json').parameters ?? {}) as Json);
    expect(given.filter((name) => !declared.some((m) => m[1] === name))).toEqual([]);
    expect(required.filter((name) => !given.includes(name as string))).toEqual([]);
  });
});
