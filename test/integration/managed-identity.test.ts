/**
 * The bot as infra/azure.bicep configures it in Azure: BOT_TYPE=UserAssignedMSI, STORAGE=azure-table
 * at AZURE_STORAGE_ACCOUNT_URL with the managed identity AZURE_CLIENT_ID, and no account key. The
 * production entry point (src/index.ts) runs as a process against Azurite over HTTPS with OAuth
 * (`--oauth basic`: it checks each bearer token's issuer, audience and lifetime); the botbuilder
 * adapter sends to a local connector with the identity's Bot Framework token. Only the managed
 * identity endpoint of App Service (IDENTITY_ENDPOINT, IDENTITY_HEADER) is a stand-in, at the
 * network edge: @azure/identity's ManagedIdentityCredential asks it for the tokens.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFileSync } from 'node:fs';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { continueConversation, createAdapter } from '../../src/teams/adapter';
import { silentLogger } from '../../src/log';
import { type Azurite, startAzurite } from '../support/azurite';
import { waitFor } from '../support/wait-for';

const ROOT = path.resolve(__dirname, '..', '..');
const IDENTITY_CLIENT_ID = '6a0b3c2d-1e4f-4a5b-8c6d-7e8f9a0b1c2d';
const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const IDENTITY_HEADER = randomBytes(16).toString('hex');

let folder = '';
let cert = '';
let azurite: Azurite;
let identityEndpoint: Server;
let identityUrl = '';
/** What the identity endpoint was asked, and the audience of the tokens it hands out. */
const asked: { resource: string | null; clientId: string | null; header: unknown }[] = [];
let audience = 'https://storage.azure.com';

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** A token shaped as Entra issues them (Azurite's basic OAuth does not check signatures). */
function accessToken(): string {
  const now = Math.floor(Date.now() / 1000);
  const claims = {
    aud: audience,
    iss: `https://sts.windows.net/${TENANT}/`,
    iat: now - 60,
    nbf: now - 60,
    exp: now + 3600,
    appid: IDENTITY_CLIENT_ID,
    oid: '0f0e0d0c-0b0a-4909-8807-060504030201',
    tid: TENANT,
  };
  return `${base64url({ alg: 'RS256', typ: 'JWT' })}.${base64url(claims)}.c2lnbmF0dXJl`;
}

beforeAll(async () => {
  folder = mkdtempSync(path.join(tmpdir(), 'msi-store-'));
  cert = path.join(folder, 'cert.pem');
  const key = path.join(folder, 'key.pem');
  // Azurite takes OAuth tokens over HTTPS only: a throwaway certificate for 127.0.0.1.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
    ],
    { stdio: 'ignore' },
  );
  azurite = await startAzurite(30_000, { tls: { cert, key }, oauth: true });

  identityEndpoint = createServer((req: IncomingMessage, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    asked.push({
      resource: url.searchParams.get('resource'),
      clientId: url.searchParams.get('client_id'),
      header: req.headers['x-identity-header'],
    });
    const expiresOn = Math.floor(Date.now() / 1000) + 3600;
    res.setHeader('content-type', 'application/json');
    res.end(
      JSON.stringify({
        access_token: accessToken(),
        expires_on: String(expiresOn),
        resource: url.searchParams.get('resource'),
        token_type: 'Bearer',
        client_id: IDENTITY_CLIENT_ID,
      }),
    );
  });
  await new Promise<void>((resolve) => identityEndpoint.listen(0, '127.0.0.1', resolve));
  const address = identityEndpoint.address();
  identityUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/msi/token`;
});

afterAll(async () => {
  await new Promise((resolve) => identityEndpoint?.close(resolve));
  await azurite?.stop();
  rmSync(folder, { recursive: true, force: true });
});

/** The settings infra/azure.bicep gives the Web App, with this machine's endpoints. */
function azureStyleSettings(): Record<string, string> {
  return {
    BOT_ID: IDENTITY_CLIENT_ID,
    BOT_TYPE: 'UserAssignedMSI',
    BOT_TENANT_ID: TENANT,
    AAD_APP_CLIENT_ID: '00000000-0000-0000-0000-0000000000c1',
    // In Azure a Key Vault reference, resolved by App Service before the process starts.
    AAD_APP_CLIENT_SECRET: 'sso-secret-from-key-vault',
    AAD_APP_TENANT_ID: TENANT,
    STORAGE: 'azure-table',
    AZURE_STORAGE_ACCOUNT_URL: azurite.accountUrl,
    AZURE_CLIENT_ID: IDENTITY_CLIENT_ID,
    AZURE_TABLE_PREFIX: `msi${randomBytes(4).toString('hex')}`,
    TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
    // What App Service sets for a managed identity.
    IDENTITY_ENDPOINT: identityUrl,
    IDENTITY_HEADER,
  };
}

interface Started {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function startBot(settings: Record<string, string>): Started {
  const child = spawn(
    process.execPath,
    ['-r', path.join(ROOT, 'test/support/ts-register.js'), path.join(ROOT, 'src/index.ts')],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        HOST: '127.0.0.1',
        PORT: '0',
        // Trust the throwaway certificate, as a real host trusts Azure's.
        NODE_EXTRA_CA_CERTS: cert,
        ...settings,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { child, output: () => output, exited };
}

interface Answer {
  status: number;
  contentType: string;
  body: string;
}

function fetchFrom(url: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // The bot itself listens on plain HTTP (App Service terminates TLS in front of it).
    const req = get(url, (res: IncomingMessage) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type']),
          body,
        }),
      );
    });
    req.on('error', reject);
  });
}

async function healthz(url: string): Promise<number> {
  return (await fetchFrom(`${url}/healthz`)).status;
}

async function listening(bot: Started): Promise<string> {
  return waitFor(
    () => /"bot listening".*?"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(bot.output())?.[1],
    `the bot to listen:\n${bot.output()}`,
    30_000,
  );
}

describe('the bot with a managed identity and Table storage without keys', () => {
  it('starts against Azurite over HTTPS with the managed identity token, and says which credential it used', async () => {
    asked.length = 0;
    audience = 'https://storage.azure.com';
    const settings = azureStyleSettings();
    // No account key in any setting.
    expect(
      Object.values(settings).filter((v) => /AccountKey|SharedAccessSignature/i.test(v)),
    ).toEqual([]);
    const bot = startBot(settings);
    try {
      const url = await listening(bot);
      expect(bot.output()).toContain(
        `azure-table at ${azurite.accountUrl} as the managed identity ${IDENTITY_CLIENT_ID}`,
      );
      expect(await healthz(url)).toBe(200);
      // The storage token came from the managed identity endpoint, for that identity.
      expect(asked.length).toBeGreaterThan(0);
      expect(asked[0]).toEqual({
        resource: 'https://storage.azure.com',
        clientId: IDENTITY_CLIENT_ID,
        header: IDENTITY_HEADER,
      });
      expect(bot.output()).not.toContain(settings.TOKEN_CACHE_KEY as string);
    } finally {
      bot.child.kill('SIGTERM');
      await bot.exited;
    }
  });

  it("answers the Teams app manifest's privacy and terms links with pages", async () => {
    audience = 'https://storage.azure.com';
    const manifest = JSON.parse(readFileSync(path.join(ROOT, 'appPackage/manifest.json'), 'utf8'));
    const links = [manifest.developer.privacyUrl, manifest.developer.termsOfUseUrl] as string[];
    const bot = startBot(azureStyleSettings());
    try {
      const url = await listening(bot);
      for (const link of links) {
        expect(link).toMatch(/^https:\/\/\$\{\{BOT_DOMAIN\}\}\//);
        const page = await fetchFrom(link.replace('https://${{BOT_DOMAIN}}', url));
        expect(page).toMatchObject({ status: 200, contentType: 'text/html; charset=utf-8' });
        expect(page.body).toMatch(/<h1>Elevation bot: (privacy|terms of use)<\/h1>/);
      }
    } finally {
      bot.child.kill('SIGTERM');
      await bot.exited;
    }
  });

  it('does not start when Azurite refuses the token (wrong audience), so the first test means something', async () => {
    asked.length = 0;
    audience = 'https://vault.azure.net';
    const bot = startBot(azureStyleSettings());
    const code = await bot.exited;
    expect(code).not.toBe(0);
    expect(asked.length).toBeGreaterThan(0);
    expect(bot.output()).toMatch(/The bot could not start:.*(audience|Authentication|authoriz)/is);
  });

  it("sends to Teams with the managed identity's Bot Framework token (UserAssignedMSI, no secret)", async () => {
    asked.length = 0;
    const received: { url?: string; authorization?: string }[] = [];
    const connector = createServer((req, res) => {
      received.push({ url: req.url, authorization: req.headers.authorization });
      req.resume();
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ id: 'activity-1' }));
    });
    await new Promise<void>((resolve) => connector.listen(0, '127.0.0.1', resolve));
    const address = connector.address();
    const serviceUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`;
    // What App Service sets for the process; botbuilder's credential reads it when it asks.
    const saved = { endpoint: process.env.IDENTITY_ENDPOINT, header: process.env.IDENTITY_HEADER };
    process.env.IDENTITY_ENDPOINT = identityUrl;
    process.env.IDENTITY_HEADER = IDENTITY_HEADER;
    try {
      const adapter = createAdapter({
        botId: IDENTITY_CLIENT_ID,
        botType: 'UserAssignedMSI',
        botTenantId: TENANT,
        logger: silentLogger,
      });
      await continueConversation(
        adapter,
        IDENTITY_CLIENT_ID,
        { serviceUrl, channelId: 'msteams', conversation: { id: 'a:conversation' } as never },
        async (context) => {
          await context.sendActivity('hello');
        },
      );
    } finally {
      process.env.IDENTITY_ENDPOINT = saved.endpoint;
      process.env.IDENTITY_HEADER = saved.header;
      if (saved.endpoint === undefined) delete process.env.IDENTITY_ENDPOINT;
      if (saved.header === undefined) delete process.env.IDENTITY_HEADER;
      await new Promise((resolve) => connector.close(resolve));
    }
    expect(received).toHaveLength(1);
    expect(received[0]?.url).toMatch(/^\/v3\/conversations\/a%3Aconversation\/activities/);
    expect(received[0]?.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    expect(asked).toContainEqual({
      resource: 'https://api.botframework.com',
      clientId: IDENTITY_CLIENT_ID,
      header: IDENTITY_HEADER,
    });
  });
});
