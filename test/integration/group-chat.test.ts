/**
 * Group chats, over the real bot (issue #11, security defect 2 and answer 3): a display name with
 * Markdown is shown as typed on every card others see; outcomes are told in the third person where
 * others read them (the personal chat keeps "you"); every hint the bot gives there carries the
 * @mention, because Teams delivers only messages that mention the bot in a group chat.
 */
import { markdownTexts, textRuns } from '../support/card-inspection';
import type { ConnectorCall } from '../support/connector-stub';
import {
  actionData,
  ALEX,
  cardOf,
  GROUP_CHAT,
  MEGAN,
  personalChat,
  startTestBot,
  TENANT,
  type Conversation,
  type TestBot,
  type TestUser,
} from '../support/test-bot';

/** A member whose Teams display name is a Markdown link (anyone can set their display name). */
const MALLORY: TestUser = {
  aadObjectId: '9c1d2e3f-4a5b-4c6d-8e7f-0a1b2c3d4e5f',
  name: '[Approve here](https://evil.example/approve) **now**',
  tenantId: TENANT,
};

let bot: TestBot;

beforeAll(async () => {
  bot = await startTestBot({ env: { INVOKE_BUDGET_MS: '10000' } });
});

afterAll(async () => {
  await bot.stop();
});

/** Asks for an elevation and presses Elevate; returns the outcome card and message. */
async function elevate(
  user: TestUser,
  environment: string,
  conversation: Conversation,
): Promise<{ confirmation: unknown; outcomeCard: unknown; message: ConnectorCall }> {
  const asked = await bot.say(user, `elevate me in ${environment}`, conversation);
  const confirmation = cardOf(asked.calls[0]!.activity);
  const requestId = actionData(confirmation, 'elevate')!.requestId as string;
  const click = await bot.click(
    user,
    'elevate',
    { requestId, justification: 'INC-4711' },
    { replyToId: asked.calls[0]!.assignedId, conversation },
  );
  expect(click.status).toBe(200);
  const message = click.calls.find(
    (c) => c.method === 'POST' && String(c.activity.text ?? '').includes('Correlation id:'),
  )!;
  return { confirmation, outcomeCard: cardOf(click.body), message };
}

function rendersNoMarkdownOf(card: unknown, text: string): void {
  expect(markdownTexts(card).join('\n')).not.toContain('evil.example');
  expect(textRuns(card).join('\n')).toContain(text);
}

describe('a display name with Markdown in a group chat', () => {
  it('is shown as typed on the confirmation card, the outcome card and the refusal, never as a link', async () => {
    const { confirmation, outcomeCard, message } = await elevate(
      MALLORY,
      'Contoso Dev',
      GROUP_CHAT,
    );
    // "<name> asks to become ...", "only <name> can confirm", and "Requested by".
    rendersNoMarkdownOf(confirmation, MALLORY.name);
    expect(textRuns(confirmation).join('')).toContain(
      `${MALLORY.name} asks to become System Administrator in Contoso Dev.`,
    );
    expect(textRuns(confirmation).join('')).toContain(`only ${MALLORY.name} can confirm`);
    // The third-person headline names the requester: in a TextRun too.
    rendersNoMarkdownOf(outcomeCard, `${MALLORY.name} is now System Administrator`);
    // The outcome message is plain text: Teams does not read it as Markdown.
    expect(message.activity.textFormat).toBe('plain');

    // Another member pressing Elevate on Mallory's card is told whose it is, in plain text.
    const again = await bot.say(MALLORY, 'elevate me in Contoso Dev', GROUP_CHAT);
    const card = cardOf(again.calls[0]!.activity);
    const refused = await bot.click(
      MEGAN,
      'elevate',
      { requestId: actionData(card, 'elevate')!.requestId, justification: 'x' },
      { conversation: GROUP_CHAT },
    );
    expect(refused.body.type).toBe('application/vnd.microsoft.activity.message');
    expect(refused.body.value).toBe(`Only ${MALLORY.name} can confirm or cancel this request.`);
  });
});

describe('outcomes where others read them', () => {
  it('a group chat reads "Alex Wilber is now System Administrator", on the card and in the message', async () => {
    const { confirmation, outcomeCard, message } = await elevate(ALEX, 'Contoso Dev', GROUP_CHAT);
    expect(textRuns(confirmation).join('')).toContain(
      'Alex Wilber asks to become System Administrator in Contoso Dev.',
    );
    const runs = textRuns(outcomeCard);
    expect(runs[0]).toBe('✅ Elevated: Alex Wilber is now System Administrator');
    expect(runs.join('\n')).toContain(
      'The Power Platform API confirmed that Alex Wilber now holds the System Administrator role in this environment.',
    );
    expect(runs.join('\n')).not.toMatch(/\byou\b/i);
    expect(String(message.activity.text).split('\n')[0]).toBe(
      '✅ Elevated: Alex Wilber is now System Administrator in Contoso Dev.',
    );
  });

  it('a failure in a group chat names the requester too', async () => {
    const { outcomeCard, message } = await elevate(ALEX, 'Fabrikam Security Group', GROUP_CHAT);
    const runs = textRuns(outcomeCard);
    expect(runs[0]).toBe(
      "❌ Elevation failed: Alex Wilber is not in the environment's security group",
    );
    expect(runs.join('\n')).not.toMatch(/\byou\b/i);
    expect(String(message.activity.text)).toContain(
      "Alex Wilber is not in the environment's security group in Fabrikam Security Group.",
    );
  });

  it('the personal chat keeps "you"', async () => {
    // An environment the group chat tests did not elevate Alex in: a role held already is kept.
    const { confirmation, outcomeCard, message } = await elevate(
      ALEX,
      'Litware Developer',
      personalChat(ALEX),
    );
    expect(textRuns(confirmation).join('')).toContain(
      'You are about to make yourself System Administrator in Litware Developer.',
    );
    expect(textRuns(outcomeCard)[0]).toBe('✅ Elevated: you are System Administrator');
    expect(String(message.activity.text).split('\n')[0]).toBe(
      '✅ Elevated: you are System Administrator in Litware Developer.',
    );
  });
});

describe('hints carry the @mention where Teams needs it', () => {
  it('help, "which environment?" and the fallback in a group chat include "@Elevation"', async () => {
    const help = await bot.say(ALEX, 'help', GROUP_CHAT);
    const helpText = String(help.calls[0]!.activity.text);
    expect(helpText).toContain('`@Elevation elevate me in` _environment_');
    expect(helpText).toContain('`@Elevation help`');

    const which = await bot.say(ALEX, 'elevate me', GROUP_CHAT);
    expect(String(which.calls[0]!.activity.text)).toContain(
      'Which environment? Write `@Elevation elevate me in` _environment_',
    );

    const fallback = await bot.say(ALEX, 'make me a sandwich', GROUP_CHAT);
    const runs = textRuns(cardOf(fallback.calls[0]!.activity)).join('\n');
    expect(runs).toContain('“@Elevation help”: this message');
    expect(runs).toContain('“@Elevation elevate me in …”');

    const unknownButton = await bot.click(ALEX, 'no-such-verb', {}, { conversation: GROUP_CHAT });
    expect(unknownButton.body.value).toContain('“@Elevation elevate me in …”');
  });

  it('in the personal chat, where every message reaches the bot, they do not', async () => {
    const help = await bot.say(ALEX, 'help');
    const helpText = String(help.calls[0]!.activity.text);
    expect(helpText).toContain('`elevate me in` _environment_');
    expect(helpText).not.toContain('@Elevation elevate');

    const which = await bot.say(ALEX, 'elevate me');
    expect(String(which.calls[0]!.activity.text)).toContain(
      'Which environment? Write `elevate me in` _environment_',
    );
  });
});
