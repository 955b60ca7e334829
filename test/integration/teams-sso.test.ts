/**
 * Teams SSO and on-behalf-of, for real: the bot's OAuthCard, the signin/tokenExchange invokes
 * Teams sends, token validation, msal-node's OBO exchange against the local identity provider,
 * and the pre-flight checks, all over HTTP with the real CloudAdapter.
 */
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import type { MintOptions } from '../../src/sandbox/identity-provider';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  type Conversation,
  GROUP_CHAT,
  MEGAN,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { auditEvents } from '../support/store-rows';

const OAUTH_CARD = 'application/vnd.microsoft.card.oauth';
let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot({ signIn: 'teams' });
});

afterEach(async () => {
  await bot.stop();
});

function ssoToken(user: TestUser, options?: MintOptions): Promise<string> {
  return bot.identity.identityProvider.mintSsoToken(
    { oid: user.aadObjectId, tid: user.tenantId, name: user.name },
    options,
  );
}

/** The exchange id of the OAuthCard the bot sent. */
function exchangeIdOf(activity: Record<string, unknown>): string {
  const attachments = activity.attachments as Array<{
    contentType: string;
    content: { tokenExchangeResource?: { id: string; uri?: string } };
  }>;
  const card = attachments.find((a) => a.contentType === OAUTH_CARD);
  if (!card?.content.tokenExchangeResource?.id)
    throw new Error('no OAuthCard with a token exchange resource');
  return card.content.tokenExchangeResource.id;
}

function powerPlatformCalls(): number {
  return bot.simulator.calls.length;
}

async function askAndGetExchangeId(
  user: TestUser = ALEX,
  conversation?: Conversation,
): Promise<string> {
  const { calls } = await bot.say(user, 'elevate me in Contoso Dev', conversation);
  expect(calls).toHaveLength(1);
  return exchangeIdOf(calls[0]!.activity);
}

describe('Teams SSO', () => {
  it('without a sign-in the bot asks Teams for the SSO token, and the command continues by itself', async () => {
    const id = await askAndGetExchangeId();
    expect(powerPlatformCalls()).toBe(0);

    const exchange = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      connectionName: '',
      token: await ssoToken(ALEX),
    });
    expect(exchange.status).toBe(200);
    expect(exchange.body).toEqual({ id, failureDetail: '' });
    // The confirmation card arrives without the user typing the command again.
    const card = exchange.calls.map((c) => cardOf(c.activity)).find(Boolean);
    expect(cardText(card)).toContain('Confirm elevation');
    expect(cardText(card)).toContain('Contoso Dev');

    // The OBO exchange went to the identity provider as the jwt-bearer grant, on behalf of the user.
    const obo = bot.identity.identityProvider.tokenRequests.filter(
      (r) => r.requestedTokenUse === 'on_behalf_of',
    );
    expect(obo.length).toBeGreaterThanOrEqual(1);
    expect(obo.every((r) => r.status === 200)).toBe(true);

    // Elevate within the token's lifetime needs no new sign-in.
    const requestId = actionData(card, 'elevate')!.requestId as string;
    const click = await bot.click(ALEX, 'elevate', { requestId, justification: 'INC-1' });
    expect(cardText(cardOf(click.body))).toContain('Elevated');
    expect(bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole'))).toHaveLength(1);
  });

  it("the OAuthCard asks for the bot's own resource with a fresh exchange id each time", async () => {
    const first = await bot.say(ALEX, 'elevate me in Contoso Dev');
    const second = await bot.say(ALEX, 'elevate me in Contoso Prod');
    const content = (
      first.calls[0]!.activity.attachments as Array<{ content: Record<string, unknown> }>
    )[0]!.content;
    expect(content.buttons).toEqual([expect.objectContaining({ type: 'signin' })]);
    expect(exchangeIdOf(first.calls[0]!.activity)).not.toBe(
      exchangeIdOf(second.calls[0]!.activity),
    );
  });

  it('consent needed: 412, then verifyState resends the card, and after consent the exchange succeeds', async () => {
    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, 'consent-required');
    const id = await askAndGetExchangeId();
    const refused = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: await ssoToken(ALEX),
    });
    expect(refused.status).toBe(412);
    expect((refused.body as { id: string }).id).toBe(id);
    expect(powerPlatformCalls()).toBe(0);

    const verify = await bot.invoke(ALEX, 'signin/verifyState', { state: '123456' });
    expect(verify.status).toBe(200);
    const newId = exchangeIdOf(verify.calls[0]!.activity);

    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, undefined); // the user consented
    const retried = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id: newId,
      token: await ssoToken(ALEX),
    });
    expect(retried.status).toBe(200);
    expect(cardText(retried.calls.map((c) => cardOf(c.activity)).find(Boolean))).toContain(
      'Confirm elevation',
    );
  });

  it('MFA or Conditional Access needed is answered with 412 too', async () => {
    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, 'interaction-required');
    const id = await askAndGetExchangeId();
    const refused = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: await ssoToken(ALEX),
    });
    expect(refused.status).toBe(412);
  });

  it("three Teams clients' exchanges get three answers and one continuation", async () => {
    const id = await askAndGetExchangeId();
    const token = await ssoToken(ALEX);
    const answers = await Promise.all(
      [1, 2, 3].map(() => bot.invoke(ALEX, 'signin/tokenExchange', { id, token })),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const cards = bot.connector.calls.filter((c) =>
      cardText(cardOf(c.activity)).includes('Confirm elevation'),
    );
    expect(cards).toHaveLength(1);
  });

  it("in a group chat, Megan's exchange with the id of Alex's card is checked and acted on for Megan", async () => {
    const alexId = await askAndGetExchangeId(ALEX, GROUP_CHAT);
    const alex = await bot.invoke(
      ALEX,
      'signin/tokenExchange',
      { id: alexId, token: await ssoToken(ALEX) },
      GROUP_CHAT,
    );
    expect(cardText(alex.calls.map((c) => cardOf(c.activity)).find(Boolean))).toContain(
      'Confirm elevation',
    );

    // Megan asks too; her Teams answers with the same exchange id as Alex's (ids are not secret).
    await bot.say(MEGAN, 'elevate me in Contoso Prod', GROUP_CHAT);
    const megan = await bot.invoke(
      MEGAN,
      'signin/tokenExchange',
      { id: alexId, token: await ssoToken(MEGAN) },
      GROUP_CHAT,
    );
    expect(megan.status).toBe(200);
    const card = megan.calls.map((c) => cardOf(c.activity)).find(Boolean);
    expect(cardText(card)).toContain('Confirm elevation');
    expect(cardText(card)).toContain('Contoso Prod');
    expect(cardText(card)).toContain('Megan Bowen');

    // And it was validated: Megan's exchange with Alex's token is refused, not waved through.
    const forged = await bot.invoke(
      MEGAN,
      'signin/tokenExchange',
      { id: 'megan-2', token: await ssoToken(ALEX) },
      GROUP_CHAT,
    );
    expect(forged.status).toBe(500);
    expect(String(forged.calls[0]?.activity.text)).toContain('refused (wrong-user)');
  });

  it("a garbage exchange first does not use up the id: Alex's real one still continues his command", async () => {
    const id = await askAndGetExchangeId();
    const garbage = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
    });
    expect(garbage.status).toBe(500);
    expect(cardOf(garbage.calls[0]?.activity)).toBeUndefined();

    const real = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: await ssoToken(ALEX),
    });
    expect(real.status).toBe(200);
    const card = real.calls.map((c) => cardOf(c.activity)).find(Boolean);
    expect(cardText(card)).toContain('Confirm elevation');
    expect(cardText(card)).toContain('Contoso Dev');
  });

  it("Entra's keys out of reach is told as an outage, not as a refused sign-in or a consent prompt", async () => {
    const id = await askAndGetExchangeId();
    const token = await ssoToken(ALEX);
    await bot.identity.identityProvider.stop();
    const answer = await bot.invoke(ALEX, 'signin/tokenExchange', { id, token });
    expect(answer.status).not.toBe(412);
    const told = String(answer.calls[0]?.activity.text);
    expect(told).toContain('signing keys are unavailable');
    expect(told).not.toContain('refused');
  });

  it('an exchange without a token is answered 400', async () => {
    const answer = await bot.invoke(ALEX, 'signin/tokenExchange', { id: 'x' });
    expect(answer.status).toBe(400);
  });

  it('an identity provider failure is an error told to the user, not a consent prompt', async () => {
    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, 'server-error');
    const id = await askAndGetExchangeId();
    const answer = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: await ssoToken(ALEX),
    });
    expect(answer.status).not.toBe(412);
    expect(answer.status).toBeGreaterThanOrEqual(500);
    expect(String(answer.calls[0]?.activity.text)).toContain('I could not sign you in');
    expect(powerPlatformCalls()).toBe(0);
  });

  const now = () => Math.floor(Date.now() / 1000);
  it.each<[string, (user: TestUser) => MintOptions, TestUser]>([
    // Every row has all three values: jest reads a missing one as a done callback.
    ['wrong signature', () => ({ signWith: 'foreign-key-known-kid' }), ALEX],
    ['alg none', () => ({ signWith: 'none' }), ALEX],
    ['HS256', () => ({ signWith: 'hs256' }), ALEX],
    ['wrong audience', () => ({ claims: { aud: 'https://graph.microsoft.com' } }), ALEX],
    [
      'wrong issuer',
      () => ({
        claims: {
          iss: 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0',
        },
      }),
      ALEX,
    ],
    ['foreign tenant', () => ({ claims: { tid: '72f988bf-86f1-41af-91ab-2d7cd011db47' } }), ALEX],
    ['expired', () => ({ issuedAt: now() - 7200, lifetimeSeconds: 3600 }), ALEX],
    ['not yet valid', () => ({ notBefore: now() + 3600 }), ALEX],
    ['missing scope', () => ({ claims: { scp: 'User.Read' } }), ALEX],
    ['another user', () => ({}), MEGAN],
  ])(
    'an SSO token with %s is refused with its reason and nothing is called',
    async (variant, options, tokenOwner) => {
      await bot.stop();
      bot = await startTestBot({ signIn: 'teams', env: { ALLOWED_TENANT_IDS: ALEX.tenantId } });
      const id = await askAndGetExchangeId();
      const token = await ssoToken(tokenOwner, options(ALEX));
      const answer = await bot.invoke(ALEX, 'signin/tokenExchange', { id, token });
      expect(answer.status).not.toBe(200);
      expect(answer.status).not.toBe(412);
      const told = String(answer.calls[0]?.activity.text);
      expect(told).toMatch(
        /Your Teams sign-in was refused \((malformed|unsupported-algorithm|bad-signature|wrong-audience|wrong-issuer|tenant-not-allowed|expired|not-yet-valid|missing-scope|wrong-user|unknown-key)\)/,
      );
      const reason = told.match(/refused \(([a-z-]+)\)/)![1];
      const expected: Record<string, string[]> = {
        'wrong signature': ['bad-signature'],
        'alg none': ['unsupported-algorithm'],
        HS256: ['unsupported-algorithm'],
        'wrong audience': ['wrong-audience'],
        'wrong issuer': ['wrong-issuer'],
        'foreign tenant': ['tenant-not-allowed'],
        expired: ['expired'],
        'not yet valid': ['not-yet-valid'],
        'missing scope': ['missing-scope'],
        'another user': ['wrong-user'],
      };
      expect(expected[variant]).toContain(reason);
      expect(bot.identity.identityProvider.tokenRequests).toHaveLength(0);
      expect(powerPlatformCalls()).toBe(0);
    },
  );
});

describe('pre-flight checks from the tokens', () => {
  it('without a tenant admin role: PIM is explained, nothing is called, and the refusal is audited', async () => {
    const id = await askAndGetExchangeId();
    const token = await ssoToken(ALEX, {
      claims: { wids: ['b79fbf4d-3ef9-4689-8143-76b194e85509'] },
    });
    const answer = await bot.invoke(ALEX, 'signin/tokenExchange', { id, token });
    expect(answer.status).toBe(200);
    const text = cardText(answer.calls.map((c) => cardOf(c.activity)).find(Boolean));
    expect(text).toContain('You are not a tenant administrator');
    expect(text).toContain('Privileged Identity Management');
    expect(powerPlatformCalls()).toBe(0);
    const refused = auditEvents(bot).filter((e) => e.type === 'refused');
    expect(refused).toMatchObject([
      { actor: ALEX.aadObjectId, details: { reason: 'not-tenant-admin' } },
    ]);
  });

  it('without the wids claim the API decides', async () => {
    const id = await askAndGetExchangeId();
    const token = await ssoToken(ALEX, { omit: ['wids'] });
    const answer = await bot.invoke(ALEX, 'signin/tokenExchange', { id, token });
    expect(cardText(answer.calls.map((c) => cardOf(c.activity)).find(Boolean))).toContain(
      'Confirm elevation',
    );
  });

  it('an OBO token without UserManagement.Users.Apply names the missing permission and calls nothing', async () => {
    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, 'missing-permission');
    const id = await askAndGetExchangeId();
    const answer = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: await ssoToken(ALEX),
    });
    const text = cardText(answer.calls.map((c) => cardOf(c.activity)).find(Boolean));
    expect(text).toContain('UserManagement.Users.Apply');
    expect(text).toContain('admin consent');
    expect(powerPlatformCalls()).toBe(0);
  });
});

describe('a card pressed when the sign-in is gone', () => {
  it('asks for sign-in with a loginRequest, then carries on with the same request', async () => {
    const id = await askAndGetExchangeId();
    const exchange = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id,
      token: await ssoToken(ALEX),
    });
    const card = exchange.calls.map((c) => cardOf(c.activity)).find(Boolean);
    const requestId = actionData(card, 'elevate')!.requestId as string;

    bot.signInClock.advance(2 * 3600_000); // the SSO token (1 h) has expired; the card (10 min, other clock) has not
    const first = await bot.click(ALEX, 'elevate', { requestId, justification: 'INC-2' });
    expect(first.body.statusCode).toBe(401);
    expect(first.body.type).toBe('application/vnd.microsoft.activity.loginRequest');
    expect(bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole'))).toHaveLength(0);
    expect((await bot.app.service.findRequest(requestId))?.state).toBe('requested');

    bot.signInClock.advance(-2 * 3600_000);
    const retried = await bot.click(
      ALEX,
      'elevate',
      { requestId, justification: 'INC-2' },
      {
        authentication: { id: 'auth-1', token: await ssoToken(ALEX) },
      },
    );
    expect(cardText(cardOf(retried.body))).toContain('Elevated');
    expect(bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole'))).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('tokens never appear in the logs', async () => {
    const id = await askAndGetExchangeId();
    const good = await ssoToken(ALEX);
    const bad = await ssoToken(ALEX, { claims: { aud: 'x' } });
    await bot.invoke(ALEX, 'signin/tokenExchange', { id: 'other', token: bad });
    const exchange = await bot.invoke(ALEX, 'signin/tokenExchange', { id, token: good });
    const requestId = actionData(
      exchange.calls.map((c) => cardOf(c.activity)).find(Boolean),
      'elevate',
    )!.requestId as string;
    await bot.click(ALEX, 'elevate', { requestId, justification: 'x' });
    const logs = bot.logs.join('\n');
    expect(logs.length).toBeGreaterThan(1000);
    for (const token of [good, bad]) {
      expect(logs).not.toContain(token);
      expect(logs).not.toContain(token.split('.')[2]!);
    }
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/);
  });
});

export {};
void WELL_KNOWN;
