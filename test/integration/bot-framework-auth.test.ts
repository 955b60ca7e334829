/**
 * With a BOT_ID (production mode), /api/messages accepts only requests the Bot Framework signed:
 * anything else is refused with 401 before any handler runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type App, startApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/log';
import { startConnectorStub, type ConnectorStub } from '../support/connector-stub';

let app: App;
let connector: ConnectorStub;
let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bf-auth-'));
  connector = await startConnectorStub();
  const config = loadConfig({
    BOT_ID: '6b5d1a2c-7e8f-4a9b-8c0d-1e2f3a4b5c6d',
    BOT_PASSWORD: 'test-only-secret-value',
    BOT_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    AAD_APP_CLIENT_ID: '0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e',
    AAD_APP_CLIENT_SECRET: 'test-only-aad-secret',
    AAD_APP_TENANT_ID: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    HOST: '127.0.0.1',
    PORT: '0',
    SQLITE_PATH: join(dir, 'bot.db'),
  });
  expect(config.mode).toBe('production');
  app = await startApp(config, {
    // No request gets far enough to need a token: any token source will do.
    tokens: { powerPlatformToken: async () => ({ ok: false, reason: 'error', message: 'unused' }) },
    logger: createLogger({ level: 'debug', sink: (line) => logs.push(line) }),
  });
});

afterAll(async () => {
  await app.stop();
  await connector.stop();
  rmSync(dir, { recursive: true, force: true });
});

function message(text: string) {
  return {
    type: 'message',
    id: 'm1',
    channelId: 'msteams',
    serviceUrl: connector.url,
    from: { id: '29:x', aadObjectId: '8a2f0c5e-6d1b-4c3e-9f7a-1b2c3d4e5f60', name: 'Mallory' },
    recipient: { id: '28:bot' },
    conversation: {
      id: 'a:1',
      conversationType: 'personal',
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
    },
    text,
  };
}

async function post(headers: Record<string, string>) {
  const response = await fetch(`${app.url}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(message('help')),
  });
  return { status: response.status, text: await response.text() };
}

describe('Bot Framework authentication in production mode', () => {
  it('a request without a token is refused with 401 and no handler runs', async () => {
    const response = await post({});
    expect(response.status).toBe(401);
    expect(connector.calls).toHaveLength(0);
  });

  it.each([
    ['a malformed token', 'Bearer not-a-jwt'],
    [
      'a token nobody signed',
      `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"aud":"6b5d1a2c-7e8f-4a9b-8c0d-1e2f3a4b5c6d"}').toString('base64url')}.`,
    ],
    ['another scheme', 'Basic dXNlcjpwYXNz'],
  ])('%s is refused with 401 and no handler runs', async (_, authorization) => {
    const response = await post({ authorization });
    expect(response.status).toBe(401);
    expect(connector.calls).toHaveLength(0);
    expect(response.text).not.toContain('test-only-secret-value');
  });

  it('the health endpoint stays open', async () => {
    const response = await fetch(`${app.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'ok', mode: 'production' });
  });
});
