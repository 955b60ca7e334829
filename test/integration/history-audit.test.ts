/**
 * `history` (your own elevations) and `audit <environment>` (everyone's, for the bot's
 * administrators), as paged cards, over the real bot and store.
 */
import { WELL_KNOWN } from '../../src/sandbox/power-platform-simulator/seed';
import {
  actionData,
  executeActions,
  ALEX,
  cardOf,
  cardText,
  GROUP_CHAT,
  MEGAN,
  startTestBot,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { auditEvents } from '../support/store-rows';

let bot: TestBot;

beforeEach(async () => {
  // Cards valid for an hour: the tests let half an hour pass between asking and elevating.
  bot = await startTestBot({ env: { BOT_ADMIN_IDS: ALEX.aadObjectId, REQUEST_TTL_MINUTES: '60' } });
});

afterEach(async () => {
  await bot.stop();
});

async function elevate(user: TestUser, environment: string, justification: string): Promise<void> {
  const asked = await bot.say(user, `elevate me in ${environment}`);
  const requestId = actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId;
  await bot.click(user, 'elevate', { requestId, justification });
}

/** Opens a request (the confirmation card); its id. */
async function open(user: TestUser, environment: string): Promise<string> {
  const asked = await bot.say(user, `elevate me in ${environment}`);
  return actionData(cardOf(asked.calls[0]!.activity), 'elevate')!.requestId as string;
}

const MINUTE = 60_000;

/** As history and audit cards write a time. */
function readableTime(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** The titles of a card's buttons. */
function buttons(card: unknown): string[] {
  return ((card as { actions?: Array<{ title: string }> }).actions ?? []).map((a) => a.title);
}

/** The data of the card's button with this title. */
function button(card: unknown, title: string): Record<string, unknown> {
  const actions = (card as { actions?: Array<{ title: string; data: Record<string, unknown> }> })
    .actions;
  return actions!.find((a) => a.title === title)!.data;
}

/** The card the bot answered a message with. */
async function ask(user: TestUser, text: string, conversation?: typeof GROUP_CHAT) {
  const { calls } = await bot.say(user, text, conversation);
  return calls[calls.length - 1]!.activity;
}

describe('history', () => {
  it('shows your own elevations, newest first, five at a time', async () => {
    for (let i = 1; i <= 7; i += 1) await elevate(ALEX, 'Contoso Dev', `alex ${i}`);
    await elevate(MEGAN, 'Contoso Dev', 'megan 1');

    const first = cardOf(await ask(ALEX, 'history'))!;
    const text = cardText(first);
    expect(text).toContain('Your recent elevations');
    expect(text.match(/Justification: alex \d/g)).toEqual([
      'Justification: alex 7',
      'Justification: alex 6',
      'Justification: alex 5',
      'Justification: alex 4',
      'Justification: alex 3',
    ]);
    expect(text).not.toContain('megan');
    expect(text).toContain('Correlation id:');
    expect(text).toContain(WELL_KNOWN.contosoDev.id);

    const more = actionData(first, 'history-page')!;
    const older = await bot.click(ALEX, 'history-page', more);
    const olderText = cardText(cardOf(older.body));
    expect(olderText.match(/Justification: alex \d/g)).toEqual([
      'Justification: alex 2',
      'Justification: alex 1',
    ]);
    // The last page has no Older, and its Newer goes back to the five before it.
    expect(buttons(cardOf(older.body))).toEqual(['Newer']);
    const newer = await bot.click(ALEX, 'history-page', button(cardOf(older.body), 'Newer'));
    expect(cardText(cardOf(newer.body)).match(/Justification: alex \d/g)).toEqual([
      'Justification: alex 7',
      'Justification: alex 6',
      'Justification: alex 5',
      'Justification: alex 4',
      'Justification: alex 3',
    ]);
    expect(buttons(cardOf(newer.body))).toEqual(['Older']);
  });

  it('lists by when each request came to its outcome, and shows that time', async () => {
    // Asked for Dev first and Prod second; Prod ran first, Dev half an hour later.
    const dev = await open(ALEX, 'Contoso Dev');
    const asked = readableTime(bot.clock.now());
    const prod = await open(ALEX, 'Contoso Prod');
    await bot.click(ALEX, 'elevate', { requestId: prod, justification: 'prod first' });
    bot.clock.advance(30 * MINUTE);
    await bot.click(ALEX, 'elevate', { requestId: dev, justification: 'dev later' });
    const ran = readableTime(new Date((await bot.app.store.findRequest(dev))!.updatedAt));

    const text = cardText(cardOf(await ask(ALEX, 'history')));
    expect(text.match(/Justification: [a-z ]+/g)).toEqual([
      'Justification: dev later',
      'Justification: prod first',
    ]);
    expect(text).toContain(ran);
    expect(text.split(ran)).toHaveLength(2); // Dev's line; Prod ran at the time it was asked
    expect(asked).not.toBe(ran);
  });

  it("someone else pressing Older sees their own history, never the card owner's", async () => {
    for (let i = 1; i <= 6; i += 1) await elevate(ALEX, 'Contoso Dev', `alex ${i}`);
    await elevate(MEGAN, 'Contoso Prod', 'megan only');
    const more = actionData(cardOf(await ask(ALEX, 'history')), 'history-page')!;
    const click = await bot.click(MEGAN, 'history-page', more);
    const text = cardText(cardOf(click.body));
    expect(text).not.toContain('alex');
    expect(text).toContain('Nothing older');
  });

  it('is only shown in the personal chat', async () => {
    await elevate(ALEX, 'Contoso Dev', 'alex');
    const answer = await ask(ALEX, 'history', GROUP_CHAT);
    expect(String(answer.text)).toContain('personal chat only');
    expect(cardOf(answer)).toBeUndefined();
  });

  it('says so when there is nothing yet', async () => {
    expect(cardText(cardOf(await ask(MEGAN, 'history')))).toContain(
      'You have not asked me for any elevation yet.',
    );
  });
});

describe('audit <environment>', () => {
  it("a bot administrator sees everyone's elevations in that environment, newest first, paged", async () => {
    await elevate(MEGAN, 'Contoso Dev', 'megan dev');
    await elevate(ALEX, 'Contoso Prod', 'alex prod');
    for (let i = 1; i <= 5; i += 1) await elevate(ALEX, 'Contoso Dev', `alex dev ${i}`);

    const card = cardOf(await ask(ALEX, 'audit Contoso Dev'))!;
    const text = cardText(card);
    expect(text).toContain('Recent elevations in the environment');
    expect(text).toContain(`Contoso Dev (${WELL_KNOWN.contosoDev.id})`);
    expect(text.match(/Justification: [a-z ]+\d?/g)).toEqual([
      'Justification: alex dev 5',
      'Justification: alex dev 4',
      'Justification: alex dev 3',
      'Justification: alex dev 2',
      'Justification: alex dev 1',
    ]);
    expect(text).toContain('Alex Wilber');
    expect(text).not.toContain('alex prod');
    // Third person: someone else's outcome does not say "you".
    expect(text).not.toMatch(/you are System Administrator/);

    const older = await bot.click(ALEX, 'audit-page', actionData(card, 'audit-page')!);
    const olderText = cardText(cardOf(older.body));
    expect(olderText).toContain('megan dev');
    expect(olderText).toContain('Megan Bowen');
  });

  it('lists outcomes only, by outcome time; requests still waiting are left out', async () => {
    const first = await open(MEGAN, 'Contoso Dev');
    await open(ALEX, 'Contoso Dev'); // still waiting for Elevate
    const cancelled = await open(ALEX, 'Contoso Prod');
    await bot.click(ALEX, 'cancel', { requestId: cancelled });
    await elevate(ALEX, WELL_KNOWN.contosoTestHyphen.id, 'elsewhere');
    bot.clock.advance(30 * MINUTE);
    await bot.click(MEGAN, 'elevate', { requestId: first, justification: 'megan ran last' });

    const text = cardText(cardOf(await ask(ALEX, 'audit Contoso Dev')));
    expect(text.match(/Justification: [a-z ]+/g)).toEqual(['Justification: megan ran last']);
    expect(text).not.toContain('Waiting for confirmation');
    expect(text).toContain(
      readableTime(new Date((await bot.app.store.findRequest(first))!.updatedAt)),
    );
  });

  it('anyone else is refused, and the attempt is audited; the Older button re-checks', async () => {
    await elevate(ALEX, 'Contoso Dev', 'alex dev');
    const refused = await ask(MEGAN, 'audit Contoso Dev');
    expect(cardText(cardOf(refused))).toContain('you are not one of them');
    expect(cardText(cardOf(refused))).not.toContain('alex dev');

    const page = await bot.click(MEGAN, 'audit-page', {
      environmentId: WELL_KNOWN.contosoDev.id,
      before: '9999',
    });
    expect(JSON.stringify(page.body)).toContain("Only the bot's administrators");
    expect(JSON.stringify(page.body)).not.toContain('alex dev');

    const refusals = auditEvents(bot).filter(
      (e) => e.type === 'refused' && e.actor === MEGAN.aadObjectId,
    );
    expect(refusals.map((e) => e.details)).toEqual([
      { reason: 'not-bot-admin', command: 'audit' },
      { reason: 'not-bot-admin', command: 'audit' },
    ]);
  });

  it('an ambiguous name offers a button per candidate that opens its audit, never a request', async () => {
    const answer = cardOf(await ask(ALEX, 'audit contoso test'))!;
    const text = cardText(answer);
    expect(text).toContain('Several environments match');
    expect(text).toContain(WELL_KNOWN.contosoTest.id);
    expect(text).toContain(WELL_KNOWN.contosoTestHyphen.id);
    expect(text).not.toMatch(/audit <environment id>|copy/i);
    expect(executeActions(answer).map((a) => [a.title, a.verb, a.data?.environmentId])).toEqual([
      ['Cancel', 'pick-cancel', undefined],
      ['Contoso Test', 'audit-page', WELL_KNOWN.contosoTest.id],
      ['Contoso-Test', 'audit-page', WELL_KNOWN.contosoTestHyphen.id],
    ]);
  });

  it('needs an environment', async () => {
    expect(String((await ask(ALEX, 'audit')).text)).toContain('Which environment?');
  });
});
