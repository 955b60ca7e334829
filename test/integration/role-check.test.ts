/**
 * applyAdminRole answers the same whether it granted the role or the user had it already. With
 * DATAVERSE_ROLE_CHECK on (always with time-boxing, the default), the bot asks the environment's Dataverse before and after (WhoAmI and
 * the roles with the System Administrator template) and says which happened.
 */
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  GROUP_CHAT,
  startTestBot,
  type TestBot,
} from '../support/test-bot';

let bot: TestBot;

afterEach(async () => {
  await bot.stop();
});

async function elevate(): Promise<{ text: string; requestId: string }> {
  const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dev', GROUP_CHAT);
  const requestId = actionData(cardOf(calls[0]!.activity), 'elevate')!.requestId as string;
  const click = await bot.click(
    ALEX,
    'elevate',
    { requestId, justification: 'role check' },
    { replyToId: calls[0]!.assignedId, conversation: GROUP_CHAT },
  );
  return { text: cardText(cardOf(click.body)), requestId };
}

interface RoleCase {
  name: string;
  /** Before pressing Elevate. */
  arrange?: (bot: TestBot) => Promise<void>;
  /** Elevations before the one checked (each leaves the role granted). */
  earlierElevations?: number;
  expected: string;
  result: string;
}

const cases: RoleCase[] = [
  {
    name: 'newly granted',
    expected: 'Newly granted: Dataverse shows the role now and did not before.',
    result: 'newly-granted',
  },
  {
    name: 'already held',
    earlierElevations: 1,
    // Asked in a group chat, where the card names the requester rather than saying "you".
    expected: 'Alex Wilber already held System Administrator before this elevation.',
    result: 'already-admin',
  },
  {
    name: 'granted but not visible yet',
    // Dataverse lags behind for the two look-ups (before and after).
    arrange: async (b) => b.dataverse.setVisibilityLag('contoso-dev', ALEX.aadObjectId, 2),
    expected: 'Granted, but Dataverse does not show the role yet; it can take a few minutes.',
    result: 'not-visible-yet',
  },
  {
    name: 'Dataverse unreachable: the elevation still happens',
    arrange: async (b) => b.dataverse.stop(),
    expected: 'Could not check in Dataverse',
    result: 'not-checked',
  },
];

describe('role check around applyAdminRole', () => {
  it.each(cases)('$name', async (c) => {
    bot = await startTestBot({ env: { DATAVERSE_ROLE_CHECK: 'true' } });
    for (let i = 0; i < (c.earlierElevations ?? 0); i++) await elevate();
    await c.arrange?.(bot);
    const { text, requestId } = await elevate();
    expect(text).toMatch(/Elevated/);
    expect(text).toContain(c.expected);
    const request = await bot.app.service.findRequest(requestId);
    expect(request?.state).toBe('succeeded');
    expect(request?.roleCheck?.result).toBe(c.result);
    const grants = bot.simulator.grants.filter((g) => g.environmentId === WELL_KNOWN.contosoDev.id);
    expect(grants).toHaveLength((c.earlierElevations ?? 0) + 1);
    // One applyAdminRole call per elevation: the role check never repeats or replaces it.
    const applied = bot.simulator.calls.filter((call) => call.operation === 'applyAdminRole');
    expect(applied).toHaveLength((c.earlierElevations ?? 0) + 1);
    // Dataverse is asked before and, unless the role was already there, after.
    const lookups = bot.dataverse.calls.filter((call) => call.path === 'WhoAmI').length;
    if (c.result !== 'not-checked')
      expect(lookups).toBe(2 * (c.earlierElevations ?? 0) + (c.result === 'already-admin' ? 1 : 2));
  });

  it('is off only with time-boxing off and unless configured: no Dataverse call, no role line', async () => {
    bot = await startTestBot({ env: { ELEVATION_TIME_BOX: 'false' } });
    const { text } = await elevate();
    expect(text).toContain('Elevated');
    expect(text).not.toContain('Role check');
    expect(bot.dataverse.calls).toHaveLength(0);
  });

  it('roles are looked up by the System Administrator template id, with a token for the instance', async () => {
    bot = await startTestBot({ env: { DATAVERSE_ROLE_CHECK: 'true' } });
    await elevate();
    const lookups = bot.dataverse.calls.filter((c) =>
      c.path.includes('systemuserroles_association'),
    );
    expect(lookups.length).toBeGreaterThanOrEqual(1);
    expect(lookups.every((c) => c.status === 200 && c.org === 'contoso-dev')).toBe(true);
  });
});
