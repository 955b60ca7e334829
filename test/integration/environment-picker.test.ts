/**
 * Finding the environment the user means, over the real bot, store and simulated API: a partial
 * name never opens Production by itself, every ambiguity is answered with the same picker (buttons,
 * Cancel), a name that matches nothing leads to the `environments` list, a mistyped command
 * suggests the one meant, and hidden bidi and zero-width characters in a name never reach a card.
 */
import {
  defaultSeed,
  guidFrom,
  startPowerPlatformSimulator,
  WELL_KNOWN,
} from '../../src/sandbox/power-platform-simulator';
import {
  actionData,
  ALEX,
  cardOf,
  cardText,
  channel,
  executeActions,
  GROUP_CHAT,
  MEGAN,
  startTestBot,
  type Conversation,
  type TestBot,
  type TestUser,
} from '../support/test-bot';
import { textRuns } from '../support/card-inspection';

const OAUTH_CARD = 'application/vnd.microsoft.card.oauth';
const MESSAGE = 'application/vnd.microsoft.activity.message';
/** Every character the bot must not echo from an environment name. */
const INVISIBLE = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u200b-\u200d\u2060\ufeff]/;

let bot: TestBot;

afterEach(async () => {
  await bot?.stop();
});

/** The card the bot answered a message with (the last activity of the turn). */
async function answerTo(user: TestUser, text: string, conversation?: Conversation) {
  const { calls } = await bot.say(user, text, conversation);
  const last = calls[calls.length - 1];
  return { card: cardOf(last?.activity), activity: last?.activity, messageId: last?.assignedId };
}

function applyAdminRoleCalls(): number {
  return bot.simulator.calls.filter((c) => c.path.includes('/applyAdminRole')).length;
}

/** [title, verb] of every button on the card. */
function buttons(card: unknown): Array<[string | undefined, string | undefined]> {
  return executeActions(card).map((a) => [a.title, a.verb]);
}

describe('a partial name', () => {
  beforeEach(async () => {
    bot = await startTestBot({ env: { BOT_ADMIN_IDS: ALEX.aadObjectId } });
  });

  it('"contoso" (Contoso Prod\'s domain name) lists every Contoso environment instead of opening Production', async () => {
    const { card } = await answerTo(ALEX, 'elevate me in contoso');
    const text = cardText(card);
    expect(text).toContain('Several environments match');
    expect(text).not.toContain('Confirm elevation');
    expect(actionData(card, 'elevate')).toBeUndefined();
    // Ten environments hold "contoso": a list (Production first, as the domain name's own match)
    // with one Continue button, and Cancel.
    const list = (card!.body as Array<Record<string, unknown>>).find(
      (element) => element.type === 'Input.ChoiceSet',
    );
    const offered = (list?.choices as Array<{ title: string; value: string }>).map((c) => c.value);
    expect(offered[0]).toBe(WELL_KNOWN.contosoProd.id);
    const contosos = defaultSeed().filter((e) =>
      /contoso/i.test(`${e.displayName} ${e.domainName}`),
    );
    expect([...offered].sort()).toEqual(contosos.map((e) => e.id).sort());
    expect(buttons(card)).toEqual([
      ['Continue', 'pick'],
      ['Cancel', 'pick-cancel'],
    ]);
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it('picking Production from that list opens its confirmation card, flagged as Production', async () => {
    const { card, messageId } = await answerTo(ALEX, 'elevate me in contoso');
    const picked = await bot.click(
      ALEX,
      'pick',
      { ...actionData(card, 'pick'), environmentId: WELL_KNOWN.contosoProd.id },
      { replyToId: messageId },
    );
    const confirmation = cardText(cardOf(picked.body));
    expect(confirmation).toContain('Confirm elevation');
    expect(confirmation).toContain('This is a Production environment.');
    expect(confirmation).toContain(WELL_KNOWN.contosoProd.id);
  });

  it('a domain name nothing else holds opens its card, which says what it matched', async () => {
    const { card } = await answerTo(ALEX, 'elevate me in org6d1f0e2a');
    expect(cardText(card)).toContain('Confirm elevation');
    expect(textRuns(card).join('')).toContain(
      'Why this environment: it matched the domain name org6d1f0e2a.',
    );
    expect(cardText(card)).toContain(WELL_KNOWN.contosoDefault.id);
  });

  it('the exact display name opens the card with no reason line', async () => {
    const { card } = await answerTo(ALEX, 'elevate me in Contoso Prod');
    expect(cardText(card)).toContain('Confirm elevation');
    expect(cardText(card)).not.toContain('Why this environment');
  });
});

describe('the picker', () => {
  beforeEach(async () => {
    bot = await startTestBot({ env: { BOT_ADMIN_IDS: ALEX.aadObjectId } });
  });

  it('a few candidates get a button each, named after them, with type, region and id beside them', async () => {
    const { card } = await answerTo(ALEX, 'elevate me in contoso test');
    expect(buttons(card)).toEqual([
      ['Cancel', 'pick-cancel'],
      ['Contoso Test', 'pick'],
      ['Contoso-Test', 'pick'],
    ]);
    const runs = textRuns(card);
    expect(runs).toContain(`Sandbox · westus · ${WELL_KNOWN.contosoTest.id}`);
    expect(runs).toContain(`Developer · westeurope · ${WELL_KNOWN.contosoTestHyphen.id}`);
  });

  it('Cancel closes the picker and says so; nothing is requested', async () => {
    const { card, messageId } = await answerTo(ALEX, 'elevate me in contoso test');
    const cancelled = await bot.click(ALEX, 'pick-cancel', actionData(card, 'pick-cancel')!, {
      replyToId: messageId,
    });
    const closed = cardOf(cancelled.body);
    expect(cardText(closed)).toContain('Cancelled');
    expect(cardText(closed)).toContain('nothing was changed');
    expect(executeActions(closed)).toEqual([]);
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it("another member of a group chat cannot close the requester's picker", async () => {
    const { card, messageId } = await answerTo(ALEX, 'elevate me in contoso test', GROUP_CHAT);
    const refused = await bot.click(MEGAN, 'pick-cancel', actionData(card, 'pick-cancel')!, {
      replyToId: messageId,
      conversation: GROUP_CHAT,
    });
    expect(refused.body).toEqual({
      statusCode: 200,
      type: MESSAGE,
      value: 'Only the person who asked can close this list.',
    });
  });

  it('"audit <env>" with several matches gives a button per environment that opens its audit', async () => {
    const { card } = await answerTo(ALEX, 'audit contoso test');
    const audit = executeActions(card).find((a) => a.title === 'Contoso-Test')!;
    expect(audit.verb).toBe('audit-page');
    const opened = await bot.click(ALEX, audit.verb!, audit.data!);
    expect(cardText(cardOf(opened.body))).toContain('Recent elevations in the environment');
    expect(cardText(cardOf(opened.body))).toContain(WELL_KNOWN.contosoTestHyphen.id);
    // The rule is checked again on the click: someone who is not a bot admin is refused.
    const refused = await bot.click(MEGAN, audit.verb!, audit.data!);
    expect(String(refused.body.value)).toContain("Only the bot's administrators");
  });
});

describe('a name that matches nothing', () => {
  beforeEach(async () => {
    bot = await startTestBot({ env: { BOT_ADMIN_IDS: ALEX.aadObjectId } });
  });

  it('near names are offered as "Did you mean", with the environments list', async () => {
    const { card } = await answerTo(ALEX, 'elevate me in Contoso Dve');
    expect(cardText(card)).toContain('Did you mean one of these?');
    expect(cardText(card)).not.toContain('No environment found');
    expect(buttons(card)).toContainEqual(['Contoso Dev', 'pick']);
    expect(buttons(card)).toContainEqual(['Show my environments', 'environments-page']);
  });

  it('no near name: the environments list is offered, and picking from it opens the confirmation card', async () => {
    const { card, messageId } = await answerTo(ALEX, 'elevate me in Zzyzx Lab');
    expect(cardText(card)).toContain('No environment found');
    expect(buttons(card)).toEqual([['Show my environments', 'environments-page']]);

    const list = await bot.click(
      ALEX,
      'environments-page',
      actionData(card, 'environments-page')!,
      {
        replyToId: messageId,
      },
    );
    const page = cardOf(list.body);
    const total = defaultSeed().length;
    expect(cardText(page)).toContain(`Environments you can see: 1–5 of ${total}.`);
    const picks = executeActions(page).filter((a) => a.verb === 'pick');
    expect(picks).toHaveLength(5);
    const first = picks[0]!;
    const picked = await bot.click(ALEX, 'pick', first.data!, { replyToId: messageId });
    const confirmation = cardText(cardOf(picked.body));
    expect(confirmation).toContain('Confirm elevation');
    expect(confirmation).toContain(String(first.data!.environmentId));
  });
});

describe('environments [words]', () => {
  beforeEach(async () => {
    bot = await startTestBot();
  });

  it('lists the environments the user can see, five a page, with Next and Previous', async () => {
    const all = defaultSeed()
      .map((e) => e.displayName)
      .sort(new Intl.Collator('en', { sensitivity: 'base', numeric: true }).compare);
    const { card } = await answerTo(ALEX, 'environments');
    const names = (c: unknown) =>
      executeActions(c)
        .filter((a) => a.verb === 'pick')
        .map((a) => a.title);
    expect(names(card)).toEqual(all.slice(0, 5));
    expect(buttons(card)).toContainEqual(['Next', 'environments-page']);
    expect(buttons(card)).not.toContainEqual(['Previous', 'environments-page']);

    const next = cardOf(
      (await bot.click(ALEX, 'environments-page', actionData(card, 'environments-page')!)).body,
    );
    expect(names(next)).toEqual(all.slice(5, 10));
    const previousData = executeActions(next).find((a) => a.title === 'Previous')!.data!;
    const back = cardOf((await bot.click(ALEX, 'environments-page', previousData)).body);
    expect(names(back)).toEqual(all.slice(0, 5));
  });

  it('words narrow the list; each button elevates only for the person who asked', async () => {
    const { card } = await answerTo(ALEX, 'environments woodgrove', GROUP_CHAT);
    expect(cardText(card)).toContain('Environments you can see matching "woodgrove": 1–2 of 2.');
    const picks = executeActions(card).filter((a) => a.verb === 'pick');
    expect(picks.map((a) => a.title)).toEqual(['Woodgrove Finance', 'Woodgrove Finance Test']);
    const refused = await bot.click(MEGAN, 'pick', picks[0]!.data!, { conversation: GROUP_CHAT });
    expect(String(refused.body.value)).toContain('Only the person who asked');
    const mine = await bot.click(ALEX, 'pick', picks[0]!.data!, { conversation: GROUP_CHAT });
    expect(cardText(cardOf(mine.body))).toContain('Confirm elevation');
  });

  it('words that match nothing say so and offer the whole list', async () => {
    const { card } = await answerTo(ALEX, 'environments zzyzx');
    expect(cardText(card)).toContain('No environment you can see matches "zzyzx".');
    expect(buttons(card)).toEqual([['Show my environments', 'environments-page']]);
  });

  it('is refused in a channel, where sign-in does not work', async () => {
    const { activity } = await answerTo(
      ALEX,
      'environments',
      channel('19:general@thread.tacv2', '19:team@thread.tacv2'),
    );
    expect(String(activity?.text)).toContain('not in a channel');
  });
});

describe('environments needs the sign-in, like elevation', () => {
  it('without a sign-in the bot asks Teams for it, and the list comes once it arrives', async () => {
    bot = await startTestBot({ signIn: 'teams' });
    const { calls } = await bot.say(ALEX, 'environments contoso');
    const oauth = (
      calls[0]!.activity.attachments as Array<{
        contentType: string;
        content: { tokenExchangeResource: { id: string } };
      }>
    ).find((a) => a.contentType === OAUTH_CARD)!;
    const token = await bot.identity.identityProvider.mintSsoToken({
      oid: ALEX.aadObjectId,
      tid: ALEX.tenantId,
      name: ALEX.name,
    });
    const exchange = await bot.invoke(ALEX, 'signin/tokenExchange', {
      id: oauth.content.tokenExchangeResource.id,
      token,
    });
    const list = exchange.calls.map((c) => cardOf(c.activity)).find(Boolean);
    expect(cardText(list)).toContain('Environments you can see matching "contoso"');
  });
});

describe('a mistyped command', () => {
  beforeEach(async () => {
    bot = await startTestBot();
  });

  it('"elevat me in Contoso Dev" suggests the elevation, with a button that sends it, instead of the whole help', async () => {
    const { card } = await answerTo(ALEX, 'elevat me in Contoso Dev');
    const text = cardText(card);
    expect(text).toContain('Did you mean this?');
    expect(textRuns(card)).toContain('elevate me in Contoso Dev');
    expect(text).not.toContain('history');
    expect(buttons(card)).toEqual([['Yes, elevate me', 'run-suggestion']]);

    // The button opens the confirmation card in its place, for the person who typed it only.
    const data = actionData(card, 'run-suggestion')!;
    const refused = await bot.click(MEGAN, 'run-suggestion', data);
    expect(String(refused.body.value)).toContain('Only the person who wrote this');
    const opened = await bot.click(ALEX, 'run-suggestion', data);
    expect(cardText(cardOf(opened.body))).toContain('Confirm elevation');
    expect(cardText(cardOf(opened.body))).toContain(WELL_KNOWN.contosoDev.id);
    // Forged text cannot make the button do anything but an elevation.
    const forged = await bot.click(ALEX, 'run-suggestion', { ...data, text: 'notify off' });
    expect(String(forged.body.value)).toContain('no longer works');
    expect(applyAdminRoleCalls()).toBe(0);
  });

  it.each([
    ['hepl', 'help'],
    ['histroy', 'history'],
    ['notfy here', 'notify here'],
  ])('%j suggests %j, without a button', async (typed, meant) => {
    const { card } = await answerTo(ALEX, typed);
    expect(textRuns(card)).toContain(meant);
    expect((card as { actions: unknown[] }).actions).toEqual([]);
  });
});

describe('a hostile environment name', () => {
  const HOSTILE_ID = guidFrom('hostile environment');
  /** Shows as "Contoso Dev" with a reversed tail and invisible joiners, if echoed as is. */
  const HOSTILE_NAME = 'Hostile\u200b \u202eveD osotnoC\u202c\u2066 Lab\u2069\u200f\ufeff\u2060';

  it('reaches no card, reply or list with its bidi controls or zero-width characters', async () => {
    const seed = defaultSeed();
    seed.push({
      ...seed[1]!,
      id: HOSTILE_ID,
      displayName: HOSTILE_NAME,
      url: 'https://hostile.crm.dynamics.com/',
      domainName: 'hostile',
    });
    const simulator = await startPowerPlatformSimulator({ seed });
    try {
      bot = await startTestBot({ simulator });
      const asked = await answerTo(ALEX, `elevate me in ${HOSTILE_ID}`);
      const confirmation = JSON.stringify(asked.card);
      expect(confirmation).toContain('Hostile veD osotnoC Lab');
      expect(confirmation).not.toMatch(INVISIBLE);

      const requestId = actionData(asked.card, 'elevate')!.requestId;
      const done = await bot.click(
        ALEX,
        'elevate',
        { requestId, justification: 'x' },
        { replyToId: asked.messageId },
      );
      expect(cardText(cardOf(done.body))).toContain('Hostile veD osotnoC Lab');
      expect(JSON.stringify(done.body)).not.toMatch(INVISIBLE);
      const outcome = done.calls.map((c) => String(c.activity.text ?? '')).join('\n');
      expect(outcome).toContain('Hostile veD osotnoC Lab');
      expect(outcome).not.toMatch(INVISIBLE);

      const listed = await answerTo(ALEX, 'environments hostile');
      expect(executeActions(listed.card).map((a) => a.title)).toContain('Hostile veD osotnoC Lab');
      expect(JSON.stringify(listed.card)).not.toMatch(INVISIBLE);
    } finally {
      await bot.stop();
      bot = undefined as unknown as TestBot;
      await simulator.stop();
    }
  });
});
