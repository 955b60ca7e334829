/**
 * Where a Teams SSO token comes from, checked over the real bot and HTTP: the token must be of the
 * tenant of the activity it arrives with, and requested by a Teams client (azp). The local identity
 * provider mints each token with the claims chosen here, signed with its real keys.
 */
import {
  ALEX,
  cardOf,
  cardText,
  startTestBot,
  TENANT,
  type TestBot,
  type TestUser,
} from '../support/test-bot';

const OAUTH_CARD = 'application/vnd.microsoft.card.oauth';
/** A second organisation the bot also serves. */
const OTHER_TENANT = '2b3c4d5e-6f70-4812-9a3b-4c5d6e7f8091';
/** Teams on the web: the other Teams client. */
const TEAMS_WEB = '5e3ce6c0-2b1f-4285-8d4b-75ee78787346';
/** An app the user may have consented to that is not Teams (Microsoft Azure CLI). */
const OTHER_CLIENT = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';

let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot({
    signIn: 'teams',
    env: { ALLOWED_TENANT_IDS: `${TENANT},${OTHER_TENANT}` },
  });
});

afterEach(async () => {
  await bot.stop();
});

/** The user asks; the bot answers with an OAuthCard; its exchange id. */
async function exchangeIdFor(user: TestUser): Promise<string> {
  const { calls } = await bot.say(user, 'elevate me in Contoso Dev');
  const attachments = calls[0]!.activity.attachments as Array<{
    contentType: string;
    content: { tokenExchangeResource?: { id: string } };
  }>;
  const id = attachments.find((a) => a.contentType === OAUTH_CARD)?.content.tokenExchangeResource
    ?.id;
  if (!id) throw new Error('no OAuthCard with a token exchange resource');
  return id;
}

async function exchange(user: TestUser, token: string) {
  const id = await exchangeIdFor(user);
  const answer = await bot.invoke(user, 'signin/tokenExchange', { id, connectionName: '', token });
  return {
    status: answer.status,
    told: answer.calls
      .map((c) => `${String(c.activity.text ?? '')} ${cardText(cardOf(c.activity))}`)
      .join('\n'),
  };
}

function mint(tid: string, claims: Record<string, unknown> = {}): Promise<string> {
  return bot.identity.identityProvider.mintSsoToken(
    { oid: ALEX.aadObjectId, tid, name: ALEX.name },
    { claims },
  );
}

describe('the origin of the SSO token', () => {
  it('a token of tenant A in an activity of tenant B is refused (wrong-tenant), though both are allowed', async () => {
    const inOtherTenant: TestUser = { ...ALEX, tenantId: OTHER_TENANT };
    const { status, told } = await exchange(inOtherTenant, await mint(TENANT));
    expect(status).not.toBe(200);
    expect(told).toContain('Your Teams sign-in was refused (wrong-tenant)');
    expect(bot.identity.identityProvider.tokenRequests).toHaveLength(0);
    expect(bot.simulator.calls).toHaveLength(0);
  });

  it('a token requested by another app than Teams is refused (wrong-client)', async () => {
    const { status, told } = await exchange(ALEX, await mint(TENANT, { azp: OTHER_CLIENT }));
    expect(status).not.toBe(200);
    expect(told).toContain('Your Teams sign-in was refused (wrong-client)');
    expect(bot.identity.identityProvider.tokenRequests).toHaveLength(0);
    expect(bot.simulator.calls).toHaveLength(0);
  });

  it('a token requested by Teams on the web signs in like one of Teams desktop', async () => {
    const { status, told } = await exchange(ALEX, await mint(TENANT, { azp: TEAMS_WEB }));
    expect(status).toBe(200);
    expect(told).toContain('Confirm elevation');
  });
});
