/**
 * The whole bot, twice, on one SQLite file: the user signs in through Teams on instance A, and the
 * Elevate click lands on instance B. With the same TOKEN_CACHE_KEY, B acts for the user without a
 * new sign-in (and without asking its identity provider anything); without it, B asks for sign-in.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type PowerPlatformSimulator,
  startPowerPlatformSimulator,
} from '../../../src/sandbox/power-platform-simulator';
import { type ConnectorStub, startConnectorStub } from '../../support/connector-stub';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  startTestBot,
  type TestBot,
} from '../../support/test-bot';
import { auditEvents } from '../../support/store-rows';

let dir: string;
let simulator: PowerPlatformSimulator;
let connector: ConnectorStub;
const bots: TestBot[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'shared-sign-in-bots-'));
  simulator = await startPowerPlatformSimulator({ port: 0, host: '127.0.0.1' });
  connector = await startConnectorStub();
});

afterEach(async () => {
  for (const bot of bots.splice(0)) await bot.stop();
  await simulator.stop();
  await connector.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** An instance on the shared store; only Teams' token exchange signs users in (production). */
async function instance(env: Record<string, string>): Promise<TestBot> {
  const bot = await startTestBot({
    signIn: 'teams',
    simulator,
    connector,
    env: { SQLITE_PATH: join(dir, 'bot.db'), ...env },
  });
  bots.push(bot);
  return bot;
}

/** On `bot`: the user asks, Teams hands over the SSO token; returns the request id on the card. */
async function askAndSignIn(bot: TestBot): Promise<string> {
  const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dev');
  const oauthCard = calls[0]!.activity.attachments as Array<{
    content: { tokenExchangeResource?: { id: string } };
  }>;
  const id = oauthCard.find((a) => a.content.tokenExchangeResource)!.content.tokenExchangeResource!
    .id;
  const token = await bot.identity.identityProvider.mintSsoToken({
    oid: ALEX.aadObjectId,
    tid: ALEX.tenantId,
    name: ALEX.name,
  });
  const exchange = await bot.invoke(ALEX, 'signin/tokenExchange', { id, token });
  expect(exchange.status).toBe(200);
  const card = exchange.calls.map((c) => cardOf(c.activity)).find(Boolean);
  expect(cardText(card)).toContain('Confirm elevation');
  return actionData(card, 'elevate')!.requestId as string;
}

function applyAdminRoleCalls(): number {
  return simulator.calls.filter((c) => c.path.includes('/applyAdminRole')).length;
}

describe('a click that lands on another instance', () => {
  it('with TOKEN_CACHE_KEY: no new sign-in, no call to the identity provider, elevated once', async () => {
    // Time-boxing off: with it, B exchanges the shared sign-in for a Dataverse token (the role
    // check, the refresh token kept), which A never asked for; that needs Entra, as it should.
    const env = {
      TOKEN_CACHE_KEY: randomBytes(32).toString('base64'),
      ELEVATION_TIME_BOX: 'false',
    };
    const a = await instance(env);
    const b = await instance(env);
    const requestId = await askAndSignIn(a);

    const click = await b.click(ALEX, 'elevate', { requestId, justification: 'INC-7' });
    expect(click.body.statusCode).toBe(200);
    expect(cardText(cardOf(click.body))).toContain('Elevated');
    expect(applyAdminRoleCalls()).toBe(1);
    expect(b.identity.identityProvider.tokenRequests).toHaveLength(0);
  });

  it('without TOKEN_CACHE_KEY: B asks for sign-in (loginRequest) and calls nothing', async () => {
    const a = await instance({});
    const b = await instance({});
    const requestId = await askAndSignIn(a);

    const click = await b.click(ALEX, 'elevate', { requestId, justification: 'INC-8' });
    expect(click.body.statusCode).toBe(401);
    expect(click.body.type).toBe('application/vnd.microsoft.activity.loginRequest');
    expect(applyAdminRoleCalls()).toBe(0);
  });
});

describe('one token exchange, seen by two instances', () => {
  /** Alex asks on A; the sign-in card's exchange id and a fresh SSO token from the shared provider. */
  async function askOnA(a: TestBot) {
    const { calls } = await a.say(ALEX, 'elevate me in Contoso Dev');
    const attachments = calls[0]!.activity.attachments as Array<{
      content: { tokenExchangeResource?: { id: string } };
    }>;
    const id = attachments.find((x) => x.content.tokenExchangeResource)!.content
      .tokenExchangeResource!.id;
    const token = await a.identity.identityProvider.mintSsoToken({
      oid: ALEX.aadObjectId,
      tid: ALEX.tenantId,
      name: ALEX.name,
    });
    return { id, token };
  }

  /** A and B on one store and one key, trusting one identity provider (as both trust Entra). */
  async function twoInstancesTrustingOneProvider(): Promise<[TestBot, TestBot]> {
    const env = { TOKEN_CACHE_KEY: randomBytes(32).toString('base64') };
    const a = await instance(env);
    const b = await startTestBot({
      signIn: 'teams',
      simulator,
      connector,
      shareIdentityProviderWith: a,
      env: { SQLITE_PATH: join(dir, 'bot.db'), ...env },
    });
    bots.push(b);
    return [a, b];
  }

  function confirmationsPosted(): number {
    return connector.calls.filter((c) => cardText(cardOf(c.activity)).includes('Confirm elevation'))
      .length;
  }

  it('is acted on once: the instance that gets it first continues the command typed on the other', async () => {
    const [a, b] = await twoInstancesTrustingOneProvider();
    const { id, token } = await askOnA(a);

    // Teams on the desktop reaches B first, Teams on the phone reaches A with the same exchange.
    const first = await b.invoke(ALEX, 'signin/tokenExchange', { id, token });
    const second = await a.invoke(ALEX, 'signin/tokenExchange', { id, token });
    expect([first.status, second.status]).toEqual([200, 200]);
    expect(cardText(cardOf(first.calls.find((c) => cardOf(c.activity))?.activity))).toContain(
      'Confirm elevation',
    );
    expect(second.calls).toHaveLength(0);
    expect(confirmationsPosted()).toBe(1);
    const requested = auditEvents(a).filter((e) => e.type === 'requested');
    expect(requested).toHaveLength(1);
  });

  it('at the same moment on both: still once', async () => {
    const [a, b] = await twoInstancesTrustingOneProvider();
    const { id, token } = await askOnA(a);
    const answers = await Promise.all([
      a.invoke(ALEX, 'signin/tokenExchange', { id, token }),
      b.invoke(ALEX, 'signin/tokenExchange', { id, token }),
      a.invoke(ALEX, 'signin/tokenExchange', { id, token }),
      b.invoke(ALEX, 'signin/tokenExchange', { id, token }),
    ]);
    expect(answers.map((x) => x.status)).toEqual([200, 200, 200, 200]);
    expect(confirmationsPosted()).toBe(1);
  });

  it('garbage tokens under the same id at the same moment on both do not stop the real one: acted on once', async () => {
    const [a, b] = await twoInstancesTrustingOneProvider();
    const { id, token } = await askOnA(a);
    const forged = `${token.split('.').slice(0, 2).join('.')}.Zm9yZ2Vk`;
    const answers = await Promise.all([
      a.invoke(ALEX, 'signin/tokenExchange', { id, token: forged }),
      b.invoke(ALEX, 'signin/tokenExchange', { id, token: forged }),
      a.invoke(ALEX, 'signin/tokenExchange', { id, token }),
      b.invoke(ALEX, 'signin/tokenExchange', { id, token }),
    ]);
    expect(answers.map((x) => x.status)).toEqual([500, 500, 200, 200]);
    expect(confirmationsPosted()).toBe(1);
  });

  it('refused tokens spread over both are counted together: one first event, one threshold event', async () => {
    const [a, b] = await twoInstancesTrustingOneProvider();
    // Both one minute into the same 15-minute counting window, so that the test never straddles two.
    const window = 15 * 60_000;
    const ahead = window - (Date.now() % window) + 60_000;
    for (const bot of [a, b]) bot.clock.advance(ahead);
    const forged = await a.identity.identityProvider.mintSsoToken(
      { oid: ALEX.aadObjectId, tid: ALEX.tenantId, name: ALEX.name },
      { signWith: 'foreign-key-known-kid' },
    );
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        [a, b][i % 2]!.invoke(ALEX, 'signin/tokenExchange', { id: `x${i}`, token: forged }),
      ),
    );
    expect(answers.every((x) => x.status === 500)).toBe(true);
    const refusals = auditEvents(a).filter((e) => e.details?.reason === 'sign-in-token-refused');
    expect(refusals.map((e) => e.details?.refusalsInWindow ?? e.details?.refusalsOfUser)).toEqual([
      1, 5,
    ]);
  });
});
