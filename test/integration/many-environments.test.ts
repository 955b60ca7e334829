/**
 * A tenant with 10,000 environments, listed 200 to a page (50 pages): the bot follows every next
 * link, finds the one asked for, and reuses the list while it is cached instead of listing again.
 * No timing assertions: this is about what is fetched, not how fast.
 */
import {
  type PowerPlatformSimulator,
  seedMany,
  startPowerPlatformSimulator,
} from '../../src/sandbox/power-platform-simulator';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  startTestBot,
  type TestBot,
} from '../support/test-bot';

const ENVIRONMENTS = seedMany(10_000);
const PAGE_SIZE = 200;
const PAGES = 10_000 / PAGE_SIZE;
/** ENVIRONMENT_CACHE_SECONDS as configured below. */
const CACHE_SECONDS = 60;

let simulator: PowerPlatformSimulator;
let bot: TestBot;

beforeEach(async () => {
  simulator = await startPowerPlatformSimulator({ seed: ENVIRONMENTS, pageSize: PAGE_SIZE });
  bot = await startTestBot({
    simulator,
    env: { ENVIRONMENT_CACHE_SECONDS: String(CACHE_SECONDS) },
  });
});

afterEach(async () => {
  await bot.stop();
  await simulator.stop();
});

function listCalls() {
  return simulator.calls.filter((call) => call.method === 'GET');
}

/** Asks for an environment by name and returns its confirmation card. */
async function ask(name: string) {
  const { status, calls } = await bot.say(ALEX, `elevate me in ${name}`);
  expect(status).toBe(200);
  expect(calls).toHaveLength(1);
  const card = cardOf(calls[0]!.activity);
  expect(cardText(card)).toContain('Confirm elevation');
  return card!;
}

describe('a tenant with 10,000 environments', () => {
  it('lists all 50 pages once, finds the environment asked for, and reuses the list while cached', async () => {
    const wanted = ENVIRONMENTS[7_341]!;
    expect(wanted.displayName).toBe('Synthetic 07342');

    const card = await ask(wanted.displayName);
    const text = cardText(card);
    expect(text).toContain(wanted.displayName);
    expect(text).toContain(wanted.id);
    expect(actionData(card, 'elevate')?.requestId).toMatch(/^[0-9a-f-]{36}$/);

    // Every page once: 50 GETs of the list endpoint, each a different page, nothing else called.
    const listed = listCalls();
    expect(listed).toHaveLength(PAGES);
    expect(listed.every((call) => call.operation === 'listEnvironments')).toBe(true);
    expect(new Set(listed.map((call) => call.path)).size).toBe(PAGES);
    expect(listed.every((call) => call.status === 200)).toBe(true);
    expect(simulator.calls).toHaveLength(PAGES);

    // A second request within the cache time (the clock moved, but not past the cache's end)
    // lists nothing: another environment, from the last page, is found in the cached list.
    bot.clock.advance((CACHE_SECONDS - 1) * 1000);
    const last = ENVIRONMENTS[9_999]!;
    const second = await ask(last.displayName);
    expect(cardText(second)).toContain(last.id);
    expect(listCalls()).toHaveLength(PAGES);

    // Once the cache time is over, the list is read again, all of it.
    bot.clock.advance(2_000);
    await ask(ENVIRONMENTS[0]!.displayName);
    expect(listCalls()).toHaveLength(2 * PAGES);

    expect(simulator.calls.some((call) => call.operation === 'applyAdminRole')).toBe(false);
  });
});
