/**
 * Which tenants the bot serves, over the real bot: by default only the SSO app's own tenant
 * (AAD_APP_TENANT_ID), and any tenant only with ALLOWED_TENANT_IDS=*, which is warned about once.
 */
import {
  ALEX,
  cardOf,
  cardText,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';

/** Someone of another organisation, in a personal chat with the bot. */
const FOREIGN: TestUser = {
  aadObjectId: '6c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f',
  name: 'Fran Foreign',
  tenantId: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a',
};

const ANY_TENANT_WARNING = 'ALLOWED_TENANT_IDS is *';

let bot: TestBot | undefined;

afterEach(async () => {
  await bot?.stop();
  bot = undefined;
});

async function ask(user: TestUser): Promise<string> {
  const { calls } = await bot!.say(user, 'elevate me in Contoso Dev');
  const activity = calls[0]!.activity;
  return `${String(activity.text ?? '')} ${cardText(cardOf(activity))}`;
}

describe('allowed tenants', () => {
  it("by default the SSO app's tenant is served and any other is refused, with no warning", async () => {
    bot = await startTestBot();
    expect(await ask(ALEX)).toContain('Confirm elevation');
    const before = bot.simulator.calls.length;
    expect(await ask(FOREIGN)).toContain('not enabled for your organisation');
    expect(bot.simulator.calls).toHaveLength(before);
    expect(bot.logs.filter((line) => line.includes(ANY_TENANT_WARNING))).toHaveLength(0);
  });

  it('ALLOWED_TENANT_IDS=* serves users of another tenant, and says so once at start', async () => {
    bot = await startTestBot({ env: { ALLOWED_TENANT_IDS: '*' } });
    expect(await ask(FOREIGN)).not.toContain('not enabled for your organisation');
    expect(await ask(ALEX)).toContain('Confirm elevation');
    const warnings = bot.logs
      .filter((line) => line.includes(ANY_TENANT_WARNING))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warn' });
  });
});
