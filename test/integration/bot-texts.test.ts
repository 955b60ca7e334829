/**
 * Issue #11, answer 5: `&lt;environment&gt;`, raw backticks and dashes showed in help, in the
 * fallback answer and on audit cards. Every text the bot sends in a tour of its commands (personal
 * chat, group chat, channel; messages, cards, answers to button presses) is read here the way it
 * is shown: text shown as plain text (card TextRuns, plain messages, invoke messages, button and
 * input labels) must hold no entity and no Markdown (backticks, a leading "- ", "**"); text sent as
 * Markdown (messages, TextBlocks) must hold no raw `<...>` (Teams shows it escaped) and no entity.
 */
import { SANDBOX_USERS } from '../../src/sandbox/directory';
import type { ConnectorCall } from '../support/connector-stub';
import {
  actionData,
  ALEX,
  cardOf,
  channel,
  type Conversation,
  GROUP_CHAT,
  MEGAN,
  personalChat,
  startTestBot,
  TENANT,
  type TestBot,
  type TestUser,
} from '../support/test-bot';

const TEAM = '19:team@thread.tacv2';
const GENERAL = channel('19:general@thread.tacv2', TEAM);
const ISAIAH: TestUser = {
  aadObjectId: SANDBOX_USERS.find((u) => u.name === 'Isaiah Langer')!.oid,
  name: 'Isaiah Langer',
  tenantId: TENANT,
};

/** One text the bot sent, and how it is shown. */
interface Shown {
  where: string;
  text: string;
  as: 'plain' | 'markdown';
}

const ENTITY = /&(?:[a-z]+|#\d+|#x[0-9a-f]+);/i;

function problemsOf({ text, as }: Shown): string[] {
  const problems: string[] = [];
  if (ENTITY.test(text)) problems.push('a visible entity');
  if (as === 'markdown') {
    if (/<[^<>\s][^<>]*>/.test(text)) problems.push('a raw <...> in Markdown');
    return problems;
  }
  if (text.includes('`')) problems.push('a backtick');
  if (/^\s*- /m.test(text)) problems.push('a leading "- "');
  if (text.includes('**')) problems.push('"**"');
  return problems;
}

/** Every piece of text a card shows, with how the renderer treats it. */
function cardTexts(card: unknown, where: string, out: Shown[]): void {
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (!node || typeof node !== 'object') return;
    const element = node as Record<string, unknown>;
    const type = String(element.type ?? '');
    const add = (text: unknown, as: Shown['as']) => {
      if (typeof text === 'string' && text !== '')
        out.push({ where: `${where} ${type}`, text, as });
    };
    if (type === 'TextRun') add(element.text, 'plain');
    if (type === 'TextBlock') add(element.text, 'markdown');
    if (type.startsWith('Action.')) add(element.title, 'plain');
    if (type.startsWith('Input.')) {
      add(element.label, 'plain');
      add(element.placeholder, 'plain');
      add(element.errorMessage, 'plain');
    }
    if (type === 'Input.ChoiceSet') {
      for (const choice of (element.choices as Array<{ title?: string }>) ?? [])
        add(choice.title, 'plain');
    }
    for (const [key, child] of Object.entries(element)) {
      if (key !== 'data' && typeof child === 'object') walk(child);
    }
  };
  walk(card);
}

function textsOfCall(call: ConnectorCall, where: string, out: Shown[]): void {
  const activity = call.activity as {
    text?: string;
    textFormat?: string;
    attachments?: Array<{ contentType: string; content: { text?: string; buttons?: unknown } }>;
  };
  if (typeof activity.text === 'string' && activity.text !== '') {
    out.push({
      where,
      text: activity.text,
      as: activity.textFormat === 'plain' ? 'plain' : 'markdown',
    });
  }
  for (const attachment of activity.attachments ?? []) {
    if (attachment.contentType === 'application/vnd.microsoft.card.adaptive')
      cardTexts(attachment.content, where, out);
    else if (typeof attachment.content.text === 'string')
      out.push({
        where: `${where} (${attachment.contentType})`,
        text: attachment.content.text,
        as: 'plain',
      });
  }
}

let bot: TestBot;
const shown: Shown[] = [];

async function say(
  user: TestUser,
  text: string,
  conversation: Conversation,
): Promise<ConnectorCall[]> {
  const { calls } = await bot.say(user, text, conversation);
  for (const call of calls)
    textsOfCall(call, `"${text}" in ${conversation.conversationType}`, shown);
  return calls;
}

async function click(
  user: TestUser,
  verb: string,
  data: Record<string, unknown>,
  conversation: Conversation,
  replyToId?: string,
): Promise<void> {
  const { body, calls } = await bot.click(user, verb, data, { conversation, replyToId });
  const where = `press ${verb} in ${conversation.conversationType}`;
  if (body.type === 'application/vnd.microsoft.activity.message')
    shown.push({ where, text: String(body.value), as: 'plain' });
  const card = cardOf(body);
  if (card) cardTexts(card, where, shown);
  for (const call of calls) textsOfCall(call, where, shown);
}

beforeAll(async () => {
  bot = await startTestBot({
    env: { BOT_ADMIN_IDS: ALEX.aadObjectId, INVOKE_BUDGET_MS: '10000' },
  });
  for (const conversation of [personalChat(ALEX), GROUP_CHAT]) {
    for (const text of [
      'help',
      'elevate me',
      'elevate me in',
      'audit',
      'make me a sandwich',
      'x'.repeat(3000),
      'history',
      'notify here',
      'audit contoso',
      'audit Contoso Dev',
      'elevate me in Contoso Dve',
      'elevate me in contoso test',
    ]) {
      await say(ALEX, text, conversation);
    }
    await say(MEGAN, 'audit Contoso Dev', conversation);
    await say(ISAIAH, 'elevate me in Contoso Dev', conversation);
    await click(ALEX, 'no-such-verb', {}, conversation);
    await click(ALEX, 'elevate', { requestId: 'no-such-request' }, conversation);
    // Elevate, a failure (with Try again), and Cancel.
    for (const environment of ['Contoso Dev', 'Fabrikam Security Group', 'Fabrikam Proxy Error']) {
      const [asked] = await say(ALEX, `elevate me in ${environment}`, conversation);
      const requestId = actionData(cardOf(asked!.activity), 'elevate')!.requestId;
      await click(MEGAN, 'elevate', { requestId, justification: 'x' }, conversation);
      await click(
        ALEX,
        'elevate',
        { requestId, justification: '' },
        conversation,
        asked!.assignedId,
      );
      await click(
        ALEX,
        'elevate',
        { requestId, justification: 'INC-1' },
        conversation,
        asked!.assignedId,
      );
      await click(MEGAN, 'try-again', { requestId }, conversation);
      await click(ALEX, 'try-again', { requestId }, conversation, asked!.assignedId);
    }
    const [asked] = await say(ALEX, 'elevate me in Contoso Dev', conversation);
    const requestId = actionData(cardOf(asked!.activity), 'elevate')!.requestId;
    await click(ALEX, 'cancel', { requestId }, conversation, asked!.assignedId);
  }
  for (const text of [
    'help',
    'make me a sandwich',
    'elevate me in Contoso Dev',
    'audit Contoso Dev',
    'notify status',
    'notify here for',
    'notify here for prod',
    'notify here for produktion',
    'notify here',
    'notify status',
    'notify off',
    'notify off',
  ]) {
    await say(ALEX, `<at>Elevation</at> ${text}`, GENERAL);
  }
  await say(MEGAN, '<at>Elevation</at> notify here', GENERAL);
  await say(MEGAN, '<at>Elevation</at> notify status', GENERAL);
}, 240_000);

afterAll(async () => {
  await bot.stop();
});

describe('every text the bot sends renders clean where it is shown', () => {
  it('the tour reached help, the fallback, audit and outcome cards, in every kind of conversation', () => {
    const all = shown.map((s) => s.text).join('\n');
    expect(shown.length).toBeGreaterThan(100);
    for (const words of [
      'I make Power Platform tenant admins',
      'I did not understand that',
      'Recent elevations in the environment',
      'Elevated:',
      'Elevation failed',
      'Try again',
      'Subscribed',
      'Sorry, you cannot do that',
    ]) {
      expect(all).toContain(words);
    }
  });

  it('no visible entity, no stray Markdown in plain text, no raw <...> in Markdown', () => {
    const bad = shown
      .map((s) => ({ ...s, problems: problemsOf(s) }))
      .filter((s) => s.problems.length > 0)
      .map((s) => `${s.where} [${s.as}] ${s.problems.join(', ')}: ${JSON.stringify(s.text)}`);
    expect(bad).toEqual([]);
  });
});
