/**
 * One card per person and environment stays usable: a new request closes the older open cards
 * for the same environment, and an execution closes the others; they say why, for everyone, and
 * their Elevate calls nothing. A new card says when its requester last elevated there. Over the
 * real bot, store and simulated API.
 */
import { randomUUID } from 'node:crypto';
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import type { ConnectorCall } from '../support/connector-stub';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  MEGAN,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { auditEvents } from '../support/store-rows';

let bot: TestBot;

beforeEach(async () => {
  bot = await startTestBot();
});

afterEach(async () => {
  await bot.stop();
});

const MINUTE = 60_000;

/** Asks for an environment; the new card's request and message ids. */
async function ask(
  user: TestUser,
  environment: string,
): Promise<{ requestId: string; messageId: string; call: ConnectorCall }> {
  const { calls } = await bot.say(user, `elevate me in ${environment}`);
  const call = calls.find((c) => actionData(cardOf(c.activity), 'elevate'))!;
  return {
    requestId: actionData(cardOf(call.activity), 'elevate')!.requestId as string,
    messageId: call.assignedId!,
    call,
  };
}

function applyAdminRoleCalls(): number {
  return bot.simulator.calls.filter((c) => c.operation === 'applyAdminRole').length;
}

/** The last update (PUT) of a message, as everyone in the conversation sees it. */
function updateOf(calls: ConnectorCall[], messageId: string): ConnectorCall | undefined {
  return [...calls].reverse().find((c) => c.method === 'PUT' && c.activityId === messageId);
}

it('four cards for one environment: the three older close, say why for everyone, and their Elevate calls nothing', async () => {
  const cards: Array<Awaited<ReturnType<typeof ask>>> = [];
  for (let i = 0; i < 4; i += 1) cards.push(await ask(ALEX, 'Contoso Dev'));
  const [oldest, , third, newest] = cards;

  for (const old of cards.slice(0, 3)) {
    const update = updateOf(bot.connector.calls, old.messageId);
    expect(update).toBeDefined();
    const card = cardOf(update!.activity);
    expect(cardText(card)).toContain('Replaced by a newer request');
    expect(actionData(card, 'elevate')).toBeUndefined();
    expect(await bot.app.store.findRequest(old.requestId)).toMatchObject({
      state: 'cancelled',
      closedBecause: { kind: 'replaced' },
    });
  }
  // Each was replaced by the next one, when it was made.
  expect((await bot.app.store.findRequest(oldest!.requestId))?.closedBecause).toEqual({
    kind: 'replaced',
    by: cards[1]!.requestId,
  });

  // Elevate on the third card, then on the newest, then on the oldest: one elevation.
  const onThird = await bot.click(ALEX, 'elevate', {
    requestId: third!.requestId,
    justification: 'third',
  });
  expect(cardText(cardOf(onThird.body))).toContain('Replaced by a newer request');
  const onNewest = await bot.click(ALEX, 'elevate', {
    requestId: newest!.requestId,
    justification: 'newest',
  });
  expect(cardText(cardOf(onNewest.body))).toContain('Elevated');
  const onOldest = await bot.click(ALEX, 'elevate', {
    requestId: oldest!.requestId,
    justification: 'oldest',
  });
  expect(cardText(cardOf(onOldest.body))).toContain('Replaced by a newer request');
  expect(actionData(cardOf(onOldest.body), 'elevate')).toBeUndefined();
  expect(applyAdminRoleCalls()).toBe(1);

  // Audited: each closing is a `cancelled` event saying why and by which request.
  const events = auditEvents(bot);
  const closings = events.filter((e) => e.type === 'cancelled');
  expect(closings.map((e) => [e.requestId, e.details])).toEqual(
    cards
      .slice(0, 3)
      .map((c, i) => [c.requestId, { reason: 'replaced', by: cards[i + 1]!.requestId }]),
  );
});

it("other people's cards and other environments stay open", async () => {
  const megans = await ask(MEGAN, 'Contoso Dev');
  const prod = await ask(ALEX, 'Contoso Prod');
  await ask(ALEX, 'Contoso Dev');
  expect((await bot.app.store.findRequest(megans.requestId))?.state).toBe('requested');
  expect((await bot.app.store.findRequest(prod.requestId))?.state).toBe('requested');
  expect(updateOf(bot.connector.calls, megans.messageId)).toBeUndefined();
  expect(updateOf(bot.connector.calls, prod.messageId)).toBeUndefined();
});

it('an execution closes the other cards still open for the environment (one left by an earlier version, say)', async () => {
  const card = await ask(ALEX, 'Contoso Dev');
  // A second open request for the same environment, as a version before this rule left them.
  const first = (await bot.app.store.findRequest(card.requestId))!;
  const leftOver = { ...first, id: randomUUID(), cardMessageId: undefined };
  await bot.app.store.createRequest(leftOver);
  await bot.app.store.setCardMessage(leftOver.id, first.conversation, 'activity-left-over');

  const click = await bot.click(ALEX, 'elevate', {
    requestId: card.requestId,
    justification: 'INC-1',
  });
  expect(cardText(cardOf(click.body))).toContain('Elevated');
  expect(await bot.app.store.findRequest(leftOver.id)).toMatchObject({
    state: 'cancelled',
    closedBecause: { kind: 'elevated-elsewhere', by: card.requestId },
  });
  const update = updateOf(bot.connector.calls, 'activity-left-over');
  expect(cardText(cardOf(update!.activity))).toContain(
    'You elevated in Contoso Dev from another card',
  );
  const again = await bot.click(ALEX, 'elevate', { requestId: leftOver.id, justification: 'x' });
  expect(cardText(cardOf(again.body))).toContain('from another card');
  expect(applyAdminRoleCalls()).toBe(1);
});

it('a new card says when you last elevated there, with the outcome', async () => {
  const first = await ask(ALEX, 'Contoso Dev');
  expect(cardText(cardOf(first.call.activity))).not.toContain('You elevated here');
  await bot.click(ALEX, 'elevate', { requestId: first.requestId, justification: 'INC-1' });
  bot.clock.advance(3 * MINUTE);

  const again = await ask(ALEX, 'Contoso Dev');
  expect(cardText(cardOf(again.call.activity))).toContain(
    'You elevated here 3 minutes ago; it succeeded.',
  );
  // Not for another environment, nor a day later.
  expect(cardText(cardOf((await ask(ALEX, 'Contoso Prod')).call.activity))).not.toContain(
    'You elevated here',
  );
  bot.clock.advance(24 * 60 * MINUTE);
  expect(cardText(cardOf((await ask(ALEX, 'Contoso Dev')).call.activity))).not.toContain(
    'You elevated here',
  );
});

it('a failed elevation is told as failed', async () => {
  const first = await ask(ALEX, WELL_KNOWN.securityGroup.id);
  await bot.click(ALEX, 'elevate', { requestId: first.requestId, justification: 'INC-2' });
  bot.clock.advance(2 * 60 * MINUTE);
  const again = await ask(ALEX, WELL_KNOWN.securityGroup.id);
  expect(cardText(cardOf(again.call.activity))).toContain(
    "You tried to elevate here 2 hours ago: Elevation failed: you are not in the environment's security group.",
  );
});
