/**
 * Time-boxed elevation end to end on the real bot: `elevate me in <env> for 30m`, Elevate, then
 * the end of the time box, run by the bot's own clock after the test moves time forward. The
 * removal goes to the simulated Dataverse with the user's token, refreshed from the refresh token
 * kept at the grant by the local identity provider; every way it can end is checked for what the
 * user reads, the audit event, the channel card and the number of DELETE calls.
 */
import type { TimeBoxEvent } from '../../src/elevation/time-boxes';
import type { ConnectorCall } from '../support/connector-stub';
import { auditEvents } from '../support/store-rows';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  channel,
  type Conversation,
  MEGAN,
  personalChat,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { waitFor } from '../support/wait-for';

const ORG = 'contoso-dev';
const SECURITY = '19:security@thread.tacv2';
const TEAM = '19:team-1@thread.tacv2';

let bot: TestBot;

afterEach(async () => {
  await bot?.stop();
});

async function start(env: Record<string, string> = {}): Promise<TestBot> {
  bot = await startTestBot({
    env: { BOT_ADMIN_IDS: ALEX.aadObjectId, ELEVATION_REMINDER_MINUTES: '10', ...env },
  });
  const answer = await bot.say(ALEX, 'notify here', channel(SECURITY, TEAM));
  expect(cardText(cardOf(answer.calls[0]!.activity))).toContain('Subscribed');
  return bot;
}

/** Asks and presses Elevate; the request id, the card's message id and what the click showed. */
async function elevate(
  user: TestUser = ALEX,
  text = 'elevate me in Contoso Dev for 30m',
  conversation: Conversation = personalChat(user),
): Promise<{ requestId: string; cardId: string; shown: string }> {
  const { calls } = await bot.say(user, text, conversation);
  const card = cardOf(calls.at(-1)!.activity);
  const requestId = actionData(card, 'elevate')!.requestId as string;
  const click = await bot.click(
    user,
    'elevate',
    { requestId, justification: 'INC-1 time box test', minutes: '30' },
    { replyToId: calls.at(-1)!.assignedId, conversation },
  );
  return { requestId, cardId: calls.at(-1)!.assignedId!, shown: cardText(cardOf(click.body)) };
}

/** Moves the bot's clock and runs its time box clock once; the events and the chat posts. */
async function after(minutes: number): Promise<{ events: TimeBoxEvent[]; posted: string[] }> {
  const before = bot.connector.calls.length;
  bot.clock.advance(minutes * 60_000);
  const events = await bot.app.timeBoxes!.runner.run();
  const posted = bot.connector.calls
    .slice(before)
    .filter((c) => c.method === 'POST' && c.conversationId !== SECURITY)
    .map((c) => `${cardText(cardOf(c.activity))}\n${String(c.activity.text ?? '')}`);
  return { events, posted };
}

/** Channel cards posted to the security channel, as its members would read them. */
function channelCards(): string[] {
  return bot.connector.calls
    .filter((c: ConnectorCall) => c.conversationId === SECURITY && c.method === 'POST')
    .map((c) => cardText(cardOf(c.activity)))
    .filter((text) => !text.includes('Subscribed'));
}

async function channelCardContaining(words: string): Promise<string> {
  await bot.app.dispatcher.wake();
  return waitFor(
    () => channelCards().find((text) => text.includes(words)),
    `a channel card with "${words}"`,
  );
}

function auditOf(requestId: string): Array<{ type: string; details?: Record<string, unknown> }> {
  return auditEvents(bot)
    .filter((event) => event.requestId === requestId && !event.type.startsWith('notification-'))
    .map((event) => ({ type: event.type, details: event.details }));
}

function deletes(user: TestUser = ALEX): number {
  return bot.dataverse.deleteCalls(user.aadObjectId).length;
}

function holdsRole(user: TestUser = ALEX): boolean {
  return bot.dataverse.holdsRole(ORG, user.aadObjectId);
}

interface EndCase {
  name: string;
  arrange?: (b: TestBot) => void;
  /** What the chat says at the end. */
  said: string[];
  audit: string;
  channel: string;
  deletes: number;
  /** Whether the role is gone afterwards. */
  gone: boolean;
  phase: string;
}

const endings: EndCase[] = [
  {
    name: 'removed',
    said: ['System Administrator removed in Contoso Dev', 'Dataverse request id'],
    audit: 'role-removed',
    channel: 'Role removed',
    deletes: 1,
    gone: true,
    phase: 'removed',
  },
  {
    name: 'already gone (404: removed meanwhile): a success, and said so',
    arrange: (b) => b.dataverse.setRemovalBehavior(ORG, ALEX.aadObjectId, 'not-found'),
    said: ['Nothing to remove in Contoso Dev', 'That is a success'],
    audit: 'role-removed',
    channel: 'Role removed',
    deletes: 1,
    gone: true,
    phase: 'removed',
  },
  {
    name: 'removed by Microsoft when the PIM activation ended',
    arrange: (b) => {
      b.dataverse.setRemovalBehavior(ORG, ALEX.aadObjectId, 'not-found');
      // The refreshed token shows no tenant admin role any more.
      b.identity.identityProvider.setUserGrant(ALEX.aadObjectId, { wids: [] });
    },
    said: ['removed by Microsoft', 'PIM activation ended'],
    audit: 'role-removed',
    channel: 'Role removed',
    deletes: 1,
    gone: true,
    phase: 'removed',
  },
  {
    name: 'refused (403): why, and what to do',
    arrange: (b) => b.dataverse.setRemovalBehavior(ORG, ALEX.aadObjectId, 'forbidden'),
    said: ['admin.powerplatform.microsoft.com'],
    audit: 'removal-failed',
    channel: 'Role removal FAILED',
    deletes: 1,
    gone: false,
    phase: 'overdue',
  },
  {
    name: 'Dataverse unavailable (503): retried later',
    arrange: (b) =>
      b.dataverse.setRemovalBehavior(ORG, ALEX.aadObjectId, { kind: 'unavailable', times: 20 }),
    said: ['Contoso Dev'],
    audit: 'removal-failed',
    channel: 'Role removal FAILED',
    // One removal attempt: the HTTP client's own four tries of a 503, then the bot's backoff.
    deletes: 4,
    gone: false,
    phase: 'overdue',
  },
  {
    name: 'no token without the user (refresh refused): Remove now',
    arrange: (b) =>
      b.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, {
        kind: 'revoked',
        grant: 'refresh_token',
      }),
    said: ['Remove now'],
    audit: 'removal-overdue',
    channel: 'Role removal OVERDUE',
    deletes: 0,
    gone: false,
    phase: 'overdue',
  },
];

describe('the end of a time-boxed elevation', () => {
  it.each(endings)('$name', async (c) => {
    await start();
    const { requestId, shown } = await elevate();
    expect(shown).toContain('Until');
    // Extend says where it would move the end (the default, 60 minutes on).
    expect(shown).toMatch(/Extend to \d\d:\d\d/);
    expect(holdsRole()).toBe(true);
    c.arrange?.(bot);

    // The reminder comes 10 minutes before the end, once.
    const reminder = await after(21);
    expect(reminder.events.map((e) => e.kind)).toEqual(['reminder']);
    expect(reminder.posted.join('\n')).toContain('ends at');
    expect((await after(0)).events).toEqual([]);

    const { events, posted } = await after(10);
    expect(events).toHaveLength(1);
    const said = posted.join('\n');
    for (const words of c.said) expect(said).toContain(words);
    expect(deletes()).toBe(c.deletes);
    expect(holdsRole()).toBe(!c.gone);
    const stored = await bot.app.service.findRequest(requestId);
    expect(stored?.timeBox?.phase).toBe(c.phase);
    const audit = auditOf(requestId).map((e) => e.type);
    expect(audit).toContain('removal-attempted');
    expect(audit.at(-1)).toBe(c.audit);
    await channelCardContaining(c.channel);
    // Nothing more happens until the next attempt is due.
    expect((await after(0)).events).toEqual([]);
  });

  it('throttled (429): Retry-After is honoured, and a later attempt removes the role', async () => {
    await start();
    const { requestId } = await elevate();
    bot.dataverse.setRemovalBehavior(ORG, ALEX.aadObjectId, {
      kind: 'throttled',
      retryAfterSeconds: 120,
      times: 1,
    });
    await after(31);
    const overdue = await bot.app.service.findRequest(requestId);
    expect(overdue?.timeBox?.phase).toBe('overdue');
    expect(overdue?.timeBox?.lastRemoval?.kind).toBe('unavailable');
    // Not before Dataverse's two minutes.
    const next = Date.parse(overdue!.timeBox!.dueAt!) - bot.clock.now().getTime();
    expect(next).toBeGreaterThanOrEqual(119_000);
    expect((await after(1)).events).toEqual([]);
    const { posted } = await after(2);
    expect(posted.join('\n')).toContain('System Administrator removed in Contoso Dev');
    expect(deletes()).toBe(2);
    expect(holdsRole()).toBe(false);
  });

  it('a refused refresh: Remove now (with a fresh SSO token) removes the role at once', async () => {
    await start();
    const { requestId } = await elevate();
    bot.identity.identityProvider.setUserBehavior(ALEX.aadObjectId, {
      kind: 'revoked',
      grant: 'refresh_token',
    });
    const { posted } = await after(31);
    expect(posted.join('\n')).toContain('Remove now');
    await channelCardContaining('Role removal OVERDUE');
    const removeNow = await bot.click(ALEX, 'remove-now', { requestId });
    expect(cardText(cardOf(removeNow.body))).toMatch(/removed/i);
    expect(deletes()).toBe(1);
    expect(holdsRole()).toBe(false);
    expect((await bot.app.service.findRequest(requestId))?.timeBox?.phase).toBe('removed');
    await channelCardContaining('Role removed');
  });

  it('a role held before the elevation is left in place, and the user is told why', async () => {
    await start();
    await elevate();
    await after(5);
    await bot.click(ALEX, 'done', {
      requestId: (await bot.app.timeBoxes!.service.activeOf({ ...ALEX }))[0]!.id,
    });
    expect(holdsRole()).toBe(false);
    // Held since the first elevation: the second one finds it held.
    bot.dataverse.holdRole(ORG, ALEX.aadObjectId);
    const { requestId, shown } = await elevate();
    expect(shown).toMatch(/already held/i);
    expect((await bot.app.service.findRequest(requestId))?.timeBox?.phase).toBe('kept');
    await after(40);
    expect(deletes()).toBe(1);
    expect(holdsRole()).toBe(true);
  });
});

describe("I'm done, Extend, elevations and who is elevated", () => {
  it("I'm done removes at once, only for the requester", async () => {
    await start();
    const { requestId } = await elevate();
    const refused = await bot.click(MEGAN, 'done', { requestId });
    expect(JSON.stringify(refused.body)).toContain('Only Alex Wilber');
    expect(deletes()).toBe(0);
    const done = await bot.click(ALEX, 'done', { requestId });
    expect(cardText(cardOf(done.body))).toMatch(/removed/i);
    expect(deletes()).toBe(1);
    expect(holdsRole()).toBe(false);
    const audit = auditOf(requestId);
    expect(audit.at(-1)).toMatchObject({ type: 'role-removed', details: { early: true } });
    // The end of the time box finds nothing left to do.
    expect((await after(40)).events).toEqual([]);
    expect(deletes()).toBe(1);
  });

  it('`done` as a command ends the only active elevation', async () => {
    await start();
    await elevate();
    const { calls } = await bot.say(ALEX, "I'm done");
    expect(calls.map((c) => cardText(cardOf(c.activity))).join('\n')).toMatch(/removed/i);
    expect(deletes()).toBe(1);
  });

  it('Extend moves the end by the default, with a justification, never past the maximum', async () => {
    await start({ ELEVATION_DEFAULT_MINUTES: '60', ELEVATION_MAX_MINUTES: '120' });
    const { requestId } = await elevate();
    const before = (await bot.app.service.findRequest(requestId))!.timeBox!;
    const noReason = await bot.click(ALEX, 'extend', { requestId });
    expect(JSON.stringify(noReason.body)).toContain('Say why');
    const refused = await bot.click(MEGAN, 'extend', { requestId, extendJustification: 'x' });
    expect(JSON.stringify(refused.body)).toContain('Only Alex Wilber');
    await bot.click(ALEX, 'extend', { requestId, extendJustification: 'INC-1 still running' });
    const extended = (await bot.app.service.findRequest(requestId))!.timeBox!;
    expect(Date.parse(extended.endsAt) - Date.parse(before.endsAt)).toBe(60 * 60_000);
    // 30 + 60 = 90 minutes; one more Extend reaches the 120-minute maximum, no further.
    await bot.click(ALEX, 'extend', { requestId, extendJustification: 'INC-1 again' });
    const capped = (await bot.app.service.findRequest(requestId))!.timeBox!;
    expect(capped.endsAt).toBe(capped.latestEnd);
    const atLimit = await bot.click(ALEX, 'extend', { requestId, extendJustification: 'more' });
    expect(JSON.stringify(atLimit.body)).toContain('at most 2 hours');
    expect(auditOf(requestId).filter((e) => e.type === 'extended')).toHaveLength(2);
    // Not removed at the old end.
    expect((await after(31)).events.filter((e) => e.kind === 'ended')).toEqual([]);
    expect(holdsRole()).toBe(true);
  });

  it('a longer duration than allowed is refused with the maximum named', async () => {
    await start({ ELEVATION_MAX_MINUTES: '240' });
    const { calls } = await bot.say(ALEX, 'elevate me in Contoso Dev for 5h');
    expect(cardText(cardOf(calls.at(-1)!.activity))).toContain('4 hours');
  });

  it('`elevations`, `done` and `who is elevated` are refused in a channel (public, no sign-in there)', async () => {
    await start();
    await elevate(ALEX);
    for (const command of ['elevations', 'done', 'who is elevated']) {
      const { calls } = await bot.say(ALEX, command, channel(SECURITY, TEAM));
      const said = String(calls.at(-1)!.activity.text ?? '');
      expect(said).toContain('not in a channel');
      expect(said).not.toContain('Contoso Dev');
    }
    expect(deletes()).toBe(0);
  });

  it('`elevations` lists mine with the time left; `who is elevated` is for bot admins', async () => {
    await start();
    await elevate(ALEX);
    await elevate(MEGAN);
    const mine = await bot.say(MEGAN, 'elevations');
    const list = cardText(cardOf(mine.calls.at(-1)!.activity));
    expect(list).toContain('Contoso Dev');
    expect(list).toContain('left');
    const refused = await bot.say(MEGAN, 'who is elevated');
    expect(cardText(cardOf(refused.calls.at(-1)!.activity))).toContain('administrators');
    const everyone = await bot.say(ALEX, 'who is elevated');
    const text = cardText(cardOf(everyone.calls.at(-1)!.activity));
    expect(text).toContain(ALEX.name);
    expect(text).toContain(MEGAN.name);
    expect(text).toContain('INC-1 time box test');
  });
});
